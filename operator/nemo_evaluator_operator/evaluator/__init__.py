"""NeMo evaluator clients and adapters: HTTP and the two APIs, nothing about Kubernetes.

The reconcilers depend only on `port.EvaluatorPort`; `v1` and `helix` implement it, and
`selection` picks one from the setting or by probing the URL.
"""
