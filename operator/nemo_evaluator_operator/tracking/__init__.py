"""Export of finished EvalJobs to experiment trackers; knows nothing of Kubernetes."""
