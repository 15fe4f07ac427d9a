"""modelyard.capacity."""
