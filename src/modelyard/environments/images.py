"""The image of a runtime, as pure functions: its base, its Containerfile, its requirements and
its tag.

The tag is ``<registry>/<runtime>:<python>-<hash12>``, where the hash covers what the runtime
spec decides: the base reference, the Containerfile text, the requirements as written, the
Python version, modelyard's version and the notebook flag. It needs no build, no network and
no file, so ``render`` names it deterministically and goldens do not move when modelyard's
code changes between releases. What only a build knows (the lock uv resolves, the wheel of
the running sources) goes into the *content* hash, stored on the image as a label and in the
build record: a change there rebuilds the image under the same tag, from the first layer it
touches, and the pushed digest (``render`` prefers it) pins the exact content.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

from modelyard.config import Runtime
from modelyard.environments.wheel import running_version

FORMAT = 1
"""Revision of the image layout; a change here retags every image."""
CONTENT_LABEL = "io.modelyard.content"
"""Image label holding the content hash (tag inputs + lock + modelyard wheel)."""
RUNTIME_LABEL = "io.modelyard.runtime"
"""Image label naming the runtime an image was built for."""
UID = 10001
"""The non-root user (and group) the image runs as."""
VENV = "/opt/venv"

POD_REQUIREMENTS: tuple[str, ...] = (
    "mlflow-skinny>=3.0",
    # mlflow.sklearn (a training script's log_model, the registry's load) imports pandas;
    # mlflow-skinny leaves it out, full mlflow brings it
    "pandas>=2.0",
    "boto3>=1.34",
    "scikit-learn>=1.5",
    "skops>=0.10",
    "cloudpickle>=3.0",
    "numpy>=1.26",
    "starlette>=0.40",
    "uvicorn[standard]>=0.30",
    # OIP v2 over gRPC (deploy.yaml grpc: true); imported only by a server with a gRPC port
    "grpcio>=1.81.1",
    "protobuf>=6.33.5",
    "orjson>=3.10",
    "prometheus-client>=0.20",
    "psutil>=5.9",
    "pyarrow>=15",
    # the prediction log's UTC timestamps, read back through PyArrow: the base has no zoneinfo
    "tzdata>=2024.1",
    "pydantic>=2.7",
    "pyyaml>=6.0",
    "typer>=0.12",
    "rich>=13.7",
    "httpx>=0.27",
)
"""What modelyard needs at run time in a pod (train, serve): its dependencies less the
workstation-only ones below, with the MLflow *client* (``mlflow-skinny``, which talks to a
tracking server) in place of the full server, and boto3 for ``s3://`` artifacts."""
WORKSTATION_ONLY: frozenset[str] = frozenset(
    {"mlflow", "lightkube", "ruamel-yaml", "grafana-foundation-sdk", "jinja2"}
)
"""modelyard dependencies a pod never imports: the MLflow server and its SQLite store, the
Kubernetes client, the deploy.yaml editor, the dashboard builder, the console's templates."""
NOTEBOOK_REQUIREMENTS: tuple[str, ...] = ("jupyterlab>=4.0", "nbclient>=0.10", "ipykernel>=6.29")
"""The notebook layer of ``images build --notebook``."""

# Directories and files a running pod never reads: test suites, C/Cython sources and
# headers, and pyarrow's Flight and S3 file system libraries (artifacts go through boto3).
_TRIM = (
    f"find {VENV} -depth -type d \\( -name tests -o -name test \\) -path '*/site-packages/*'"
    " -exec rm -rf {} + && "
    f"find {VENV} -type f \\( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h'"
    " -o -name '*.hpp' -o -name '*.c' -o -name '*.cpp' \\) -delete && "
    f"rm -rf {VENV}/lib/python*/site-packages/pyarrow/include"
    f" {VENV}/lib/python*/site-packages/pyarrow/src"
    f" {VENV}/lib/python*/site-packages/pyarrow/*flight*"
    f" {VENV}/lib/python*/site-packages/pyarrow/libarrow_s3*"
    f" {VENV}/lib/python*/site-packages/pyarrow/_s3fs*"
    f" {VENV}/lib/python*/site-packages/numpy/_core/include"
)
_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?(.*)$")
_UV_ENV = (
    "export UV_CACHE_DIR=/var/cache/uv UV_LINK_MODE=copy UV_NATIVE_TLS=1"
    " UV_PYTHON_INSTALL_DIR=/opt/python; "
    # the CA bundle is mounted at build time where a TLS proxy needs it; never baked in
    "if [ -f /etc/ssl/certs/ca-certificates.crt ]; then"
    " export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt; fi; "
)
_UV_MOUNTS = (
    "--mount=type=bind,source=uv,target=/usr/local/bin/uv "
    "--mount=type=cache,target=/var/cache/uv,sharing=locked"
)


