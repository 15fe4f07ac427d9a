"""The admin API: add, weigh, promote and remove versions, and read per-version stats.

Every route needs ``Authorization: Bearer <admin_token>``; without a configured token the admin
API is disabled (403). Requests and replies are the pydantic models of
:mod:`modelyard.serving.admin.models`, the wire contract the typed client shares; the work is
done by ``ModelDeployment``. The registry's ``loader(name, version)`` supplies new versions.
Every input error is a 4xx with a message: a version that is no registry version number is a
400 before the loader sees it, and a loader that cannot find or parse it is a 404 or a 400.
The models (and pydantic) are imported at the first admin call: a replica that is never
steered does not hold them (about 7 MiB).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import Conflict
from modelyard.serving.dataplane.deployment import ModelDeployment
from modelyard.serving.options import ModelSource
from modelyard.serving.protocol.errors import BadRequest, Forbidden, ModelNotFound, Unauthorized
from modelyard.serving.protocol.http import json_response

if TYPE_CHECKING:
    from modelyard.serving.admin.models import AdminModel, DeploymentView, StatsView

Loader = Callable[[str, str], ModelSource]


P = TypeVar("P", bound="AdminModel")


def _parse(cls: type[P], body: bytes) -> P:
    from pydantic import ValidationError

    try:
        return cls.model_validate(orjson.loads(body or b"{}"))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise BadRequest(f"invalid {cls.__name__} payload: {exc}") from exc


def registry_version(text: str) -> str:
    """``text`` if it is a registry version number (``"3"``), else a 400 naming it."""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 9 and int(text) > 0):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise BadRequest(f"version {shown!r} is not a registry version number (1, 2, ...)")
    return text


def deployment_view(deployment: ModelDeployment) -> DeploymentView:
    """The admin view of ``deployment`` in the wire contract's terms."""
    from modelyard.serving.admin.models import DeploymentView, ServedVersion

    described = deployment.describe()
    return DeploymentView(
        model=described["model"],
        versions=[
            ServedVersion(
                version=v["version"],
                role=v["role"],
                canary_share=v["weight"],
                ready=v["ready"],
                method=v["method"],
                stats=v["stats"],
            )
            for v in described["versions"]
        ],
    )


def stats_view(view: DeploymentView) -> StatsView:
    """Every version's cumulative counters, keyed by version."""
    from modelyard.serving.admin.models import StatsView, VersionStats

    versions: dict[str, VersionStats] = {}
    for v in view.versions:
        counters: dict[str, Any] = dict(v.stats)
        versions[v.version] = VersionStats(role=v.role, canary_share=v.canary_share, **counters)
    return StatsView(model=view.model, versions=versions)


def _reply(model: AdminModel, status: int = 200) -> Response:
    return json_response(model.model_dump(mode="json"), status)


class AdminApi:
    """Admin handlers for one deployment."""

    def __init__(self, deployment: ModelDeployment, token: str | None, loader: Loader | None):
        self.deployment = deployment
        self.token = token
        self.loader = loader

    def _authorize(self, request: Request) -> None:
        if self.token is None:
            raise Forbidden("the admin API is disabled: start the server with an admin token")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise Unauthorized("send 'Authorization: Bearer <admin token>'")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise Forbidden("the admin token is wrong")
        if request.path_params["name"] != self.deployment.name:
            raise ModelNotFound(f"model {request.path_params['name']!r} is not served here")

    async def describe(self, request: Request) -> Response:
        self._authorize(request)
        return _reply(deployment_view(self.deployment))

    async def stats(self, request: Request) -> Response:
        self._authorize(request)
        return _reply(stats_view(deployment_view(self.deployment)))

    async def add_version(self, request: Request) -> Response:
        self._authorize(request)
        from modelyard.serving.admin.models import AddVersion

        payload = _parse(AddVersion, await request.body())
        if self.loader is None:
            raise Conflict("this server has no loader for other versions")
        version = registry_version(payload.version)
        try:
            source = await asyncio.to_thread(self.loader, self.deployment.name, version)
        except LookupError as exc:
            raise ModelNotFound(f"version {version} of {self.deployment.name!r}: {exc}") from exc
        except ValueError as exc:
            raise BadRequest(f"version {version} of {self.deployment.name!r}: {exc}") from exc
        # Answers are compared with the primary's, so the method follows it unless named.
        source = replace(source, method=payload.method or self.deployment.primary.source.method)
        await self.deployment.add(source, payload.role, payload.canary_share)
        return _reply(deployment_view(self.deployment), 201)

    async def traffic(self, request: Request) -> Response:
        self._authorize(request)
        from modelyard.serving.admin.models import SetTraffic

        payload = _parse(SetTraffic, await request.body())
        self.deployment.set_canary_weight(payload.canary_share)
        return _reply(deployment_view(self.deployment))

    async def promote(self, request: Request) -> Response:
        self._authorize(request)
        from modelyard.serving.admin.models import PromoteVersion

        payload = _parse(PromoteVersion, await request.body())
        named = None if payload.version is None else registry_version(payload.version)
        await self.deployment.promote(named)
        return _reply(deployment_view(self.deployment))

    async def remove(self, request: Request) -> Response:
        self._authorize(request)
        await self.deployment.remove(registry_version(request.path_params["version"]))
        return _reply(deployment_view(self.deployment))
