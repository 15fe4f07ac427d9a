"""modelyard.runtimes."""
