"""``load_workspace(path)``: read every file of a workspace, apply ``MODELYARD_*`` overrides,
validate, and check what no single file can (duplicate ids, missing scripts, unknown runtimes).

The result is passed down explicitly; nothing reads config at import time or on a hot path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.config.issues import ConfigIssue, InvalidConfig, capped, validate_doc
from modelyard.config.reach import pod_reach_issues
from modelyard.config.schema import (
    DeploySpec,
    ModelSpec,
    Runtime,
    RuntimeCatalog,
    WorkspaceSettings,
)
from modelyard.config.yamlfile import YamlDoc, YamlSyntaxError, read_yaml
from modelyard.errors import ConfigError, NotFound

WORKSPACE_FILE = "modelyard.yaml"
RUNTIMES_FILE = "runtimes.yaml"
STATE_DIR = ".modelyard"

DEFAULT_RUNTIMES: dict[str, Runtime] = {
    "sklearn-cpu": Runtime(framework="sklearn", packages=["scikit-learn>=1.5"]),
}


@dataclass(frozen=True)
class ModelEntry:
    """One model of the workspace: its two specs, its folder and a hash of its config."""

    spec: ModelSpec
    deploy: DeploySpec
    dir: Path
    config_hash: str

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def entrypoint(self) -> Path:
        return self.dir / self.spec.training.entrypoint


@dataclass(frozen=True)
class Workspace:
    """A loaded, valid workspace."""

    root: Path
    settings: WorkspaceSettings
    runtimes: Mapping[str, Runtime]
    models: Mapping[str, ModelEntry] = field(default_factory=dict)
    state_override: Path | None = None
    """``$MODELYARD_STATE_DIR``: state kept elsewhere (a pod's workspace is read-only)."""

    @property
    def name(self) -> str:
        return self.settings.name or self.root.name

    @property
    def state_dir(self) -> Path:
        return self.state_override or self.root / STATE_DIR

    @property
    def tracking_uri(self) -> str:
        uri = self.settings.tracking_uri
        if uri is None:
            return f"sqlite:///{self.state_dir / 'mlflow.db'}"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            # Relative SQLite paths are relative to the workspace, not to the caller's cwd.
            return f"sqlite:///{self.root / uri.removeprefix('sqlite:///')}"
        return uri

    @property
    def artifact_store(self) -> str:
        store = self.settings.artifact_store
        if store is None:
            return str(self.state_dir / "artifacts")
        if "://" in store or store.startswith("mlflow-artifacts:") or Path(store).is_absolute():
            return store  # a URI (mlflow-artifacts:/ goes through the tracking server)
        return str(self.root / store)

    @property
    def aws_credentials_file(self) -> Path | None:
        """``credentials.aws``: the boto3 credentials file (relative to the workspace)."""
        named = self.settings.credentials.aws
        return None if named is None else self.root / Path(named).expanduser()

    def model(self, model_id: str) -> ModelEntry:
        """The model named ``model_id``, or :class:`NotFound` listing the ones that exist."""
        try:
            return self.models[model_id]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFound(
                f"no model {model_id!r} in workspace {self.root} (models: {known})"
            ) from None


_ENV_OVERRIDES = {
    "MODELYARD_BACKEND": "backend",
    "MODELYARD_TRACKING_URI": "tracking_uri",
    "MODELYARD_ARTIFACT_STORE": "artifact_store",
}


def _read(path: Path, issues: list[ConfigIssue]) -> YamlDoc | None:
    try:
        return read_yaml(path)
    except OSError as exc:
        issues.append(ConfigIssue(path, None, "", f"cannot read file: {exc.strerror}"))
    except UnicodeDecodeError:
        issues.append(ConfigIssue(path, None, "", "file is not UTF-8 text"))
    except YamlSyntaxError as exc:
        issues.append(ConfigIssue(path, exc.line, "", str(exc)))
    return None


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``modelyard.yaml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {WORKSPACE_FILE} in {start} or any folder above it; "
        "run 'modelyard init' to make a workspace, or pass --workspace"
    )


def load_workspace(
    path: Path | str = ".",
    env: Mapping[str, str] | None = None,
    *,
    backend: str | None = None,
) -> Workspace:
    """Load and validate the workspace at or above ``path``.

    ``backend`` is the backend the caller will use (``--backend``, or ``kubernetes`` for
    ``render``/``apply``); modelyard.yaml's when None. For kubernetes, the tracking URI and the
    artifact store must be ones a pod can reach. Raises :class:`InvalidConfig` listing every
    problem in every file.
    """
    root = find_root(Path(path))
    env = os.environ if env is None else env
    issues: list[ConfigIssue] = []

    settings = _load_settings(root, env, issues, backend)
    runtimes = _load_runtimes(root, issues)
    models = _load_models(root, issues)
    if settings is not None:
        issues.extend(_cross_checks(models, runtimes, settings))
    if issues or settings is None:
        raise InvalidConfig(capped(issues))
    return Workspace(
        root=root,
        settings=settings,
        runtimes=runtimes,
        models={entry.id: entry for entry, _, _ in models},
        state_override=Path(env["MODELYARD_STATE_DIR"]) if env.get("MODELYARD_STATE_DIR") else None,
    )


def _load_settings(
    root: Path, env: Mapping[str, str], issues: list[ConfigIssue], backend: str | None
) -> WorkspaceSettings | None:
    doc = _read(root / WORKSPACE_FILE, issues)
    if doc is None:
        return None
    if isinstance(doc.data, dict) or doc.data is None:
        data = dict(doc.data or {})
        for var, key in _ENV_OVERRIDES.items():
            if env.get(var):
                data[key] = env[var]
        doc = YamlDoc(doc.path, data, doc.lines)
    settings, found = validate_doc(doc, WorkspaceSettings)
    issues.extend(found)
    if settings is not None and (backend or settings.backend) == "kubernetes":
        issues.extend(pod_reach_issues(doc, settings, env))
    return settings


