"""An HTTP fault proxy: forwards every request to an upstream server and injects faults.

Put it in front of a server you do not control (NeMo Helix, NeMo Evaluator) to test how a client
handles error answers, slow answers, timeouts, dropped connections, lost answers and outages.
See README.md in this directory.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
