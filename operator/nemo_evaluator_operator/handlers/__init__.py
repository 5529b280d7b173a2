"""kopf handlers: the only package that imports kopf. Importing it registers every handler."""

from . import benchmark, evaljob, lifecycle

__all__ = ["benchmark", "evaljob", "lifecycle"]
