"""modelyard.k8s."""
