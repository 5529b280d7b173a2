"""Decision logic: from a custom resource and what NeMo reports now to the next status.

Nothing here imports kopf, httpx or kubernetes; I/O goes through the small ports in `ports`.
"""
