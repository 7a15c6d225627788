"""A sandbox with a state file: a second sandbox on the same file knows what the first did."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.zoomkit import SandboxKit
from zoom_sandbox import SandboxConfig, SandboxStore, SandboxTransport, create_sandbox_app

MEETING = {"topic": "Consultation", "type": 2, "start_time": "2030-01-02T10:00:00Z", "duration": 30}


@asynccontextmanager
async def sandbox_on(path: Path, config: SandboxConfig) -> AsyncIterator[SandboxKit]:
    store = SandboxStore(path)
    app = create_sandbox_app(config, store=store)
    try:
        async with httpx.AsyncClient(
            transport=SandboxTransport(app), base_url="https://zoom.sandbox.test"
        ) as client:
            yield SandboxKit(app=app, config=config, http=client)
    finally:
        store.close()


async def test_a_second_sandbox_on_the_same_file_keeps_tokens_meetings_and_clock(
    tmp_path: Path, sandbox_config: SandboxConfig
) -> None:
    path = tmp_path / "zoom-sandbox.db"
    async with sandbox_on(path, sandbox_config) as first:
        tokens = await first.connect("host@example.com")
        created = await first.api(
            "POST", "/users/me/meetings", tokens["access_token"], json=MEETING
        )
        assert created.status_code == 201
        gone = await first.api("POST", "/users/me/meetings", tokens["access_token"], json=MEETING)
        assert (
            await first.api("DELETE", f"/meetings/{gone.json()['id']}", tokens["access_token"])
        ).status_code == 204
        moved = {"start_time": "2030-01-03T10:00:00Z"}
        meeting_id = created.json()["id"]
        patched = await first.api(
            "PATCH", f"/meetings/{meeting_id}", tokens["access_token"], json=moved
        )
        assert patched.status_code == 204
        await first.advance(3600)
        first_now = first.app.sandbox.clock.now()

    async with sandbox_on(path, sandbox_config) as second:
        assert abs((second.app.sandbox.clock.now() - first_now).total_seconds()) < 5
        # The access token expired with the clock's hour; the refresh token still works.
        expired = await second.api("GET", "/users/me", tokens["access_token"])
        assert expired.status_code == 401
        refreshed = await second.refresh(tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        access = refreshed.json()["access_token"]
        found = await second.api("GET", f"/meetings/{meeting_id}", access)
        assert found.status_code == 200
        assert found.json()["start_time"] == "2030-01-03T10:00:00Z"
        assert found.json()["join_url"] == created.json()["join_url"]
        listed = await second.api("GET", "/users/me/meetings", access)
        assert [m["id"] for m in listed.json()["meetings"]] == [meeting_id]
        page = await second.http.get(httpx.URL(created.json()["join_url"]).path)
        assert page.status_code == 200
        # The rotated refresh token is the only one: the old one is dead after the restart too.
        assert (await second.refresh(tokens["refresh_token"])).status_code == 400
        await second.control("POST", "/reset")

    async with sandbox_on(path, sandbox_config) as third:
        assert (await third.refresh(refreshed.json()["refresh_token"])).status_code == 400
        assert (await third.control("GET", "/stats"))["meetings"]["live"] == 0


async def test_an_ended_grant_stays_ended_after_a_restart(
    tmp_path: Path, sandbox_config: SandboxConfig
) -> None:
    path = tmp_path / "zoom-sandbox.db"
    async with sandbox_on(path, sandbox_config) as first:
        tokens = await first.connect("host@example.com")
        await first.control("POST", "/users/host@example.com/invalidate")
    async with sandbox_on(path, sandbox_config) as second:
        assert (await second.api("GET", "/users/me", tokens["access_token"])).status_code == 401
        assert (await second.refresh(tokens["refresh_token"])).status_code == 400


async def test_an_unreadable_state_file_is_set_aside_and_the_sandbox_starts_empty(
    tmp_path: Path, sandbox_config: SandboxConfig
) -> None:
    path = tmp_path / "zoom-sandbox.db"
    path.write_bytes(b"this is not a database" * 100)
    async with sandbox_on(path, sandbox_config) as sandbox:
        tokens = await sandbox.connect("host@example.com")
        assert (await sandbox.api("GET", "/users/me", tokens["access_token"])).status_code == 200
    assert (tmp_path / "zoom-sandbox.db.unreadable").exists()
    assert path.stat().st_mode & 0o077 == 0
