"""modelyard.platform."""
