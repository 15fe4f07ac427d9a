"""Rendering with Kafka: training pods may reach the brokers, and the pods read the SASL
credentials from the mounted credentials secret, never from the ConfigMap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from zoo_versions import pins

from modelyard.config import load_workspace
from modelyard.k8s import all_objects, render_workspace
from modelyard.k8s.security import CREDENTIALS_DIR

SECRET = "s3cr3t-kafka-pass"


def _render(root: Path, servers: str) -> list[dict[str, Any]]:
    """The zoo workspace (``zoo_dir``) with a ``kafka`` section that logs in with SASL."""
    (root / "pw").write_text(SECRET)
    (root / "user").write_text("svc-modelyard")
    kafka = {
        "bootstrap_servers": servers,
        "security_protocol": "sasl_ssl",
        "sasl_mechanism": "SCRAM-SHA-512",
        "username_file": str(root / "user"),
        "password_file": str(root / "pw"),
    }
    settings = yaml.safe_load((root / "modelyard.yaml").read_text())
    (root / "modelyard.yaml").write_text(yaml.safe_dump({**settings, "kafka": kafka}))
    ws = load_workspace(root, env={})
    rendered = render_workspace(ws, versions=pins(ws.models))
    return [*all_objects(rendered), *(m.job for m in rendered if m.job is not None)]


def test_training_pods_may_reach_the_bootstrap_servers(zoo_dir: Path) -> None:
    objects = _render(zoo_dir, "kafka.streaming.svc:9092,10.1.2.3:9093")
    policy = next(o for o in objects if o["metadata"]["name"] == "nightly-training")
    egress = policy["spec"]["egress"]
    streaming = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "streaming"}}}
    assert {"to": [streaming]} in egress
    assert {
        "to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
        "ports": [{"protocol": "TCP", "port": 9093}],
    } in egress


def test_pods_read_kafka_credentials_from_the_mounted_secret(zoo_dir: Path) -> None:
    objects = _render(zoo_dir, "broker.example.com:9092")
    assert SECRET not in yaml.safe_dump(objects)
    configmap = next(
        o for o in objects if o["kind"] == "ConfigMap" and "modelyard.yaml" in o["data"]
    )
    kafka = yaml.safe_load(configmap["data"]["modelyard.yaml"])["kafka"]
    assert kafka["username_file"] == f"{CREDENTIALS_DIR}/kafka-username"
    assert kafka["password_file"] == f"{CREDENTIALS_DIR}/kafka-password"
    assert kafka["bootstrap_servers"] == "broker.example.com:9092"
    server = next(o for o in objects if o["kind"] in ("Rollout", "Deployment"))
    mounts = server["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True} in mounts
