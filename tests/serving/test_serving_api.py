"""The public API of modelyard.serving is pinned: others code against it."""

from __future__ import annotations

import modelyard.serving as serving


def test_public_api_is_pinned():
    assert sorted(serving.__all__) == [
        "BatchingOptions", "BreakerOptions", "ModelRuntime", "ModelSource",
        "PredictionLogOptions", "RateLimitOptions", "Runtime", "ServerOptions", "Signature",
        "TensorSpec",
        "create_app", "run_server", "runtime_for",
    ]  # fmt: skip


def test_options_from_deploy_spec(tmp_path):
    from modelyard.config import DeploySpec

    spec = DeploySpec.model_validate(
        {"batching": {"max_batch_size": 8}, "rate_limit": {"rps": 5, "per_client": "x-client"}}
    )
    opts = serving.ServerOptions.from_deploy(spec, admin_token="t", prediction_log_dir=tmp_path)
    assert opts.batching.max_batch_size == 8
    assert opts.rate_limit.rps == 5
    assert opts.rate_limit.per_client == "x-client"
    assert opts.prediction_log.directory == tmp_path
    assert opts.admin_token == "t"
    assert opts.breaker.max_in_flight == 256
