"""Operators' commands: tokens list/show/refresh never print a token; keys rotate is resumable."""

import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from specialistly.ops import refresh_now, rotate_keys, token_statuses
from specialistly.security import TokenCipher
from tests.harness import Harness
from tests.integration.test_postgres import _env_for
from tests.servers import BIN


def cli(h: Harness, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "specialistly"), *args],
        env=_env_for(h.settings) | env,
        cwd=h.settings.var_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def issued_tokens(h: Harness, zoom_email: str) -> list[str]:
    issued = await h.control("GET", f"/users/{zoom_email}/tokens")
    values = [t["access_token"] for t in issued["access_tokens"]]
    return values + ([issued["refresh_token"]["refresh_token"]] if issued["refresh_token"] else [])


async def test_tokens_list_and_show_tell_status_but_never_a_token(h: Harness) -> None:
    await h.connected("listed@zoom.example.com")
    await h.sign_up("unconnected@example.com")
    listed = cli(h, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert "listed@zoom.example.com" in listed.stdout
    assert "connected" in listed.stdout
    assert "not_connected" in listed.stdout
    shown = cli(h, "tokens", "show", "unconnected@example.com")
    assert shown.returncode == 0
    assert "unconnected@example.com" in shown.stdout
    assert cli(h, "tokens", "show", "nobody@example.com").returncode == 1
    for token in await issued_tokens(h, "listed@zoom.example.com"):
        assert token not in listed.stdout + listed.stderr + shown.stdout


async def test_tokens_refresh_refreshes_now(h: Harness) -> None:
    _, specialist = await h.connected("fresh@zoom.example.com")
    await h.advance(600)
    await refresh_now(h.ctx, specialist)
    assert await h.refreshes() == 1
    [status] = await token_statuses(h.ctx, str(specialist))
    assert status.status == "connected"
    assert status.minutes_left == 59


class Interrupted(Exception):
    pass


async def test_keys_rotate_interrupted_and_run_again_leaves_everything_under_the_newest_key(
    h: Harness,
) -> None:
    old = h.ctx.cipher
    zoom_emails = [f"rot{i}@zoom.example.com" for i in range(3)]
    for email in zoom_emails:
        browser, _ = await h.connected(email)
        await h.book(await h.add_slot(browser))
    await browser.get("/api/v1/zoom/connect")  # a pending OAuth state holds a verifier too
    newest = Fernet.generate_key().decode()
    keys = [newest, *h.settings.encryption_keys]
    rotated = TokenCipher(keys)

    calls = 0

    def stop_after_two(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_keys(h.ctx.db, rotated, batch=1, progress=stop_after_two)
    columns = await _stored(h)
    assert {TokenCipher.key_id_of(v) for v in columns} == {old.newest_key_id, rotated.newest_key_id}
    for value in columns:  # old and new keys both read meanwhile
        rotated.decrypt(value)
    await rotate_keys(h.ctx.db, rotated)
    assert await rotate_keys(h.ctx.db, rotated) == 0  # twice is safe
    only_newest = TokenCipher([newest])
    columns = await _stored(h)
    assert {TokenCipher.key_id_of(v) for v in columns} == {rotated.newest_key_id}
    dump = repr(await h.raw("SELECT * FROM zoom_connections")) + repr(
        await h.raw("SELECT * FROM bookings")
    )
    for email in zoom_emails:
        for token in await issued_tokens(h, email):
            assert token not in dump
            assert token in {only_newest.decrypt(v) for v in columns}


async def test_keys_rotate_rewrites_values_an_earlier_version_wrote_in_fernets_format(
    h: Harness,
) -> None:
    await h.connected("legacy@zoom.example.com")
    cipher = h.ctx.cipher
    [(connection_id, stored)] = await h.raw("SELECT id, refresh_token FROM zoom_connections")
    plaintext = cipher.decrypt(stored)
    key = h.settings.encryption_keys[0]
    legacy = f"{cipher.newest_key_id}:{Fernet(key.encode()).encrypt(plaintext.encode()).decode()}"
    await h.raw_write(
        "UPDATE zoom_connections SET refresh_token = :v WHERE id = :id", v=legacy, id=connection_id
    )
    assert not cipher.is_current(legacy)
    assert await rotate_keys(h.ctx.db, cipher) == 1  # the same key: only the format changes
    [(rewritten,)] = await h.raw("SELECT refresh_token FROM zoom_connections")
    assert cipher.is_current(rewritten)
    assert cipher.decrypt(rewritten) == plaintext
    assert await rotate_keys(h.ctx.db, cipher) == 0


async def _stored(h: Harness) -> list[str]:
    rows = await h.raw(
        "SELECT access_token FROM zoom_connections UNION ALL SELECT refresh_token FROM "
        "zoom_connections UNION ALL SELECT manage_token FROM bookings UNION ALL "
        "SELECT start_url FROM bookings UNION ALL SELECT code_verifier FROM oauth_states"
    )
    return [value for (value,) in rows if value]


async def test_the_keys_rotate_command_reports_what_it_did(h: Harness, tmp_path: Path) -> None:
    await h.connected("cmd@zoom.example.com")
    keys = ",".join([Fernet.generate_key().decode(), *h.settings.encryption_keys])
    done = cli(h, "keys", "rotate", TOKEN_ENCRYPTION_KEYS=keys)
    assert done.returncode == 0, done.stderr
    assert "2 value(s) re-encrypted" in done.stdout
    again = cli(h, "keys", "rotate", TOKEN_ENCRYPTION_KEYS=keys)
    assert "0 value(s) re-encrypted" in again.stdout
    assert keys.split(",")[0] not in done.stdout + done.stderr
