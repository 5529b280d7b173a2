"""`kubectl nemo-eval`: read EvalJob results, compare runs, rerun and explain them.

A kubectl plugin, installed with the operator's package as the `kubectl-nemo_eval` script.
It needs only the Kubernetes client and the operator's pure, stdlib-only helpers (names and
score extraction), so it also ships as one platform-independent zipapp for Krew.
"""

__all__: list[str] = []