@dataclass(frozen=True)
class ImageSpec:
    """Everything that decides a runtime's image before anything is built."""

    runtime: str
    python: str
    base: str
    requirements: tuple[str, ...]
    notebook: bool
    version: str
    repository: str

    @property
    def tag(self) -> str:
        """``<repository>:<python>-<hash12>``; the same spec always gives the same tag. The
        notebook image shares its runtime image's tag in its own repository
        (``<runtime>-notebook``), so either name gives the other; its own layer's inputs are
        in its content hash."""
        runtime_spec = replace(self, notebook=False) if self.notebook else self
        return f"{self.repository}:{self.python}-{runtime_spec.spec_hash()[:12]}"

    @property
    def wheel_filename(self) -> str:
        return f"modelyard-{self.version}-py3-none-any.whl"

    def spec_hash(self) -> str:
        body = {
            "format": FORMAT,
            "base": self.base,
            "containerfile": containerfile(self),
            "requirements": list(self.requirements),
            "notebook_requirements": list(NOTEBOOK_REQUIREMENTS) if self.notebook else [],
            "python": self.python,
            "version": self.version,
            "notebook": self.notebook,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def base_image(runtime: Runtime) -> str:
    """The runtime's ``base``, else an NVIDIA CUDA runtime image when ``cuda`` is set, else
    the official ``python:<python>-slim``."""
    if runtime.base:
        return runtime.base
    if runtime.cuda:
        # NVIDIA tags carry a patch version; every CUDA release has an X.Y.0 tag.
        cuda = runtime.cuda if runtime.cuda.count(".") >= 2 else f"{runtime.cuda}.0"
        return f"docker.io/nvidia/cuda:{cuda}-runtime-ubuntu22.04"
    return f"docker.io/library/python:{runtime.python}-slim"


def requirement_name(requirement: str) -> str:
    """The normalised project name of a requirement (``Scikit_Learn>=1`` -> ``scikit-learn``)."""
    match = _NAME_RE.match(requirement.strip())
    name = match.group(1) if match else requirement.strip()
    return re.sub(r"[-_.]+", "-", name).lower()


def image_requirements(runtime: Runtime) -> tuple[str, ...]:
    """modelyard's pod requirements, then the runtime's packages; a runtime's ``mlflow`` pin
    becomes the same pin on ``mlflow-skinny`` (pods are clients of a tracking server)."""
    packages = []
    for package in runtime.packages:
        if requirement_name(package) == "mlflow":
            match = _NAME_RE.match(package.strip())
            package = "mlflow-skinny" + (match.group(3) if match else "")
        packages.append(package)
    return (*POD_REQUIREMENTS, *packages)


def image_spec(
    name: str, runtime: Runtime, registry_prefix: str, notebook: bool = False
) -> ImageSpec:
    """The image spec of runtime ``name`` pushed under ``registry_prefix``."""
    suffix = "-notebook" if notebook else ""
    return ImageSpec(
        runtime=name,
        python=runtime.python,
        base=base_image(runtime),
        requirements=image_requirements(runtime),
        notebook=notebook,
        version=running_version(),
        repository=f"{registry_prefix.rstrip('/')}/{name}{suffix}",
    )


def containerfile(spec: ImageSpec) -> str:
    """The Containerfile of ``spec``; layers run from what changes least to what changes
    most, so a change to modelyard rebuilds only the last ones and a package change the
    ones from the lock on."""
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# modelyard runtime image {spec.runtime!r}: written by `modelyard images build`;",
        "# edits are overwritten. Build it from this folder (it holds uv, the lock and",
        "# modelyard's wheel).",
        f"FROM {spec.base}",
        f"ENV VIRTUAL_ENV={VENV} "
        f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
        "HOME=/tmp XDG_CACHE_HOME=/tmp/.cache PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "
        # GitPython (an MLflow dependency) warns at import when the image has no git
        "GIT_PYTHON_REFRESH=quiet",
        # a passwd entry: getpass.getuser() (MLflow's run user) needs a name for the uid
        f"RUN echo 'modelyard:x:{UID}:{UID}:modelyard:/tmp:/usr/sbin/nologin' >> /etc/passwd"
        f" && echo 'modelyard:x:{UID}:' >> /etc/group"
        f" && mkdir -p /workspace && chown {UID}:{UID} /workspace",
        "COPY requirements.lock /opt/modelyard/requirements.lock",
        f"RUN {_UV_MOUNTS} \\\n    {_UV_ENV}\\\n"
        f"    uv venv --python {spec.python} {VENV} && \\\n"
        f"    uv pip install --python {VENV}/bin/python --no-deps --compile-bytecode"
        " -r /opt/modelyard/requirements.lock && \\\n"
        f"    {_TRIM}",
    ]
    if spec.notebook:
        lines += [
            "COPY notebook.lock /opt/modelyard/notebook.lock",
            f"RUN {_UV_MOUNTS} \\\n    {_UV_ENV}\\\n"
            f"    uv pip install --python {VENV}/bin/python --no-deps --compile-bytecode"
            " -r /opt/modelyard/notebook.lock",
        ]
    lines += [
        f"COPY {spec.wheel_filename} /opt/modelyard/",
        f"RUN {_UV_MOUNTS} \\\n    {_UV_ENV}\\\n"
        f"    uv pip install --python {VENV}/bin/python --no-deps --no-index"
        f" /opt/modelyard/{spec.wheel_filename} && \\\n"
        f"    {VENV}/bin/python -m compileall -q {VENV}/lib/python*/site-packages/modelyard",
        f"USER {UID}:{UID}",
        "WORKDIR /workspace",
        'CMD ["modelyard", "--help"]',
        "",
    ]
    return "\n".join(lines)


def content_hash(spec: ImageSpec, lock: str, notebook_lock: str, wheel_sha256: str) -> str:
    """What a build puts in: the tag's inputs, the resolved lock(s) and modelyard's wheel."""
    body = {
        "tag": spec.tag,
        "spec": spec.spec_hash(),
        "lock": lock,
        "notebook_lock": notebook_lock,
        "wheel": wheel_sha256,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
