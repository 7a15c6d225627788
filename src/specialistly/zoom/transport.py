"""Sending one request to Zoom with retries: backoff with jitter, honouring Retry-After."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from specialistly.zoom.errors import ZoomRateLimited, ZoomUnavailable


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the caller Zoom is unavailable."""

    # A refresh's lease outlasts all these tries (context.refresh_lease); each try is bounded
    # by the HTTP timeout.
    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 4.0
    # A Retry-After longer than this is not waited out inside a request: the caller decides.
    max_retry_after: float = 10.0
    # False hands every 429 to the caller at once (a sweep pauses as a whole instead).
    retry_rate_limits: bool = True


class _NoCookies(httpx.Cookies):
    """Cookies that are never kept: answers' Set-Cookie headers are not even parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        return None


class ZoomHttpClient(httpx.AsyncClient):
    """The one HTTP client of every call to Zoom, which keeps no cookies.

    It calls Zoom for every specialist (and for the platform's own app): a cookie set on an
    answer to one of them (a gateway's affinity cookie, say) would go with the next call of
    any other. Each call carries its own bearer token and nothing else. httpx reads a
    client's cookies through this property alone, to add them to a request and to keep
    those of each answer (which it parses into `urllib` objects first: 3 % of a booking's
    samples under py-spy, before this).
    """

    _none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the Zoom client keeps no cookies")


def retry_after(response: httpx.Response) -> float | None:
    """Read Retry-After as seconds, from either of its forms."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def transient_for(
    response: httpx.Response, *, server_error_may_have_acted: bool = False
) -> ZoomUnavailable | None:
    """Name a 429 or 5xx answer as a transient failure; other answers are not.

    A 5xx can come from a gateway after Zoom did the work: for a request that is not safe
    to repeat the caller says so, and the outcome is then unknown.
    """
    if response.status_code == 429:
        return ZoomRateLimited("Zoom rate limit (HTTP 429)", retry_after=retry_after(response))
    if response.status_code >= 500:
        return ZoomUnavailable(
            f"Zoom answered HTTP {response.status_code}",
            outcome_unknown=server_error_may_have_acted,
        )
    return None


async def send(
    request: Callable[[], Awaitable[httpx.Response]],
    policy: RetryPolicy,
    *,
    retry_unknown_outcome: bool,
    failures: list[ZoomUnavailable] | None = None,
    server_error_may_have_acted: bool = False,
) -> httpx.Response:
    """Send, retrying transient failures; raise `ZoomUnavailable` when they persist.

    Each failed attempt is appended to `failures` when given. With
    `server_error_may_have_acted` a 5xx counts as an unknown outcome, like a lost answer.
    """

    def retryable(exc: BaseException) -> bool:
        if not isinstance(exc, ZoomUnavailable):
            return False
        if isinstance(exc, ZoomRateLimited) and not policy.retry_rate_limits:
            return False
        if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
            return False
        return retry_unknown_outcome or not exc.outcome_unknown

    async def attempt() -> httpx.Response:
        try:
            return await _once(request, server_error_may_have_acted)
        except ZoomUnavailable as exc:
            if failures is not None:
                failures.append(exc)
            raise

    # Nearly every call is answered the first time: tenacity (1.7 % of a booking's
    # instructions) is set going only once that attempt has failed in a way worth retrying.
    try:
        return await attempt()
    except ZoomUnavailable as exc:
        if policy.attempts < 2 or not retryable(exc):
            raise
        first: ZoomUnavailable | None = exc
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_wait, jitter=policy.initial_wait, max=policy.max_wait
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        pause = backoff(state)
        if isinstance(exc, ZoomUnavailable) and exc.retry_after is not None:
            return max(exc.retry_after, pause * 0.1)
        return pause

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(retryable),
        reraise=True,
    )
    async for tried in retrying:
        with tried:
            if first is not None:
                # Tenacity's own first attempt is the one made above: it meets the same
                # failure, then waits and tries again exactly as if it had made it itself.
                failed, first = first, None
                raise failed
            return await attempt()
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


async def _once(
    request: Callable[[], Awaitable[httpx.Response]], server_error_may_have_acted: bool
) -> httpx.Response:
    try:
        response = await request()
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ZoomUnavailable(f"cannot reach Zoom ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        # Sent, but no complete answer: Zoom may have carried the request out.
        raise ZoomUnavailable(
            f"no answer from Zoom ({type(exc).__name__})", outcome_unknown=True
        ) from None
    transient = transient_for(response, server_error_may_have_acted=server_error_may_have_acted)
    if transient is not None:
        raise transient
    return response


def json_body(response: httpx.Response) -> dict[str, Any]:
    """Parse a JSON object body; anything else (Zoom has sent XML) gives an empty dict."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
