"""The outbox: emails written with their cause, delivered by SMTP or kept with a log line."""

import logging
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from specialistly.notifications.email import LogSender, SmtpSender, deliver_outbox
from specialistly.notifications.service import Email
from tests.harness import Harness
from tests.servers import BIN, clean_env, free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"


async def _queue(h: Harness, to: str) -> None:
    async with h.ctx.db.transaction() as session:
        h.ctx.notifier.queue_email(session, Email(to, "Hello", "Body text", "test"))


async def test_emails_go_out_by_smtp_once(h: Harness) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await _queue(h, "customer@example.com")
        sender = SmtpSender(f"smtp://127.0.0.1:{port}")
        assert await deliver_outbox(h.ctx.db, sender, h.ctx.clock, h.ctx.cipher) == 1
        assert await deliver_outbox(h.ctx.db, sender, h.ctx.clock, h.ctx.cipher) == 0
    finally:
        controller.stop()
    [(_, to, content)] = inbox.messages
    assert to == ["customer@example.com"]
    assert b"Subject: Hello" in content
    [(sent_at, attempts)] = await h.raw("SELECT sent_at, attempts FROM outbox_emails")
    assert sent_at is not None
    assert attempts == 1


async def test_an_unreachable_smtp_server_keeps_the_email_for_later(h: Harness) -> None:
    await _queue(h, "later@example.com")
    sender = SmtpSender(f"smtp://127.0.0.1:{free_port()}")
    assert await deliver_outbox(h.ctx.db, sender, h.ctx.clock, h.ctx.cipher) == 0
    [(sent_at, error)] = await h.raw("SELECT sent_at, last_error FROM outbox_emails")
    assert sent_at is None
    assert error == "ConnectionRefusedError"


async def test_without_smtp_the_outbox_keeps_the_email_and_the_log_says_so(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await _queue(h, "logged@example.com")
    assert await deliver_outbox(h.ctx.db, LogSender(), h.ctx.clock, h.ctx.cipher) == 1
    assert "Email kept in the outbox (SMTP_URL not set): to=logged@example.com" in caplog.text
    assert len(await h.raw("SELECT id FROM outbox_emails")) == 1


def test_jobs_run_once_runs_a_job_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    env = clean_env(VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/j.db")
    binary = str(BIN / "specialistly")
    subprocess.run([binary, "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=60)
    done = subprocess.run(
        [binary, "jobs", "run-once", "outbox"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sent=0"
    unknown = subprocess.run(
        [binary, "jobs", "run-once", "nope"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2
    assert "keepalive" in unknown.stderr
