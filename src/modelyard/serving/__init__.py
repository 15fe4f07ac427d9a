"""modelyard.serving."""
