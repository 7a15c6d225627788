"""Zoom's Users and Meetings API: requests with a bearer token, Zoom's errors typed."""

from dataclasses import dataclass
from functools import lru_cache
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
        retry: RetryPolicy | None = None,
        server_error_may_have_acted: bool = False,
    ) -> httpx.Response:
        """Send one call; raise typed errors for 401, 404, other 4xx and transient failures."""
        url = _url((base_url or self._base).rstrip("/") + path)
        response = await send(
            lambda: self._http.request(
                method, url, json=json, params=params, headers={"Authorization": f"Bearer {token}"}
            ),
            retry or self._retry,
            retry_unknown_outcome=retry_unknown_outcome,
            server_error_may_have_acted=server_error_may_have_acted,
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


@lru_cache(maxsize=256)
def _url(text: str) -> httpx.URL:
    """The parsed URL of an endpoint (a host's meetings, one meeting), parsed once: httpx
    parses a string URL in Python on every request, and bookings call the same few."""
    return httpx.URL(text)


@dataclass(frozen=True)
class ZoomMeeting:
    id: int
    join_url: str
    start_url: str
    start_time: str
    agenda: str
    host_id: str = ""  # the Zoom user whose meeting it is


def _meeting(body: dict[str, Any]) -> ZoomMeeting:
    try:
        return ZoomMeeting(
            id=int(body["id"]),
            join_url=str(body["join_url"]),
            start_url=str(body.get("start_url", "")),
            start_time=str(body.get("start_time", "")),
            agenda=str(body.get("agenda", "")),
            host_id=str(body.get("host_id", "")),
        )
    except (KeyError, TypeError, ValueError):
        raise ZoomUnavailable("Zoom's meeting answer was not understood") from None


ONCE = RetryPolicy(attempts=1)


class ZoomMeetings:
    """Create, find, update and delete a host's meetings (`me`: the token's own user)."""

    def __init__(self, api: ZoomApi) -> None:
        self._api = api

    async def create(
        self, token: str, body: dict[str, Any], *, base_url: str | None
    ) -> ZoomMeeting:
        """POST once: a lost answer or a 5xx (a gateway may fail after Zoom created the
        meeting) is not retried here; the caller looks before creating again."""
        response = await self._api.request(
            token,
            "POST",
            "/users/me/meetings",
            json=body,
            base_url=base_url,
            retry_unknown_outcome=False,
            server_error_may_have_acted=True,
        )
        return _meeting(json_body(response))

    async def find_by_agenda(
        self, token: str, marker: str, *, base_url: str | None
    ) -> ZoomMeeting | None:
        """Look through the host's upcoming meetings for one whose agenda carries `marker`."""
        page_token = ""
        while True:
            params: dict[str, str | int] = {"type": "upcoming", "page_size": 300}
            if page_token:
                params["next_page_token"] = page_token
            body = json_body(
                await self._api.request(
                    token, "GET", "/users/me/meetings", params=params, base_url=base_url
                )
            )
            for item in body.get("meetings", []):
                if isinstance(item, dict) and marker in str(item.get("agenda", "")):
                    found = await self._api.request(
                        token, "GET", f"/meetings/{int(item['id'])}", base_url=base_url
                    )
                    return _meeting(json_body(found))
            page_token = str(body.get("next_page_token") or "")
            if not page_token:
                return None

    async def update(
        self, token: str, meeting_id: int, changes: dict[str, Any], *, base_url: str | None
    ) -> None:
        """PATCH the meeting with `changes` (Zoom answers 204; the join link stays).

        The same body sent twice leaves the meeting as once, so a lost answer or a 5xx is
        retried here; when every try goes unanswered, `ZoomUnavailable.outcome_unknown` says
        the change may have happened. An unknown meeting raises `ZoomNotFound`.
        """
        await self._api.request(
            token,
            "PATCH",
            f"/meetings/{int(meeting_id)}",
            json=changes,
            base_url=base_url,
            retry_unknown_outcome=True,
            server_error_may_have_acted=True,
        )

    async def delete(self, token: str, meeting_id: int, *, base_url: str | None) -> bool:
        """Delete a meeting; answer False when Zoom says it is gone already (404 is fine)."""
        try:
            await self._api.request(token, "DELETE", f"/meetings/{meeting_id}", base_url=base_url)
        except ZoomNotFound:
            return False
        return True
