"""A typed client of the model server's admin API.

It speaks the wire contract of :mod:`modelyard.serving.admin_models` (the same models the
server's routes use) and translates transport failures once: a server that does not answer is
:class:`ServerUnreachable`, a refusal is :class:`AdminRefused`; both keep ``Retry-After``.
What the calls mean for a rollout (ensure semantics, actions) is the local backend's business
(:mod:`modelyard.backends.local.actuator`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from modelyard._light import httpx_without_cli
from modelyard.errors import Unavailable
from modelyard.serving.admin_models import (
    AddVersion,
    AdminModel,
    DeploymentView,
    PromoteVersion,
    SetTraffic,
    StatsView,
)

if TYPE_CHECKING:
    import httpx
else:  # the CLI's steering commands use this client: skip httpx's own command line
    httpx = httpx_without_cli()

M = TypeVar("M", bound=AdminModel)


class ServerUnreachable(Unavailable):
    """The model server did not answer its admin API (down, or restarting)."""


class AdminRefused(Unavailable):
    """The server's admin API refused a call (e.g. the version failed to load)."""


def _retry_after(reply: httpx.Response, default: float) -> float:
    try:
        return float(reply.headers.get("retry-after", default))
    except ValueError:
        return default


class AdminClient:
    """The admin API of the server of ``model`` at ``url``."""

    def __init__(self, url: str, model: str, token: str, *, timeout: float = 120.0) -> None:
        self.url = url
        self.model = model
        self._client = httpx.Client(
            base_url=url, timeout=timeout, headers={"authorization": f"Bearer {token}"}
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: AdminModel | None, reply_as: type[M]) -> M | None:
        """One call; ``None`` when the server answers 404 (nothing to act on)."""
        payload: Any = None if body is None else body.model_dump(mode="json", exclude_none=True)
        try:
            reply = self._client.request(method, f"/admin/models/{self.model}{path}", json=payload)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"model server at {self.url}: {exc!r}", 1.0) from exc
        if reply.status_code == 404:
            return None
        if reply.status_code >= 400:
            raise AdminRefused(
                f"{method} {path or '/'} -> {reply.status_code}: {reply.text[:300]}",
                _retry_after(reply, 1.0),
            )
        try:
            return reply_as.model_validate_json(reply.content)
        except ValidationError as exc:
            raise AdminRefused(f"{method} {path or '/'}: unexpected reply: {exc}", 1.0) from exc

    def _view(self, method: str, path: str, body: AdminModel | None = None) -> DeploymentView:
        found = self._call(method, path, body, DeploymentView)
        return found if found is not None else DeploymentView(model=self.model, versions=[])

    def describe(self) -> DeploymentView:
        """The versions on the server now, with their roles and canary shares."""
        return self._view("GET", "")

    def stats(self) -> StatsView:
        """Every version's cumulative counters."""
        found = self._call("GET", "/stats", None, StatsView)
        return found if found is not None else StatsView(model=self.model, versions={})

    def add_version(self, version: str, role: str, canary_share: float = 0.0) -> DeploymentView:
        body = AddVersion.model_validate(
            {"version": version, "role": role, "canary_share": canary_share}
        )
        return self._view("POST", "/versions", body)

    def set_traffic(self, canary_share: float) -> DeploymentView:
        """Give the canary ``canary_share`` (0-1) of the requests."""
        return self._view("PUT", "/traffic", SetTraffic(canary_share=canary_share))

    def promote(self, version: str | None = None) -> DeploymentView:
        return self._view("POST", "/promote", PromoteVersion(version=version))

    def remove(self, version: str) -> DeploymentView:
        return self._view("DELETE", f"/versions/{version}")
