"""The admin API: add, weigh, promote and remove versions, and read per-version stats.

Every route needs ``Authorization: Bearer <admin_token>``; without a configured token the admin
API is disabled (403). Payloads are small pydantic models (the edge); the work is done by
``ModelDeployment``. The registry's ``loader(name, version)`` supplies new versions.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import Conflict
from modelyard.serving.deployment import ModelDeployment
from modelyard.serving.errors import BadRequest, Forbidden, ModelNotFound, Unauthorized
from modelyard.serving.protocol import json_response
from modelyard.serving.source import ModelSource

Loader = Callable[[str, str], ModelSource]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddVersion(_Payload):
    version: str = Field(min_length=1)
    """Registry version to load (through the loader) and warm."""
    role: Literal["canary", "shadow"] = "canary"
    """``canary`` answers ``weight`` of requests; ``shadow`` is mirrored, never answered."""
    weight: float = Field(0.0, ge=0.0, le=1.0)
    """Share of requests the canary answers."""
    method: Literal["predict", "predict_proba"] | None = None
    """Model method; the primary's when unset."""


class Traffic(_Payload):
    canary_weight: float = Field(ge=0.0, le=1.0)
    """Share of requests the canary answers."""


class Promote(_Payload):
    version: str | None = None
    """Version to make primary; the canary (else the shadow) when unset."""


P = TypeVar("P", bound=_Payload)


def _parse(cls: type[P], body: bytes) -> P:
    try:
        return cls.model_validate(orjson.loads(body or b"{}"))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise BadRequest(f"invalid {cls.__name__} payload: {exc}") from exc


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
        return json_response(self.deployment.describe())

    async def stats(self, request: Request) -> Response:
        self._authorize(request)
        view = self.deployment.describe()
        return json_response(
            {
                "model": view["model"],
                "versions": {
                    v["version"]: {"role": v["role"], "weight": v["weight"], **v["stats"]}
                    for v in view["versions"]
                },
            }
        )

    async def add_version(self, request: Request) -> Response:
        self._authorize(request)
        payload = _parse(AddVersion, await request.body())
        if self.loader is None:
            raise Conflict("this server has no loader for other versions")
        source = await asyncio.to_thread(self.loader, self.deployment.name, payload.version)
        # Answers are compared with the primary's, so the method follows it unless named.
        source = replace(source, method=payload.method or self.deployment.primary.source.method)
        await self.deployment.add(source, payload.role, payload.weight)
        return json_response(self.deployment.describe(), 201)

    async def traffic(self, request: Request) -> Response:
        self._authorize(request)
        payload = _parse(Traffic, await request.body())
        self.deployment.set_canary_weight(payload.canary_weight)
        return json_response(self.deployment.describe())

    async def promote(self, request: Request) -> Response:
        self._authorize(request)
        payload = _parse(Promote, await request.body())
        await self.deployment.promote(payload.version)
        return json_response(self.deployment.describe())

    async def remove(self, request: Request) -> Response:
        self._authorize(request)
        await self.deployment.remove(request.path_params["version"])
        return json_response(self.deployment.describe())
