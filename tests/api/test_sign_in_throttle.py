"""Sign-in throttling in the database: per account and per client address, parallel-proof."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.harness import APP, Harness, harness

PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, and again a fresh PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/app.db"


@pytest.fixture
async def hd(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The app in live mode on that database."""
    async with harness(database_url, tmp_path) as ready:
        yield ready


def from_address(h: Harness, host: str) -> httpx.AsyncClient:
    """A browser at another client address."""
    transport = httpx.ASGITransport(app=h.app, client=(host, 50_000))
    return httpx.AsyncClient(transport=transport, base_url=APP)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_thirty_parallel_wrong_passwords_for_one_account_let_at_most_five_be_judged(
    hd: Harness,
) -> None:
    await hd.sign_up("target@example.com")
    client = hd.client()
    answers = await asyncio.gather(
        *(log_in(client, "target@example.com", f"guess {n}") for n in range(30))
    )
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {401, 429}, [a.text for a in answers if a.status_code >= 500]
    assert statuses[401] <= 5
    assert statuses[429] >= 25
    for refused in (a for a in answers if a.status_code == 429):
        assert int(refused.headers["retry-after"]) >= 1


async def test_spraying_one_password_over_thirty_accounts_from_one_address_is_slowed(
    hd: Harness,
) -> None:
    emails = [f"sprayed{n}@example.com" for n in range(30)]
    await asyncio.gather(*(hd.sign_up(email) for email in emails))
    sprayer = from_address(hd, "198.51.100.7")

    async def spray(n: int) -> httpx.Response:
        # A forwarded-for header is the client's word, not its address: it changes nothing.
        return await sprayer.post(
            "/api/v1/auth/login",
            json={"email": emails[n], "password": "Summer2026!"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )

    first = await asyncio.gather(*(spray(n) for n in range(19)))
    assert [a.status_code for a in first] == [401] * 19
    # Together, so the one-second block the twentieth failure starts covers the rest however
    # long its password check takes on a busy machine.
    rest = await asyncio.gather(*(spray(n) for n in range(19, 30)))
    assert sorted(a.status_code for a in rest) == [401] + [429] * 10
    assert all(int(a.headers["retry-after"]) >= 1 for a in rest if a.status_code == 429)
    # The sprayed accounts are not locked for their owners elsewhere.
    owner = from_address(hd, "192.0.2.44")
    assert (await log_in(owner, emails[-1], PASSWORD)).status_code == 200


async def test_thirty_parallel_sprayed_sign_ins_from_one_address_let_at_most_twenty_be_judged(
    hd: Harness,
) -> None:
    sprayer = from_address(hd, "198.51.100.8")
    answers = await asyncio.gather(
        *(log_in(sprayer, f"nobody{n}@example.com", "Summer2026!") for n in range(30))
    )
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {401, 429}
    assert statuses[401] <= 20
    assert statuses[429] >= 10


async def test_a_success_clears_the_account_count_but_not_the_address_count(hd: Harness) -> None:
    await hd.sign_up("mine@example.com")
    browser = from_address(hd, "198.51.100.9")
    for n in range(15):  # fifteen failures over other accounts from this address
        assert (await log_in(browser, f"other{n}@example.com", "nope")).status_code == 401
    for _ in range(4):
        assert (await log_in(browser, "mine@example.com", "typo")).status_code == 401
    assert (await log_in(browser, "mine@example.com", PASSWORD)).status_code == 200
    # The account starts again at five free tries; the address is still on 19 failures, so
    # of two tries at once one is the address's twentieth failure and the other is refused.
    again = await asyncio.gather(*(log_in(browser, "mine@example.com", "typo") for _ in "ab"))
    assert sorted(a.status_code for a in again) == [401, 429]
    await hd.advance(16 * 60)  # fifteen quiet minutes after the block forget both counts
    after = await asyncio.gather(*(log_in(browser, "mine@example.com", "typo") for _ in range(6)))
    assert sorted(a.status_code for a in after) == [401] * 5 + [429]
