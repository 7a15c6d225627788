"""/healthz answers while serving; /readyz only once the database is reachable and migrated."""

from pathlib import Path

import httpx
import pytest

from specialistly.app import create_app
from specialistly.config import load_settings
from specialistly.db import upgrade_async


async def _get(url: str, path: str, tmp_path: Path) -> httpx.Response:
    app = create_app(load_settings(_env_file=None, var_dir=tmp_path, database_url=url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get(path)
    await app.state.ctx.db.dispose()
    return answer


async def test_healthz_answers_ok(tmp_path: Path) -> None:
    answer = await _get(f"sqlite:///{tmp_path}/h.db", "/healthz", tmp_path)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_readyz_waits_for_migrations_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    before = await _get(url, "/readyz", tmp_path)
    assert before.status_code == 503
    assert "specialistly db upgrade" in before.json()["detail"]
    await upgrade_async(url)
    after = await _get(url, "/readyz", tmp_path)
    assert after.status_code == 200


async def test_readyz_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    answer = await _get("postgresql://nobody@127.0.0.1:9/none", "/readyz", tmp_path)
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("database unreachable")


@pytest.mark.postgres
async def test_migrations_run_and_readyz_passes_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    assert (await _get(postgres_url, "/readyz", tmp_path)).status_code == 503
    await upgrade_async(postgres_url)
    assert (await _get(postgres_url, "/readyz", tmp_path)).status_code == 200
