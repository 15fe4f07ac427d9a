"""The Kubernetes backend: render, server-side apply, Argo Rollouts, the training Job.

Reaches the cluster only through :class:`~modelyard.k8s.cluster.Cluster` (the lightkube
adapter :mod:`modelyard.k8s.kube` in real use, :class:`~modelyard.k8s.InMemoryCluster` in
tests and for a dry run without a cluster).
"""

from modelyard.backends.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]
