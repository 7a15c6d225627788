"""The outbox: emails written with their cause, delivered by SMTP over TLS or kept with a log line.

Every test here talks to a real SMTP server (aiosmtpd) through the app's own settings and job.
"""

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from specialistly.jobs import run_once
from specialistly.notifications.message import OutgoingEmail
from specialistly.notifications.outbox import SEND_AT_ONCE, deliver_outbox
from specialistly.notifications.service import Email
from tests.harness import Harness, harness
from tests.servers import BIN, clean_env, free_port
from tests.smtp import PASSWORD, USER, Inbox, smtp_server


@asynccontextmanager
async def mailing(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    """The app with these SMTP settings (SMTP_URL, SMTP_CA_FILE)."""
    async with harness(f"sqlite:///{tmp_path}/app.db", tmp_path, **settings) as ready:
        yield ready


async def queue(h: Harness, to: str, subject: str = "Hello", body: str = "Body text") -> None:
    async with h.ctx.db.transaction() as session:
        h.ctx.notifier.queue_email(session, Email(to, subject, body, "test"))


async def outbox_rows(h: Harness) -> list[Any]:
    return await h.raw(
        "SELECT to_address, status, attempts, last_error FROM outbox_emails ORDER BY id"
    )


async def test_the_app_logs_in_over_starttls_and_the_message_arrives(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="starttls") as server:
        url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with mailing(tmp_path, smtp_url=url, smtp_ca_file=server.cert) as h:
            await queue(h, "customer@example.com")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 1
            assert (await run_once(h.ctx, "outbox"))["sent"] == 0
            rows = await outbox_rows(h)
    assert server.inbox.logins == [(USER, True)]  # AUTH happened inside TLS, and only once
    [(to, message)] = server.inbox.messages
    assert to == ["customer@example.com"]
    assert message["Subject"] == "Hello"
    assert rows == [("customer@example.com", "sent", 1, None)]


async def test_smtps_sends_over_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="implicit") as server:
        url = f"smtps://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with mailing(tmp_path, smtp_url=url, smtp_ca_file=server.cert) as h:
            await queue(h, "tls@example.com")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 1
    assert server.inbox.logins == [(USER, True)]
    assert server.inbox.recipients() == ["tls@example.com"]


async def test_a_password_is_never_sent_to_a_server_without_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with mailing(tmp_path, smtp_url=url) as h:
            await queue(h, "clear@example.com")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 0
            [(_, status, attempts, error)] = await outbox_rows(h)
    assert server.inbox.logins == []
    assert server.inbox.messages == []
    assert (status, attempts) == ("pending", 1)
    assert "offers no STARTTLS" in error
    assert PASSWORD not in error


async def test_a_certificate_the_app_does_not_trust_stops_the_message(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="starttls") as server:
        url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with mailing(tmp_path, smtp_url=url) as h:  # no SMTP_CA_FILE: system CAs only
            await queue(h, "untrusted@example.com")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 0
            [(_, status, _, error)] = await outbox_rows(h)
    assert server.inbox.logins == []
    assert status == "pending"
    assert "CERTIFICATE_VERIFY_FAILED" in error or "certificate" in error.lower()


async def test_a_message_the_server_refuses_does_not_hold_back_the_next(tmp_path: Path) -> None:
    inbox = Inbox(refuse={"refused@example.com"})
    with smtp_server(tmp_path, tls="starttls", inbox=inbox) as server:
        url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with mailing(tmp_path, smtp_url=url, smtp_ca_file=server.cert) as h:
            await queue(h, "refused@example.com")
            await queue(h, "next@example.com")
            run = await run_once(h.ctx, "outbox")
            rows = await outbox_rows(h)
    assert run == {"sent": 1, "retrying": 1, "failed": 0}
    assert inbox.recipients() == ["next@example.com"]
    [refused, sent] = rows
    assert refused[:3] == ("refused@example.com", "pending", 1)
    assert "550" in refused[3]
    assert sent == ("next@example.com", "sent", 1, None)


async def test_a_customer_name_with_a_line_break_adds_no_header_and_holds_back_nothing(
    tmp_path: Path,
) -> None:
    name = "Eve\r\nBcc: x@evil.test"
    with smtp_server(tmp_path, tls="none") as server:
        async with mailing(tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}") as h:
            browser, _ = await h.connected()
            booked = await h.client().post(
                "/api/v1/bookings",
                json={
                    "slot_id": await h.add_slot(browser),
                    "customer_name": name,
                    "customer_email": "eve@example.com",
                },
            )
            assert booked.status_code == 201, booked.text
            await queue(h, "later@example.com", subject="After Eve")
            [(queued,)] = await h.raw("SELECT COUNT(*) FROM outbox_emails")
            run = await run_once(h.ctx, "outbox")
    assert run["sent"] == queued == 3
    assert "x@evil.test" not in server.inbox.recipients()
    assert "later@example.com" in server.inbox.recipients()
    subjects = []
    for _, message in server.inbox.messages:
        assert "Bcc" not in message
        assert [key for key in message if key.lower() == "subject"] == ["Subject"]
        assert "\r" not in message["Subject"]
        assert "\n" not in message["Subject"]
        subjects.append(message["Subject"])
    assert "New booking: Eve Bcc: x@evil.test" in subjects


