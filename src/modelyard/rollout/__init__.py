"""modelyard.rollout."""
