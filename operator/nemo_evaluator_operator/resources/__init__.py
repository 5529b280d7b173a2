"""The only layer that talks to the Kubernetes API (besides kopf's own machinery)."""

from .kube import KubeResources, load_api_client

__all__ = ["KubeResources", "load_api_client"]
