"""Fixtures shared by every tier: a strict Zoom sandbox and clients that talk to it."""

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.harness import Harness, harness

if TYPE_CHECKING:
    from argon2 import PasswordHasher
from tests.zoomkit import SandboxKit
from zoom_sandbox import OAuthApp, SandboxConfig, SandboxTransport, create_sandbox_app

REDIRECT_URI = "https://app.example.test/api/zoom/oauth/user-callback"


def make_sandbox_config(**changes: object) -> SandboxConfig:
    """A sandbox with a user-managed app and a different Server-to-Server app."""
    user_app = OAuthApp(
        client_id="um_" + secrets.token_hex(8),
        client_secret=secrets.token_urlsafe(24),
        kind="user_managed",
        scopes=tuple(str(changes.pop("scopes", "")).split())
        or (
            "user:read:user",
            "meeting:read:meeting",
            "meeting:write:meeting",
            "meeting:update:meeting",
            "meeting:delete:meeting",
        ),
        redirect_uris=(REDIRECT_URI,),
    )
    s2s_app = OAuthApp(
        client_id="s2s_" + secrets.token_hex(8),
        client_secret=secrets.token_urlsafe(24),
        kind="server_to_server",
        scopes=user_app.scopes,
        account_id="acct_" + secrets.token_hex(4),
    )
    values: dict[str, object] = {
        "user_app": user_app,
        "s2s_app": s2s_app,
        "webhook_secret_token": secrets.token_urlsafe(16),
    }
    values.update(changes)
    return SandboxConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return make_sandbox_config()


@pytest.fixture
async def kit(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxKit]:
    app = create_sandbox_app(sandbox_config)
    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url="https://zoom.sandbox.test"
    ) as client:
        yield SandboxKit(app=app, config=sandbox_config, http=client)


def require_postgres() -> bool:
    return os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    admin_url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if require_postgres():
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = "specialistly_test_" + secrets.token_hex(6)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes() -> Iterator[None]:
    """In-process tests hash passwords with argon2id at its lowest cost (about 1 ms instead
    of 110 ms per hash): the same code path, without a minute of CPU spent on sign-ups. The
    servers that subprocess tests start keep the real cost; `REAL_HASHER` is checked below."""
    from argon2 import PasswordHasher

    from specialistly import security

    saved = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._dummy_hash.cache_clear()  # made again with the quick hasher
    REAL_HASHER.append(saved)
    yield
    security._hasher = saved
    security._dummy_hash.cache_clear()


REAL_HASHER: list["PasswordHasher"] = []


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The app on SQLite in live mode against an in-process sandbox."""
    async with harness(f"sqlite:///{tmp_path}/app.db", tmp_path) as ready:
        yield ready
