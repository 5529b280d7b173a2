"""The NeMo Helix Evals adapter (`/apis/evals/v2/workspaces/{workspace}/...`)."""
