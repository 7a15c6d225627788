"""`/dev/mailbox`: in sandbox mode every email the app wrote, readable, with its files; 404
in any other mode."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from specialistly.app import create_app
from specialistly.config import Settings, with_generated_secrets
from specialistly.db import upgrade_async
from specialistly.web.mailbox import linked
from tests.harness import Harness


@pytest.fixture
async def sandboxed(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path}/app.db"
    await upgrade_async(url)
    settings = with_generated_secrets(
        Settings(_env_file=None, zoom_mode="sandbox", database_url=url, var_dir=tmp_path)  # type: ignore[call-arg]
    )
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield client
    finally:
        await app.state.ctx.close()


async def test_the_mailbox_shows_the_confirmation_and_its_invitation(
    sandboxed: httpx.AsyncClient,
) -> None:
    browser = sandboxed
    assert "No emails yet" in (await browser.get("/dev/mailbox")).text
    body = {
        "name": "Dana <b>Specialist</b>",
        "email": "dana@example.com",
        "password": "correct horse battery",
        "timezone": "Europe/Berlin",
    }
    assert (await browser.post("/api/v1/specialists", json=body)).status_code == 201
    clock = (await browser.get("/zoom-sandbox/_control/clock")).json()["now"]
    start = (datetime.fromisoformat(clock) + timedelta(days=2)).replace(
        minute=0, second=0, microsecond=0
    )
    slot = await browser.post(
        "/api/v1/slots", json={"start_time": start.isoformat(), "duration_minutes": 30}
    )
    assert slot.status_code == 201, slot.text
    booked = await browser.post(
        "/api/v1/bookings",
        json={
            "slot_id": slot.json()["id"],
            "customer_name": "Casey <script>alert(1)</script>",
            "customer_email": "casey@example.com",
        },
    )
    assert booked.status_code == 201, booked.text

    inbox = await browser.get("/dev/mailbox")
    assert inbox.status_code == 200
    assert inbox.headers["cache-control"] == "no-store"
    assert "casey@example.com" in inbox.text
    assert "invite.ics" in inbox.text
    assert "<script>alert" not in inbox.text
    ids = [int(part.split('"')[0]) for part in inbox.text.split('href="/dev/mailbox/')[1:]]
    assert ids == sorted(ids, reverse=True), "newest first"

    for email_id in ids:
        page = await browser.get(f"/dev/mailbox/{email_id}")
        assert page.status_code == 200
        if "<dd>casey@example.com</dd>" in page.text:
            break
    else:
        raise AssertionError(f"no email to the customer among {ids}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text
    manage = f"/bookings/{booked.json()['id']}?token="
    assert f'<a href="http://127.0.0.1:8000{manage}' in page.text
    download = page.text.split('href="/dev/mailbox/')[1].split('"')[0]
    file = await browser.get("/dev/mailbox/" + download)
    assert file.status_code == 200
    assert file.headers["content-type"].startswith("text/calendar")
    assert "method=REQUEST" in file.headers["content-type"]
    assert file.headers["content-disposition"] == "attachment; filename*=UTF-8''invite.ics"
    assert file.text.startswith("BEGIN:VCALENDAR")

    for missing in ("/dev/mailbox/999999", f"/dev/mailbox/{email_id}/files/7/invite.ics"):
        gone = await browser.get(missing)
        assert gone.status_code == 404
        assert "text/html" in gone.headers["content-type"]
    assert (await browser.get("/dev/mailbox/abc")).status_code == 404


async def test_the_mailbox_does_not_exist_outside_sandbox_mode(h: Harness) -> None:
    for path in ("/dev/mailbox", "/dev/mailbox/1", "/dev/mailbox/1/files/0/invite.ics"):
        answer = await h.client().get(path)
        assert answer.status_code == 404
        assert "text/html" in answer.headers["content-type"]


def test_plain_text_is_escaped_and_its_links_made_clickable() -> None:
    html = str(linked('Join: https://x.test/j/1?pwd=a&b=c.\n<img src=x onerror="y">'))
    assert '<a href="https://x.test/j/1?pwd=a&amp;b=c" rel="noreferrer">' in html
    assert "</a>.\n&lt;img src=x onerror=&#34;y&#34;&gt;" in html
