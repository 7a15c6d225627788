"""Zoom's failures as typed exceptions, named for what they mean to a caller."""


class ZoomError(Exception):
    """Anything Zoom answered (or failed to answer) that is not success."""


class ZoomTokenRejected(ZoomError):
    """The token endpoint refused the request with an OAuth error."""

    def __init__(self, error: str, reason: str, *, after_lost_answer: bool = False) -> None:
        super().__init__(f"{error}: {reason}")
        self.error, self.reason = error, reason
        # True when an earlier attempt of the same call got no answer: Zoom may have acted.
        self.after_lost_answer = after_lost_answer

    @property
    def grant_is_dead(self) -> bool:
        # Zoom answers a dead refresh token with invalid_grant (older answers: invalid_request).
        return self.error in ("invalid_grant", "invalid_request")


class ZoomUnavailable(ZoomError):
    """Zoom failed for now (timeout, lost connection, 5xx, 429); trying later may work.

    `outcome_unknown` is true when the request may have been carried out although no
    answer arrived (a lost response), so a retry might repeat it.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.outcome_unknown = reason, retry_after, outcome_unknown


class ZoomRateLimited(ZoomUnavailable):
    """Zoom answered 429."""


class ZoomAccessTokenRejected(ZoomError):
    """An API call got 401 (code 124): the access token is invalid or expired."""


class ZoomApiError(ZoomError):
    """An API call got a 4xx answer other than 401 and 429."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status} code {code}: {message}")
        self.status, self.code, self.message = status, code, message


class ZoomNotFound(ZoomApiError):
    """The meeting or user does not exist (404, code 3001 or 1001)."""
