"""Kafka settings: refused where incomplete (naming the file and field), carried into a
server's launch spec, and credentials read from files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import load_workspace
from modelyard.errors import ConfigError
from modelyard.serving.options import PredictionLogOptions, ServerOptions
from modelyard.serving.process.launch import LaunchSpec, read_spec, write_spec
from modelyard.streams import KafkaEndpoint
from modelyard.workflows.serve import options_for


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n" + text)


def test_a_kafka_sink_needs_a_topic(workspace_dir: Path) -> None:
    _append(workspace_dir / "models" / "ctr" / "deploy.yaml", "prediction_log:\n  sink: kafka\n")
    with pytest.raises(ConfigError, match=r"deploy\.yaml:\d+.*needs a topic"):
        load_workspace(workspace_dir)


def test_sasl_needs_both_credential_files(workspace_dir: Path) -> None:
    _append(
        workspace_dir / "modelyard.yaml",
        "kafka:\n  bootstrap_servers: 'b:9092'\n  security_protocol: sasl_ssl\n",
    )
    with pytest.raises(ConfigError, match=r"modelyard\.yaml:\d+.*username_file and password_file"):
        load_workspace(workspace_dir)


def test_a_kafka_sink_without_brokers_is_refused_before_serving(workspace_dir: Path) -> None:
    _append(
        workspace_dir / "models" / "ctr" / "deploy.yaml",
        "prediction_log:\n  sink: kafka\n  topic: preds\n",
    )
    ws = load_workspace(workspace_dir)
    with pytest.raises(ConfigError, match="has no kafka section"):
        options_for(ws, ws.model("ctr"))


def test_the_sink_settings_survive_the_launch_spec(tmp_path: Path) -> None:
    endpoint = KafkaEndpoint("b1:9092,b2:9092", "sasl_ssl", "SCRAM-SHA-256", "/s/u", "/s/p")
    options = ServerOptions(
        prediction_log=PredictionLogOptions(
            directory=tmp_path / "log", sink="kafka", topic="preds", outcomes_topic="outs",
            delivery_timeout_s=2.5, kafka=endpoint,
        )
    )  # fmt: skip
    spec = LaunchSpec(cache_dir=tmp_path, model="ctr", version=1, options=options)
    assert read_spec(write_spec(spec, tmp_path / "spec.json")) == spec


def test_credentials_are_read_from_their_files(tmp_path: Path) -> None:
    (tmp_path / "user").write_text("svc\n")
    (tmp_path / "pass").write_text("hunter2\n")
    endpoint = KafkaEndpoint(
        "b:9092", "sasl_plaintext", "PLAIN", str(tmp_path / "user"), str(tmp_path / "pass")
    )
    config = endpoint.client_config()
    assert (config["sasl.username"], config["sasl.password"]) == ("svc", "hunter2")
    missing = KafkaEndpoint("b:9092", "sasl_plaintext", "PLAIN", str(tmp_path / "nope"), "/x")
    with pytest.raises(ConfigError, match=r"kafka\.username_file .*nope.* cannot be read"):
        missing.client_config()


def test_the_streams_api() -> None:
    import modelyard.streams

    assert sorted(modelyard.streams.__all__) == [
        "KafkaEndpoint", "KafkaUnavailable", "OffsetStore", "PREDICTION_SCHEMA", "SCHEMA_VERSION",
        "TopicMessage", "encode_prediction", "read_topic", "topic_uri",
    ]  # fmt: skip
