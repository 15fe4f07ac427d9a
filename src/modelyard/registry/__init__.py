"""modelyard.registry."""
