"""Fault suite: NeMo errors, outages and restarts while EvalJobs run; nothing lost."""
