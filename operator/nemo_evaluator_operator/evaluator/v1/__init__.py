"""The NeMo Microservices v1 adapter (`/v1/evaluation/configs|jobs`)."""
