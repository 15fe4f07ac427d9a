"""A typed client of the model server's admin API.

It speaks the wire contract of :mod:`modelyard.serving.admin.models` (the same models the
server's routes use) and translates transport failures once: a server that does not answer is
:class:`ServerUnreachable`, a refusal is :class:`AdminRefused`; both keep ``Retry-After``.
What the calls mean for a rollout (ensure semantics, actions) is the local backend's business
(:mod:`modelyard.backends.local.actuator`).

The transport is the standard library's ``http.client`` on one kept-alive connection: the
admin API is plain HTTP/1.1 JSON on loopback or inside a pod, and a steering command (a
rollback is a user's emergency) should not pay httpx's imports and TLS context, a third of a
second, before its one call.
"""

from __future__ import annotations

import http.client
import json
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from modelyard.errors import ConfigError, Unavailable
from modelyard.serving.admin.models import (
    AddVersion,
    AdminModel,
    DeploymentView,
    PromoteVersion,
    SetTraffic,
    StatsView,
)

M = TypeVar("M", bound=AdminModel)


class ServerUnreachable(Unavailable):
    """The model server did not answer its admin API (down, or restarting)."""


class AdminRefused(Unavailable):
    """The server's admin API refused a call (e.g. the version failed to load)."""


def _retry_after(reply: http.client.HTTPResponse, default: float) -> float:
    try:
        return float(reply.getheader("retry-after", str(default)))
    except ValueError:
        return default


class AdminClient:
    """The admin API of the server of ``model`` at ``url``."""

    def __init__(self, url: str, model: str, token: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"admin API URL {url!r}: expected http://HOST:PORT")
        self.url = url
        self.model = model
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes, float]:
        """Send one request on the kept-alive connection (a fresh one when the server closed
        it in between); answer status, body and ``Retry-After``."""
        headers = dict(self._headers)
        if payload is not None:
            headers["content-type"] = "application/json"
        reused = self._conn is not None
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            self._conn.request(method, self._prefix + path, body=payload, headers=headers)
            reply = self._conn.getresponse()
            content = reply.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # the server closed the kept-alive connection while it was idle: once more, afresh
            return self._exchange(method, path, payload)
        if reply.will_close:
            self.close()
        return reply.status, content, _retry_after(reply, 1.0)

    def _call(self, method: str, path: str, body: AdminModel | None, reply_as: type[M]) -> M | None:
        """One call; ``None`` when the server answers 404 (nothing to act on)."""
        payload = (
            None
            if body is None
            else json.dumps(body.model_dump(mode="json", exclude_none=True)).encode()
        )
        try:
            status, content, retry = self._exchange(
                method, f"/admin/models/{self.model}{path}", payload
            )
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerUnreachable(f"model server at {self.url}: {exc!r}", 1.0) from exc
        if status == 404:
            return None
        if status >= 400:
            text = content[:300].decode("utf-8", "replace")
            raise AdminRefused(f"{method} {path or '/'} -> {status}: {text}", retry)
        try:
            return reply_as.model_validate_json(content)
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
