"""Sending to Zoom: how many times a call is tried, and what its caller hears."""

from collections.abc import Awaitable, Callable

import httpx
import pytest

from specialistly.zoom.errors import ZoomRateLimited, ZoomUnavailable
from specialistly.zoom.transport import RetryPolicy, send

POLICY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002, max_retry_after=1)


def answers(
    *statuses: int | type[httpx.HTTPError],
) -> tuple[Callable[[], Awaitable[httpx.Response]], list[int]]:
    """A request that answers each status in turn (or raises the given httpx error)."""
    sent: list[int] = []

    async def request() -> httpx.Response:
        given = statuses[len(sent)]
        sent.append(1)
        if isinstance(given, type):
            raise given("no answer")
        headers = {"Retry-After": "0"} if given == 429 else {}
        return httpx.Response(given, headers=headers)

    return request, sent


async def test_an_answer_the_first_time_is_one_call_and_no_failure() -> None:
    request, sent = answers(201)
    failures: list[ZoomUnavailable] = []
    response = await send(request, POLICY, retry_unknown_outcome=False, failures=failures)
    assert (response.status_code, len(sent), failures) == (201, 1, [])


async def test_transient_failures_are_tried_again_and_each_is_recorded() -> None:
    request, sent = answers(503, 429, 200)
    failures: list[ZoomUnavailable] = []
    response = await send(request, POLICY, retry_unknown_outcome=True, failures=failures)
    assert (response.status_code, len(sent)) == (200, 3)
    assert [type(f) for f in failures] == [ZoomUnavailable, ZoomRateLimited]


async def test_a_failure_that_lasts_ends_after_the_policys_attempts_with_the_last() -> None:
    request, sent = answers(500, 502, 503, 200)
    failures: list[ZoomUnavailable] = []
    with pytest.raises(ZoomUnavailable, match="503"):
        await send(request, POLICY, retry_unknown_outcome=True, failures=failures)
    assert (len(sent), len(failures)) == (3, 3)


async def test_an_unknown_outcome_is_not_repeated_when_the_caller_says_so() -> None:
    request, sent = answers(httpx.ReadTimeout, 201)
    with pytest.raises(ZoomUnavailable) as raised:
        await send(request, POLICY, retry_unknown_outcome=False)
    assert raised.value.outcome_unknown
    assert len(sent) == 1
    request, sent = answers(502, 201)
    with pytest.raises(ZoomUnavailable):
        await send(request, POLICY, retry_unknown_outcome=False, server_error_may_have_acted=True)
    assert len(sent) == 1


async def test_one_attempt_only_means_no_second() -> None:
    request, sent = answers(503, 200)
    with pytest.raises(ZoomUnavailable):
        await send(request, RetryPolicy(attempts=1), retry_unknown_outcome=True)
    assert len(sent) == 1
