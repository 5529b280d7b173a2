"""kopf entry module: importing it registers every handler.

Use as `kopf run -m nemo_evaluator_operator.main`.
"""

from . import handlers

__all__ = ["handlers"]
