"""modelyard.jobs."""
