"""The schemas of the files a user writes: ``modelyard.yaml``, ``runtimes.yaml``,
``models/<id>/model.yaml`` and ``models/<id>/deploy.yaml``.

Every field has a default that suits a small model, so a minimal ``model.yaml`` is a few lines.
Each field's docstring is its documentation: it lands in the exported JSON Schema and in the
generated config reference.
"""

from __future__ import annotations

import itertools
import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from modelyard.config.bounds import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_ROWS,
    INT32_MAX,
    MAX_GPUS,
    MAX_RATE,
)
from modelyard.config.cron import BadSchedule, Cron
from modelyard.config.ids import InvalidModelId, parse_model_id
from modelyard.config.quantity import Cpu, Duration, Memory, cpu_millis, memory_bytes
from modelyard.frameworks import framework_names

IMAGE_DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


def _scalar(value: object) -> object:
    if not isinstance(value, str | int | float | bool):
        raise ValueError(f"expected a string, a number or true/false, got {value!r}")
    return value


Scalar = Annotated[
    str | int | float | bool,
    BeforeValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


class Strict(BaseModel):
    """Base of every user-facing schema: unknown keys are errors, values are frozen."""

    # Attribute docstrings become field descriptions only for the JSON Schema export
    # (``export.json_schemas``): pydantic reads them from the source at class creation, which
    # costs every command that loads a workspace (a rollback among them) a tenth of a second.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- modelyard.yaml


class KubernetesSettings(Strict):
    namespace: str = "modelyard"
    """Namespace that rendered objects go to."""
    image_registry: str = "registry.example.com/modelyard"
    """Registry prefix for runtime images that do not name a full image."""
    context: str | None = None
    """kubeconfig context to use; the current one when unset."""
    service_account: str = "modelyard"
    """Service account of training jobs and model servers."""
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    """Prometheus that Argo Rollouts' analysis queries (kube-prometheus-stack's default)."""
    # -- what the cluster provides (docs/kubernetes.md, "Cluster prerequisites")
    gateway: str | None = None
    """Istio ``Gateway`` (``namespace/name``) that admits traffic from outside the mesh; the
    model's VirtualService binds to it and to ``mesh``, so ingress traffic follows the canary
    weights too. Unset: in-mesh callers only, and the ingress gateway is not admitted."""
    gateway_domain: str | None = None
    """With ``gateway``: each model is reached from outside at ``<model>.<gateway_domain>``."""
    ingress_gateway_namespace: str = "istio-system"
    """Namespace of the ingress gateway's pods (Istio's Helm default)."""
    ingress_gateway_labels: dict[str, str] = {"istio": "ingressgateway"}
    """Labels of the ingress gateway's pods (``istio/gateway`` chart named
    ``istio-ingressgateway``); the server NetworkPolicy admits these pods."""
    caller_namespaces: list[str] = []
    """Namespaces besides the model's own whose pods may call the model servers."""
    prometheus_pod_labels: dict[str, str] = {"app.kubernetes.io/name": "prometheus"}
    """Labels of the Prometheus pods (the Prometheus Operator's); admitted to scrape."""
    monitor_labels: dict[str, str] = {"release": "kube-prometheus-stack"}
    """Labels put on ServiceMonitors and PrometheusRules so that the Prometheus selects them
    (kube-prometheus-stack selects its Helm release's label by default)."""
    mirror_share: float = Field(0.2, gt=0, le=1)
    """Share of traffic mirrored to the canary in the shadow phase; the canary gets the same
    share of the replicas, so each canary pod carries no more than a stable one."""

    @model_validator(mode="after")
    def _gateway_pair(self) -> KubernetesSettings:
        if self.gateway is not None:
            namespace, _, name = self.gateway.partition("/")
            if not namespace or not name or "/" in name:
                raise ValueError(
                    f"gateway {self.gateway!r}: write it as NAMESPACE/NAME, "
                    "e.g. istio-system/public-gateway"
                )
            if not self.gateway_domain:
                raise ValueError(
                    "gateway is set but gateway_domain is not: name the domain the gateway "
                    "serves (models are reached at <model>.<gateway_domain>)"
                )
        return self


class Prices(Strict):
    cpu_hour: float = Field(0.04, ge=0, le=1e6)
    """Price of one CPU core for one hour, in the currency of your bill."""
    memory_gib_hour: float = Field(0.005, ge=0, le=1e6)
    """Price of one GiB of memory for one hour."""
    gpu_hour: float = Field(2.5, ge=0, le=1e6)
    """Price of one GPU for one hour."""


class Observability(Strict):
    prometheus: bool = False
    """``modelyard up`` also starts a Prometheus that scrapes every local model server."""
    scrape_interval: Duration = Field(default=15.0, ge=0.1)
    """How often that Prometheus scrapes the servers (and evaluates rules): ``15s``."""


class NodeClass(Strict):
    label: str = "node.kubernetes.io/instance-type"
    """Node label that identifies the class."""
    values: list[str] = Field(min_length=1)
    """Values of that label that belong to the class (instance types, say)."""
    taint: str | None = None
    """Taint key such nodes carry, if any, so that avoiding pods need no toleration."""


POOL_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
"""A pool's name: a DNS label (it names a process locally and a Deployment on Kubernetes)."""
PoolName = Annotated[str, Field(pattern=POOL_NAME)]
MIN_POOL_MEMORY = 64 * 2**20


class PoolSettings(Strict):
    memory: Memory
    """Memory budget of the pool's server, for the models it holds (``2Gi``). A model's share
    is *measured*: the growth of the server's RSS its load caused. A load that would exceed the
    budget first evicts the least recently used models that are not pinned and answer nothing."""
    load_timeout: Duration = Field(default=10.0, ge=0.01, le=600)
    """How long a request to a model that is not loaded waits for its load before it is
    answered 503 with ``Retry-After``: ``10s``."""

    @field_validator("memory")
    @classmethod
    def _room_for_a_model(cls, value: str) -> str:
        if memory_bytes(value) < MIN_POOL_MEMORY:
            raise ValueError(f"a pool's memory budget must be at least 64Mi, not {value}")
        return value


class KafkaSettings(Strict):
    bootstrap_servers: str = Field(min_length=1, pattern=r"^[^\s,]+:\d+(,[^\s,]+:\d+)*$")
    """Brokers to bootstrap from: ``host:port``, several separated by commas."""
    security_protocol: Literal["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"] = "plaintext"
    """How clients talk to the brokers."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    """SASL mechanism, for the ``sasl_*`` protocols."""
    username_file: str | None = None
    """File holding the SASL user name (credentials are read from files only)."""
    password_file: str | None = None
    """File holding the SASL password."""
    ca_file: str | None = None
    """PEM file of the brokers' CA, for the ``*ssl`` protocols; the system's when unset."""

    @model_validator(mode="after")
    def _sasl_needs_files(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("sasl")
        if sasl and (self.username_file is None or self.password_file is None):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs username_file and "
                "password_file (files that hold the SASL user name and password)"
            )
        return self


class S3Settings(Strict):
    endpoint_url: str | None = None
    """S3 endpoint of a store that is not AWS (MinIO, SeaweedFS, Ceph), e.g.
    ``http://minio.storage.svc:9000``; AWS's own endpoint when unset. MLflow and boto3 get it
    as ``MLFLOW_S3_ENDPOINT_URL`` (pods too)."""
    region: str | None = None
    """Region of the bucket (``AWS_DEFAULT_REGION``); boto3's default when unset."""


class CredentialFiles(Strict):
    aws: str | None = None
    """Path of a boto3 shared-credentials file (``[default]`` profile) for ``s3://``, relative
    to the workspace: a *path*, never the keys. ``AWS_SHARED_CREDENTIALS_FILE`` wins when set
    (pods set it to the mounted Secret). MLflow's own credentials are read from
    ``~/.mlflow/credentials`` (``[mlflow]`` username and password)."""


class WorkspaceSettings(Strict):
    name: str | None = None
    """Workspace name; the folder name when unset."""
    backend: Literal["local", "kubernetes"] = "local"
    """Where jobs and servers run: processes on this machine, or a Kubernetes cluster."""
    tracking_uri: str | None = None
    """MLflow tracking and registry URI; ``sqlite:///.modelyard/mlflow.db`` when unset."""
    artifact_store: str | None = None
    """Where artifacts go (a path or ``s3://``); ``.modelyard/artifacts`` when unset."""
    s3: S3Settings = S3Settings()
    """The S3 endpoint of ``s3://`` artifact stores (for stores that are not AWS)."""
    credentials: CredentialFiles = CredentialFiles()
    """Files that hold credentials (paths only; modelyard.yaml never holds a secret)."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    """Settings of the Kubernetes backend."""
    prices: Prices = Prices()
    """Resource prices, for cost per team."""
    node_classes: dict[str, NodeClass] = {}
    """Named classes of nodes that ``deploy.yaml`` can ask to avoid (old instance types)."""
    observability: Observability = Observability()
    """Monitoring of the local backend."""
    kafka: KafkaSettings | None = None
    """Kafka brokers, for ``prediction_log.sink: kafka`` and datasets built from topics."""
    pools: dict[PoolName, PoolSettings] = {}
    """Shared model servers by name (``small: {memory: 2Gi}``): a model whose ``deploy.yaml``
    names a pool is served there, with many others, instead of in a process of its own."""


# --------------------------------------------------------------------------- runtimes.yaml


class Runtime(Strict):
    python: str = "3.11"
    """Python version of the environment."""
    framework: str = "sklearn"
    """Framework the runtime is made for: a name from the framework table
    (``modelyard.frameworks``)."""
    packages: list[str] = []
    """Pinned packages installed in the environment, e.g. ``scikit-learn>=1.5``."""
    cuda: str | None = None
    """CUDA version for GPU runtimes; unset for CPU-only runtimes."""
    base: str | None = None
    """Base image of the runtime's image (``modelyard images build``), e.g.
    ``docker.io/library/python:3.11-slim``; unset: an NVIDIA CUDA runtime image
    (``nvidia/cuda:<cuda>-runtime-ubuntu22.04``) when ``cuda`` is set, else
    ``python:<python>-slim``."""
    image: str | None = None
    """Container image for the Kubernetes backend, ``repo:tag`` or pinned as
    ``repo@sha256:<digest>``; unset: the image ``modelyard images build`` makes,
    ``<image_registry>/<runtime>:<python>-<hash>``."""
    local: Literal["inherit", "venv"] = "inherit"
    """Local environment: reuse modelyard's own interpreter, or build a cached venv with uv."""

    @field_validator("image")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and "@" in value and not IMAGE_DIGEST.match(value):
            raise ValueError(
                f"{value!r} is not a pinned image: write repo@sha256: and the 64 lowercase "
                "hex digits of the digest (docker buildx imagetools inspect shows it)"
            )
        return value


class RuntimeCatalog(Strict):
    runtimes: dict[str, Runtime] = {}
    """Runtime name -> runtime."""


# --------------------------------------------------------------------------- model.yaml


class Owner(Strict):
    team: str = Field(min_length=1)
    """Team that owns the model; cost reports aggregate on it."""
    dri: str = Field(min_length=1)
    """Directly responsible individual (a person or an email)."""


class TrainingResources(Strict):
    cpu: Cpu = "1"
    """CPU the training job asks for."""
    memory: Memory = "1Gi"
    """Memory the job may use; the local runner stops a job that goes above it."""
    gpu: int = Field(0, ge=0, le=MAX_GPUS)
    """Number of GPUs (``nvidia.com/gpu`` on Kubernetes)."""


class SweepParam(Strict):
    """One swept parameter: a list of ``values``, or a range from ``low`` to ``high``."""

    values: list[Scalar] | None = Field(None, min_length=1, max_length=1000)
    """The values to try (grid search tries every combination of every list)."""
    low: float | None = None
    """Lowest value of a range (random or TPE search)."""
    high: float | None = None
    """Highest value of a range."""
    log: bool = False
    """Draw the range on a log scale (for scales such as a regularisation strength)."""
    integer: bool = Field(False, alias="int")
    """Draw whole numbers from the range (written ``int: true``)."""

    @model_validator(mode="after")
    def _one_form(self) -> SweepParam:
        ranged = self.low is not None or self.high is not None
        if (self.values is None) == (not ranged):
            raise ValueError("give either values: [...] or a range {low: ..., high: ...}")
        if ranged:
            if self.low is None or self.high is None or self.low >= self.high:
                raise ValueError(f"a range needs low < high, got low={self.low} high={self.high}")
            if self.log and self.low <= 0:
                raise ValueError(f"a log range needs low > 0, got {self.low}")
        return self


class Sweep(Strict):
    """A hyperparameter sweep: ``modelyard train ID --sweep`` runs it as parallel jobs."""

    params: dict[str, SweepParam] = Field(min_length=1, max_length=64)
    """Parameters to vary, each one of ``training.params``."""
    search: Literal["grid", "random", "tpe"] = "random"
    """``grid`` (every combination of the values lists), ``random``, or ``tpe`` (Optuna's
    Tree-structured Parzen Estimator; needs ``pip install 'modelyard[sweep]'``)."""
    trials: int = Field(8, ge=1, le=1000)
    """How many trainings the sweep runs (at most the grid's size for grid search)."""
    parallel: int = Field(2, ge=1, le=256)
    """How many trials run at once, at most what the machine's CPU and memory hold."""
    metric: str = Field("auc", min_length=1, max_length=250)
    """The metric (logged by the script) the sweep ranks trials by."""
    direction: Literal["maximize", "minimize"] = "maximize"
    """Whether a larger or a smaller ``metric`` is better."""
    seed: int = Field(0, ge=0, le=INT32_MAX)
    """Seed of the random and TPE searches, so a sweep can be repeated."""

    @model_validator(mode="after")
    def _grid_values(self) -> Sweep:
        if self.search == "grid":
            ranged = sorted(name for name, p in self.params.items() if p.values is None)
            if ranged:
                raise ValueError(
                    f"grid search needs a values list for each parameter; {', '.join(ranged)} "
                    "has a range: list its values, or use search: random or tpe"
                )
        return self


class Training(Strict):
    entrypoint: str = "train.py"
    """Training script, a relative path inside the model's folder (no '..', no absolute path)."""
    params: dict[str, Scalar] = {}
    """Default parameters; ``--param k=v`` overrides them. Logged to MLflow."""
    resources: TrainingResources = TrainingResources()
    """Resources of the training job."""
    timeout: Duration = 3600.0
    """The job is stopped after this long (``activeDeadlineSeconds`` on Kubernetes)."""
    retries: int = Field(0, ge=0, le=10)
    """Times a failed job is retried (``backoffLimit`` on Kubernetes)."""
    schedule: str | None = None
    """Cron schedule for retraining (a ``CronJob`` on Kubernetes), e.g. ``0 3 * * *``."""
    sweep: Sweep | None = None
    """A hyperparameter sweep over ``params`` (``modelyard train ID --sweep``)."""

    @field_validator("entrypoint")
    @classmethod
    def _inside(cls, value: str) -> str:
        if not _held_inside(value):
            raise ValueError(
                f"{value!r} must be a path relative to the model's folder, such as 'train.py', "
                "with no '..' and not absolute: the script lives next to model.yaml"
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:  # each field's range too, by the parser the scheduler fires with
                Cron.parse(value)
            except BadSchedule as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _swept_params_known(self) -> Training:
        unknown = sorted(set(self.sweep.params) - set(self.params)) if self.sweep else []
        if unknown:
            raise ValueError(
                f"sweep.params names {', '.join(unknown)}, not in training.params "
                f"({', '.join(sorted(self.params)) or 'none'}): a swept parameter needs a "
                "default there"
            )
        return self


class Gate(Strict):
    metric: str = "auc"
    """Metric the gate checks: an evaluation metric when ``evaluation.dataset`` is set, else
    the training run's own."""
    min: float | None = None
    """The metric must be at least this (for scores such as AUC)."""
    max: float | None = None
    """The metric must be at most this (for losses)."""
    max_regression: float | None = Field(None, ge=0)
    """How much worse than production the metric may be (absolute); unset skips the check."""


def _held_inside(value: str) -> bool:
    """Whether a path stays inside the folder it is relative to (no '..', not absolute)."""
    path = PurePosixPath(value.replace("\\", "/"))
    return bool(value) and not path.is_absolute() and ".." not in path.parts and value[0] != "~"


def _is_uri(value: str) -> bool:
    return "://" in value or value.startswith("mlflow-artifacts:")


class Evaluation(Strict):
    dataset: str | None = None
    """Held-out evaluation dataset (Parquet or CSV): a path relative to the model folder or the
    workspace (no '..', not absolute), or an artifact-store URI (``s3://``,
    ``mlflow-artifacts:/``). modelyard evaluates every version on it."""
    label: str = "label"
    """Column of the evaluation dataset that holds the observed outcome (0 or 1)."""
    features: list[str] | None = None
    """Feature columns, in the model's input order; every column but the label when unset."""
    threshold: float = Field(0.5, gt=0, lt=1)
    """Score at or above which a prediction counts as positive (accuracy, recall)."""
    timing_rows: int = Field(200, ge=1, le=100000)
    """Rows predicted one at a time to measure P50/P90/P99 single-row inference time."""
    fit_tolerance: float = Field(0.05, ge=0)
    """Largest gap between training-set and evaluation metrics before over- or underfitting
    is flagged (absolute, in the metric's own unit)."""
    max_regression: dict[str, float] = {}
    """How much worse than production each metric may be on the evaluation set (absolute),
    e.g. ``{loss: 0.01, auc: 0.005}``; the gate's own ``max_regression`` covers its metric."""
    metrics: list[str] = ["loss", "auc", "p50_ms", "p90_ms"]
    """Metrics recorded for every version."""
    gate: Gate | None = None
    """Condition a new version must meet before it may be deployed."""

    @field_validator("dataset")
    @classmethod
    def _dataset_inside(cls, value: str | None) -> str | None:
        if value is not None and not _is_uri(value) and not _held_inside(value):
            raise ValueError(
                f"{value!r} must be a path relative to the model's folder or the workspace, "
                "such as 'eval.parquet', with no '..' and not absolute, or an artifact-store "
                "URI such as 's3://bucket/eval.parquet'"
            )
        return value


class Warmup(Strict):
    inputs: list[list[Scalar]] | None = None
    """Sample rows sent before the server reports ready; generated from the signature if unset."""
    requests: int = Field(3, ge=0, le=1000)
    """Number of warm-up requests."""


class Serving(Strict):
    method: Literal["predict", "predict_proba"] = "predict"
    """Model method that answers requests; ``predict_proba`` returns class probabilities."""
    format: Literal["native", "onnx"] = "native"
    """Serve the framework's own artifact, or convert a scikit-learn model to ONNX."""
    warmup: Warmup = Warmup()
    """Pre-warming before the server takes traffic."""
    allow_pickle: bool = True
    """Load formats that run code when loaded (pickle, cloudpickle: scikit-learn's pickled
    models, MLflow pyfunc, PyTorch ``torch.save``, boosters saved as pickles). ``false`` refuses
    them at load; skops, ONNX and the boosters' native files still load."""


class ModelSpec(Strict):
    id: str
    """Model id: lowercase letters, digits and '-', at most 42 characters (a DNS label)."""
    owner: Owner
    """Owning team and DRI."""
    description: str = ""
    """One line on what the model does."""
    state: Literal["development", "staging", "production", "deprecated"] = "development"
    """Lifecycle state; ``modelyard up`` serves staging and production models."""
    framework: str = "sklearn"
    """Framework of the trained model: a name from the framework table (sklearn, onnx,
    pytorch, xgboost, lightgbm, pyfunc, or one an installed runtime package registers)."""
    runtime: str = "sklearn-cpu"
    """Runtime from ``runtimes.yaml`` that trains and serves the model."""
    training: Training = Training()
    """How the model is trained."""
    evaluation: Evaluation = Evaluation()
    """How a new version is evaluated and gated."""
    serving: Serving = Serving()
    """How the model is served."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        try:
            return parse_model_id(value)
        except InvalidModelId as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("framework")
    @classmethod
    def _framework(cls, value: str) -> str:
        known = framework_names()
        if value not in known:
            raise ValueError(
                f"unknown framework {value!r}: expected one of {', '.join(known)}, or install "
                "the package whose runtime registers it (entry points 'modelyard.runtimes')"
            )
        return value


# --------------------------------------------------------------------------- deploy.yaml


class Limits(Strict):
    cpu: Cpu | None = None
    """CPU limit; twice the request when unset (room to burst, and a limit on every pod)."""
    memory: Memory | None = None
    """Memory limit; the request when unset."""


class Resources(Strict):
    cpu: Cpu = "500m"
    """CPU request of each replica."""
    memory: Memory = "512Mi"
    """Memory request of each replica."""
    gpu: int = Field(0, ge=0, le=MAX_GPUS)
    """GPUs per replica."""
    limits: Limits = Limits()
    """Limits, when they differ from the requests."""

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if self.limits.cpu is not None and cpu_millis(self.cpu) > cpu_millis(self.limits.cpu):
            raise ValueError(f"cpu request {self.cpu} is above its limit {self.limits.cpu}")
        if self.limits.memory is not None and memory_bytes(self.memory) > memory_bytes(
            self.limits.memory
        ):
            raise ValueError(
                f"memory request {self.memory} is above its limit {self.limits.memory}"
            )
        return self


class Replicas(Strict):
    min: int = Field(1, ge=0, le=INT32_MAX)
    """Fewest replicas."""
    max: int = Field(3, ge=1, le=INT32_MAX)
    """Most replicas."""

    @model_validator(mode="after")
    def _order(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Autoscaling(Strict):
    enabled: bool = True
    """Scale between ``replicas.min`` and ``replicas.max``."""
    cpu_percent: int | None = Field(70, ge=1, le=1000)
    """Target average CPU use, percent of the request."""
    memory_percent: int | None = Field(None, ge=1, le=1000)
    """Target average memory use, percent of the request."""
    rps_per_replica: float | None = Field(None, gt=0, le=MAX_RATE)
    """Target requests per second per replica (a custom metric)."""


class RateLimit(Strict):
    rps: float | None = Field(None, gt=0, le=MAX_RATE)
    """Sustained requests per second allowed; unset means no limit."""
    burst: int | None = Field(None, ge=1, le=INT32_MAX)
    """Requests allowed at once above the rate; the rate (rounded up) when unset."""
    per_client: str | None = None
    """Header naming the client key (e.g. ``x-client-id``); limits then apply per key."""


class CircuitBreaker(Strict):
    max_in_flight: int = Field(256, ge=1, le=1_000_000)
    """Requests in progress at once; more wait in the queue."""
    queue_timeout: Duration = 1.0
    """A request waiting longer than this for a slot is shed with 503."""
    error_rate: float = Field(0.5, gt=0, le=1)
    """Share of failed requests in the window that opens the breaker."""
    min_requests: int = Field(20, ge=1, le=INT32_MAX)
    """Requests needed in the window before the error rate counts."""
    window: Duration = 10.0
    """Window over which the error rate is measured."""
    cooldown: Duration = 5.0
    """Time the breaker stays open before a half-open probe."""


class Batching(Strict):
    enabled: bool = True
    """Gather concurrent requests into one model call."""
    max_batch_size: int = Field(32, ge=1, le=4096)
    """Most rows in one call."""
    max_wait_ms: float = Field(2.0, ge=0, le=1000)
    """Longest a request waits for others to join its batch."""


class Analysis(Strict):
    max_error_rate: float = Field(0.01, ge=0, le=1)
    """Highest error rate of the new version."""
    max_latency_p90_ratio: float = Field(1.5, gt=0, le=1000)
    """Highest ratio of the new version's P90 latency to the current one's."""
    max_divergence: float = Field(0.05, ge=0, le=1)
    """Highest share of shadow predictions that differ from the current version's."""
    min_requests: int = Field(50, ge=1, le=INT32_MAX)
    """Requests the new version must have served before a check can pass or fail."""


class Rollout(Strict):
    enabled: bool = True
    """Ship new versions progressively; off replaces the version at once."""
    shadow: Duration | None = 120.0
    """Time the new version gets mirrored traffic before any live share; unset skips it."""
    steps: list[float] = [5, 25, 50, 100]
    """Canary weights in percent, increasing, ending at 100."""
    interval: Duration = 30.0
    """Time each step is held while analysis runs."""
    analysis: Analysis = Analysis()
    """Checks that compare the new version with the current one."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[float]) -> list[float]:
        if not steps:
            raise ValueError("steps must name at least one weight, e.g. [5, 25, 50, 100]")
        for weight in steps:
            if not 0 < weight <= 100:
                raise ValueError(f"step weight {weight} is outside (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps {steps} must increase")
        if steps[-1] != 100:
            raise ValueError(f"the last step must be 100, not {steps[-1]}")
        return steps


class Scheduling(Strict):
    numa: bool = False
    """Guaranteed QoS with whole CPUs, for the kubelet's static CPU and topology managers."""
    avoid: list[str] = []
    """Node classes from ``modelyard.yaml`` to keep this model off (old instance types)."""


class RequestLimits(Strict):
    max_body: Memory = DEFAULT_MAX_BODY
    """Largest request body the server reads; a larger one gets 413 before it is parsed."""
    max_rows: int = Field(DEFAULT_MAX_ROWS, ge=1, le=10_000_000)
    """Most rows in one inference request; more get 413."""


class PredictionLog(Strict):
    enabled: bool = True
    """Record request id, inputs, outputs, version and latency to Parquet."""
    sample_rate: float = Field(1.0, ge=0, le=1)
    """Share of requests recorded."""
    buffer: int = Field(10000, ge=1, le=10_000_000)
    """Records held in memory before new ones are dropped (and counted)."""
    sink: Literal["parquet", "kafka"] = "parquet"
    """Where records go: hourly Parquet files, or a Kafka topic (``modelyard.yaml`` ``kafka``)
    that spills to the Parquet files while the brokers cannot take them."""
    topic: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    """Kafka topic of the prediction records (``sink: kafka``)."""
    outcomes_topic: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    """Kafka topic the feedback endpoint forwards outcomes to, when set."""
    delivery_timeout: Duration = Field(default=30.0, ge=0.1, le=3600)
    """How long a record may wait for the brokers before it is spilled to Parquet: ``30s``."""

    @model_validator(mode="after")
    def _kafka_needs_topic(self) -> PredictionLog:
        if self.sink == "kafka" and self.topic is None:
            raise ValueError("sink: kafka needs a topic (prediction_log.topic)")
        return self


def _pool_by_name(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


class PoolPlacement(Strict):
    name: PoolName
    """The pool (``modelyard.yaml`` ``pools``) whose server serves this model."""
    pinned: bool = False
    """Keep the model loaded for the pool's whole life: loaded at start, never evicted."""


_POOL_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": POOL_NAME},
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": POOL_NAME},
                "pinned": {"type": "boolean", "default": False},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        {"type": "null"},
    ]
}


class DeploySpec(Strict):
    resources: Resources = Resources()
    """Requests and limits of each replica."""
    replicas: Replicas = Replicas()
    """Replica bounds."""
    autoscaling: Autoscaling = Autoscaling()
    """Autoscaling rules."""
    rate_limit: RateLimit = RateLimit()
    """Token-bucket rate limits; excess gets 429."""
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    """Load shedding and the error-rate breaker; shed requests get 503."""
    batching: Batching = Batching()
    """Adaptive batching."""
    rollout: Rollout = Rollout()
    """Progressive delivery of new versions."""
    scheduling: Scheduling = Scheduling()
    """Placement on nodes."""
    prediction_log: PredictionLog = PredictionLog()
    """Prediction logging."""
    request_limits: RequestLimits = RequestLimits()
    """Largest request the model server accepts (body size, rows)."""
    grpc: bool = False
    """Also serve the Open Inference Protocol v2 over gRPC (port 9000 in the pod and on the
    Service, behind the same limits, breaker and canary weights as HTTP)."""
    pool: Annotated[
        PoolPlacement | None, BeforeValidator(_pool_by_name), WithJsonSchema(_POOL_SCHEMA)
    ] = None
    """Serve the model in a shared pool server (``pool: small``, or ``pool: {name: small,
    pinned: true}``) rather than in a server of its own; unset: a server of its own."""
