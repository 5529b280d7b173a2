"""The engine: keeps every EvalJob and Benchmark moving, one path per object at a time.

kopf only feeds it watch events (handlers/); the engine indexes the objects, runs one step per
object at a time through a work queue, polls all active EvalJobs with one batched observation
per interval, and deletes with a time budget. It reads and writes Kubernetes through
resources/ and the evaluator through the port; decisions stay in reconcile/.
"""
