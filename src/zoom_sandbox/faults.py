"""Zoom's failures on demand: errors, latency, lost responses and rate limits."""

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

FaultTarget = Literal["token", "api"]


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    status: int = Field(500, ge=400, le=599)
    latency_ms: int = Field(0, ge=0, le=60_000)
    lose_response_rate: float = Field(0.0, ge=0.0, le=1.0)
    # The operation happens, then the answer is `status` (a gateway error after the work).
    fail_after_success_rate: float = Field(0.0, ge=0.0, le=1.0)
    retry_after_seconds: int | None = Field(None, ge=0, le=86_400)
    # Fail (error or lost response) only this many requests, then behave; None: no end.
    count: int | None = Field(None, ge=0)
    # Zoom has been seen to answer errors with XML bodies; clients must survive them.
    body: Literal["json", "xml"] = "json"


class FaultsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: FaultSpec = Field(default_factory=FaultSpec)
    api: FaultSpec = Field(default_factory=FaultSpec)
    rate_limit_per_second: float | None = Field(None, gt=0)
    seed: int | None = None


@dataclass
class Gate:
    """What the fault layer decided for one request before the operation runs."""

    response: Response | None
    outcome: str
    lose_response: bool
    # Answer this instead once the operation has happened.
    fail_after: Response | None = None


class Faults:
    """Decide, request by request, which configured failure Zoom shows this time."""

    def __init__(self) -> None:
        self.config = FaultsConfig()
        self._rng = random.Random()  # noqa: S311 - fault injection, not cryptography
        self._window_start = 0.0
        self._window_count = 0
        self._failed = {"token": 0, "api": 0}

    def configure(self, config: FaultsConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)  # noqa: S311
        self._window_start, self._window_count = 0.0, 0
        self._failed = {"token": 0, "api": 0}

    def clear(self) -> None:
        self.configure(FaultsConfig())

    async def gate(self, target: FaultTarget, request: Request) -> Gate:
        """Apply latency, the rate limit and injected errors; decide a lost or failed answer.

        Latency is spent before Zoom acts: a client that gave up meanwhile changes nothing.
        """
        spec = self.config.token if target == "token" else self.config.api
        if spec.latency_ms:
            await asyncio.sleep(spec.latency_ms / 1000)
            if await request.is_disconnected():
                return Gate(Response(status_code=499), "client_gone", True)
        if self._over_rate_limit():
            return Gate(
                _rate_limited(target, self.config.rate_limit_per_second), "rate_limited", False
            )
        if spec.count is not None and self._failed[target] >= spec.count:
            return Gate(None, "ok", False)
        if spec.error_rate and self._rng.random() < spec.error_rate:
            self._failed[target] += 1
            return Gate(_injected_error(target, spec), f"http_{spec.status}", False)
        lose = bool(spec.lose_response_rate) and self._rng.random() < spec.lose_response_rate
        self._failed[target] += lose
        if lose or not spec.fail_after_success_rate:
            return Gate(None, "ok", lose)
        if self._rng.random() >= spec.fail_after_success_rate:
            return Gate(None, "ok", False)
        self._failed[target] += 1
        return Gate(None, "ok", False, fail_after=_injected_error(target, spec))

    def _over_rate_limit(self) -> bool:
        limit = self.config.rate_limit_per_second
        if limit is None:
            return False
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > limit


def _rate_limited(target: FaultTarget, limit: float | None) -> Response:
    headers = {
        "X-RateLimit-Category": "Medium",
        "X-RateLimit-Type": "QPS",
        "X-RateLimit-Limit": str(int(limit or 0)),
        "X-RateLimit-Remaining": "0",
    }
    message = "You have reached the maximum per-second rate limit for this API. Try again later."
    if target == "token":
        body: dict[str, object] = {"reason": message, "error": "too_many_requests"}
    else:
        body = {"code": 429, "message": message}
    return JSONResponse(body, status_code=429, headers=headers)


def _injected_error(target: FaultTarget, spec: FaultSpec) -> Response:
    headers: dict[str, str] = {}
    if spec.retry_after_seconds is not None:
        headers["Retry-After"] = str(spec.retry_after_seconds)
    if spec.status == 429:
        headers.update({"X-RateLimit-Type": "QPS", "X-RateLimit-Remaining": "0"})
    message = "Too many requests" if spec.status == 429 else "Internal server error"
    if spec.body == "xml":
        xml = (
            f"<?xml version='1.0'?><error><code>{spec.status}</code>"
            f"<message>{message}</message></error>"
        )
        return Response(xml, status_code=spec.status, media_type="text/xml", headers=headers)
    if target == "token":
        body: dict[str, object] = {"reason": message, "error": "server_error"}
    else:
        body = {"code": spec.status, "message": message}
    return JSONResponse(body, status_code=spec.status, headers=headers)