def _load_runtimes(root: Path, issues: list[ConfigIssue]) -> dict[str, Runtime]:
    runtimes = dict(DEFAULT_RUNTIMES)
    path = root / RUNTIMES_FILE
    if path.exists():
        doc = _read(path, issues)
        if doc is not None:
            catalog, found = validate_doc(doc, RuntimeCatalog)
            issues.extend(found)
            if catalog is not None:
                runtimes.update(catalog.runtimes)
    return runtimes


_Loaded = tuple[ModelEntry, YamlDoc, YamlDoc]


def _load_models(root: Path, issues: list[ConfigIssue]) -> list[_Loaded]:
    loaded: list[_Loaded] = []
    models_dir = root / "models"
    if not models_dir.is_dir():
        return loaded
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        model_path, deploy_path = folder / "model.yaml", folder / "deploy.yaml"
        if not model_path.exists():
            issues.append(
                ConfigIssue(model_path, None, "", "missing: every model folder needs one")
            )
            continue
        model_doc = _read(model_path, issues)
        deploy_doc = _read(deploy_path, issues) if deploy_path.exists() else None
        spec, found = validate_doc(model_doc, ModelSpec) if model_doc else (None, [])
        issues.extend(found)
        deploy: DeploySpec | None = DeploySpec()
        if deploy_doc is not None:
            deploy, found = validate_doc(deploy_doc, DeploySpec)
            issues.extend(found)
        elif deploy_path.exists():
            deploy = None
        if spec is None or deploy is None or model_doc is None:
            continue
        digest = hashlib.sha256()
        for part in (model_path, deploy_path):
            if part.exists():
                digest.update(part.read_bytes())
        entry = ModelEntry(spec, deploy, folder, digest.hexdigest()[:16])
        loaded.append((entry, model_doc, deploy_doc or YamlDoc(deploy_path, {}, {})))
    return loaded


def _entrypoint_problem(entry: ModelEntry) -> str | None:
    """Why the training script cannot run: missing, or (symlinks resolved) outside its folder."""
    written = entry.spec.training.entrypoint
    folder = entry.dir.resolve()
    try:
        resolved = entry.entrypoint.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"script {written!r} does not exist in {entry.dir}"
    if not resolved.is_relative_to(folder):
        return (
            f"script {written!r} resolves to {resolved}, outside {entry.dir}; "
            "the training script must live in the model's folder"
        )
    if not resolved.is_file():
        return f"script {written!r} in {entry.dir} is not a file"
    return None


def _cross_checks(
    models: list[_Loaded], runtimes: Mapping[str, Runtime], settings: WorkspaceSettings
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    first_seen: dict[str, Path] = {}
    for entry, model_doc, deploy_doc in models:
        spec = entry.spec
        if spec.id in first_seen:
            issues.append(
                ConfigIssue(
                    model_doc.path,
                    model_doc.line_of(("id",)),
                    "id",
                    f"model id {spec.id!r} is already used by {first_seen[spec.id]}",
                )
            )
        first_seen.setdefault(spec.id, model_doc.path)
        problem = _entrypoint_problem(entry)
        if problem is not None:
            issues.append(
                ConfigIssue(
                    model_doc.path,
                    model_doc.line_of(("training", "entrypoint")),
                    "training.entrypoint",
                    problem,
                )
            )
        runtime = runtimes.get(spec.runtime)
        if runtime is None:
            known = ", ".join(sorted(runtimes))
            issues.append(
                ConfigIssue(
                    model_doc.path,
                    model_doc.line_of(("runtime",)),
                    "runtime",
                    f"unknown runtime {spec.runtime!r} (runtimes.yaml has: {known})",
                )
            )
        elif runtime.cuda is None:
            gpu_fields = (
                (model_doc, ("training", "resources", "gpu"), spec.training.resources.gpu),
                (deploy_doc, ("resources", "gpu"), entry.deploy.resources.gpu),
            )
            for doc, loc, gpus in gpu_fields:
                if gpus:
                    issues.append(
                        ConfigIssue(
                            doc.path,
                            doc.line_of(loc),
                            ".".join(str(p) for p in loc),
                            f"asks for {gpus} GPU(s) but runtime {spec.runtime!r} has no CUDA; "
                            "pick a runtime with 'cuda' set",
                        )
                    )
        pool = entry.deploy.pool
        if pool is not None and pool.name not in settings.pools:
            known = ", ".join(sorted(settings.pools)) or "none defined"
            issues.append(
                ConfigIssue(
                    deploy_doc.path,
                    deploy_doc.line_of(("pool",)),
                    "pool",
                    f"unknown pool {pool.name!r} (modelyard.yaml pools: {known}); add it under "
                    f"pools: in {WORKSPACE_FILE}, e.g. {pool.name}: {{memory: 2Gi}}",
                )
            )
        for index, name in enumerate(entry.deploy.scheduling.avoid):
            if name not in settings.node_classes:
                known = ", ".join(sorted(settings.node_classes)) or "none defined"
                issues.append(
                    ConfigIssue(
                        deploy_doc.path,
                        deploy_doc.line_of(("scheduling", "avoid", index)),
                        f"scheduling.avoid[{index}]",
                        f"unknown node class {name!r} (modelyard.yaml node_classes: {known})",
                    )
                )
    return issues
