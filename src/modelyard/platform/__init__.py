"""Platform: the workflows that tie the capabilities together (train, serve) and the
backends that run them."""

from modelyard.platform.training import GateResult, TrainResult, check_gate, parse_params, train

__all__ = ["GateResult", "TrainResult", "check_gate", "parse_params", "train"]