async def test_one_run_sends_every_due_email_not_just_one_batch(tmp_path: Path) -> None:
    # A burst of bookings queues two emails each; the run keeps taking batches of 100.
    with smtp_server(tmp_path, tls="none") as server:
        async with mailing(tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}") as h:
            async with h.ctx.db.transaction() as session:
                for n in range(250):
                    h.ctx.notifier.queue_email(
                        session, Email(f"c{n}@example.com", "Booked", "Body", "test")
                    )
            run = await run_once(h.ctx, "outbox")
            [(pending,)] = await h.raw(
                "SELECT COUNT(*) FROM outbox_emails WHERE status = 'pending'"
            )
    assert run == {"sent": 250, "retrying": 0, "failed": 0}
    assert pending == 0
    assert len(server.inbox.messages) == 250


async def test_a_stopping_process_finishes_its_batch_and_takes_no_other(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        async with mailing(tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}") as h:
            for n in range(25):
                await queue(h, f"c{n}@example.com")
            stopping = asyncio.Event()
            smtp = h.ctx.email

            class StopDuringTheFirstEmail:
                channel = smtp.channel

                async def send(self, message: OutgoingEmail) -> None:
                    stopping.set()  # SIGTERM arrives while the run is sending
                    await smtp.send(message)

                def reason(self, error: Exception) -> str:
                    return smtp.reason(error)

            run = await deliver_outbox(
                h.ctx.db,
                StopDuringTheFirstEmail(),
                h.ctx.clock,
                h.ctx.cipher,
                batch=10,
                stopping=stopping,
            )
            [(pending,)] = await h.raw(
                "SELECT COUNT(*) FROM outbox_emails WHERE status = 'pending'"
            )
    assert run.sent == 10
    assert len(server.inbox.messages) == 10
    assert pending == 15  # the next process sends them


async def test_a_run_sends_several_at_once_and_each_recipients_emails_in_order(
    tmp_path: Path,
) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        async with mailing(tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}") as h:
            for step in range(3):  # each customer's confirmation, change, cancellation
                for n in range(6):
                    await queue(h, f"c{n}@example.com", subject=f"Step {step}")
            smtp = h.ctx.email
            sending, most = 0, 0

            class DistantServer:
                channel = smtp.channel

                async def send(self, message: OutgoingEmail) -> None:
                    nonlocal sending, most
                    sending += 1
                    most = max(most, sending)
                    try:
                        # Connect, TLS and login far away; the first emails the slowest, so
                        # sending in id order alone would let a later one overtake.
                        await asyncio.sleep(0.3 if message.subject == "Step 0" else 0.05)
                        await smtp.send(message)
                    finally:
                        sending -= 1

                def reason(self, error: Exception) -> str:
                    return smtp.reason(error)

            run = await deliver_outbox(h.ctx.db, DistantServer(), h.ctx.clock, h.ctx.cipher)
    assert run.sent == 18
    assert most == SEND_AT_ONCE  # one at a time took 18 round trips
    for n in range(6):
        subjects = [
            message["Subject"]
            for to, message in server.inbox.messages
            if to == [f"c{n}@example.com"]
        ]
        assert subjects == ["Step 0", "Step 1", "Step 2"]


async def test_an_unreachable_smtp_server_keeps_the_email_for_later(tmp_path: Path) -> None:
    async with mailing(tmp_path, smtp_url=f"smtp://127.0.0.1:{free_port()}") as h:
        await queue(h, "later@example.com")
        assert (await run_once(h.ctx, "outbox"))["sent"] == 0
        [(_, status, attempts, error)] = await outbox_rows(h)
    assert (status, attempts) == ("pending", 1)
    assert error.startswith("SMTPConnectError")


async def test_without_smtp_the_outbox_keeps_the_email_and_the_log_says_so(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await queue(h, "logged@example.com")
    assert (await run_once(h.ctx, "outbox"))["sent"] == 1
    assert "Email kept in the outbox (SMTP_URL not set): to=logged@example.com" in caplog.text
    assert len(await h.raw("SELECT id FROM outbox_emails")) == 1


async def test_without_smtp_no_mime_is_built_and_a_bad_recipient_is_still_refused(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[OutgoingEmail] = []
    build = OutgoingEmail.message
    monkeypatch.setattr(OutgoingEmail, "message", lambda self: built.append(self) or build(self))
    bad = ["one@example.com, two@example.com", "a b@example.com", "a..b@example.com", "x@"]
    for to in bad:
        await queue(h, to)
    await queue(h, "fine@example.com")
    run = await run_once(h.ctx, "outbox")
    rows = await outbox_rows(h)
    assert run == {"sent": 1, "retrying": len(bad), "failed": 0}
    *refused, kept = rows
    assert [row[:3] for row in refused] == [(to, "pending", 1) for to in bad]
    assert {row[3] for row in refused} == {
        "ValueError: the recipient is not one plain email address"
    }
    assert kept == ("fine@example.com", "sent", 1, None)
    assert built == []  # the outbox row is the email: nothing reads a MIME message


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
    assert done.stdout.strip() == "sent=0 retrying=0 failed=0"
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
