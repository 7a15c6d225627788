"""Zoom's Users and Meetings API: requests with a bearer token, Zoom's errors typed."""

from dataclasses import dataclass
from typing import Any

import httpx

from specialistly.zoom.errors import (
    ZoomAccessTokenRejected,
    ZoomApiError,
    ZoomNotFound,
    ZoomUnavailable,
)
from specialistly.zoom.transport import RetryPolicy, json_body, send


@dataclass(frozen=True)
class ZoomUser:
    id: str
    email: str
    account_id: str | None


class ZoomApi:
    """Call Zoom's REST API with a given access token; knows nothing of where tokens live."""

    def __init__(self, http: httpx.AsyncClient, *, api_base_url: str, retry: RetryPolicy) -> None:
        self._http, self._base, self._retry = http, api_base_url.rstrip("/"), retry

    async def request(
        self,
        token: str,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str | int] | None = None,
        base_url: str | None = None,
        retry_unknown_outcome: bool = True,
    ) -> httpx.Response:
        """Send one call; raise typed errors for 401, 404, other 4xx and transient failures."""
        url = (base_url or self._base).rstrip("/") + path
        response = await send(
            lambda: self._http.request(
                method, url, json=json, params=params, headers={"Authorization": f"Bearer {token}"}
            ),
            self._retry,
            retry_unknown_outcome=retry_unknown_outcome,
        )
        if response.status_code < 400:
            return response
        body = json_body(response)
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = str(body.get("message", response.reason_phrase))
        if response.status_code == 401:
            raise ZoomAccessTokenRejected(message)
        if response.status_code == 404:
            raise ZoomNotFound(404, code, message)
        raise ZoomApiError(response.status_code, code, message)

    async def me(self, token: str, *, base_url: str | None = None) -> ZoomUser:
        body = json_body(await self.request(token, "GET", "/users/me", base_url=base_url))
        try:
            return ZoomUser(str(body["id"]), str(body["email"]), body.get("account_id"))
        except KeyError:
            raise ZoomUnavailable("Zoom's /users/me answer was not understood") from None
