"""An email the server keeps refusing: backoff on the app's clock, then failed, then an operator."""

import subprocess
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

from specialistly.jobs import run_once
from specialistly.notifications.models import OutboxEmail
from tests.app.test_observability import metric, scrape
from tests.harness import Harness, harness
from tests.integration.test_email import queue
from tests.integration.test_postgres import _env_for
from tests.servers import BIN
from tests.smtp import PASSWORD, USER, Inbox, smtp_server

BODY = "Your private link: https://example.test/bookings/1?token=not-for-operators"


def cli(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = _env_for(h.settings) | {"SMTP_CA_FILE": str(h.settings.smtp_ca_file)}
    return subprocess.run(
        [str(BIN / "specialistly"), *args],
        env=env,
        cwd=h.settings.var_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def stored(h: Harness, email_id: int) -> OutboxEmail:
    async with h.ctx.db.reading() as session:
        email = await session.get(OutboxEmail, email_id)
        assert email is not None
        return email


async def test_a_message_refused_six_times_backs_off_fails_and_an_operator_sends_it(
    tmp_path: Path,
) -> None:
    inbox = Inbox(refuse={"bounce@example.com"})
    with smtp_server(tmp_path, tls="starttls", inbox=inbox) as server:
        url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        async with harness(
            f"sqlite:///{tmp_path}/app.db", tmp_path, smtp_url=url, smtp_ca_file=server.cert
        ) as h:
            await queue(h, "bounce@example.com", subject="Your booking", body=BODY)
            await queue(h, "fine@example.com")
            [(bounce_id,)] = await h.raw(
                "SELECT id FROM outbox_emails WHERE to_address = 'bounce@example.com'"
            )
            before = await scrape(h)

            gaps: list[timedelta] = []
            for attempt in range(1, 7):
                tried_at = h.ctx.clock.now()
                await run_once(h.ctx, "outbox")
                email = await stored(h, bounce_id)
                assert email.attempts == attempt
                if attempt == 6:
                    break
                assert email.status == "pending"
                assert email.next_attempt_at is not None
                gaps.append(email.next_attempt_at - tried_at)
                # Not due yet: a run now leaves it alone.
                await run_once(h.ctx, "outbox")
                assert (await stored(h, bounce_id)).attempts == attempt
                await h.advance((email.next_attempt_at - h.ctx.clock.now()).total_seconds() + 1)

            assert len(gaps) == 5
            assert all(later > earlier for earlier, later in pairwise(gaps))
            assert gaps[0] >= timedelta(minutes=1)
            assert email.status == "failed"
            assert email.next_attempt_at is None
            assert email.last_error is not None
            assert "550" in email.last_error
            assert PASSWORD not in email.last_error
            assert inbox.recipients() == ["fine@example.com"]

            after = await scrape(h)
            assert metric(after, "specialistly_outbox_emails", status="failed") == 1
            assert metric(after, "specialistly_outbox_emails", status="sent") == 1
            failed_total = "specialistly_emails_failed_total"
            assert metric(after, failed_total) == metric(before, failed_total) + 1
            errors = {"outcome": "error"}
            assert (
                metric(after, "specialistly_email_attempts_total", **errors)
                == metric(before, "specialistly_email_attempts_total", **errors) + 6
            )

            listed = cli(h, "outbox", "list", "--failed")
            assert listed.returncode == 0, listed.stderr
            assert "bounce@example.com" in listed.stdout
            assert "Your booking" in listed.stdout
            assert "failed" in listed.stdout
            assert "550" in listed.stdout
            assert "fine@example.com" not in listed.stdout  # sent, so not failed
            everything = cli(h, "outbox", "list")
            assert "fine@example.com" in everything.stdout
            for shown in (listed, everything):
                output = shown.stdout + shown.stderr
                assert "not-for-operators" not in output
                assert PASSWORD not in output

            assert cli(h, "outbox", "retry", "999999").returncode != 0
            inbox.refuse.clear()  # the mailbox is back
            retried = cli(h, "outbox", "retry", str(bounce_id))
            assert retried.returncode == 0, retried.stdout + retried.stderr
            assert "not-for-operators" not in retried.stdout + retried.stderr
            assert (await stored(h, bounce_id)).status == "sent"
            assert inbox.recipients() == ["fine@example.com", "bounce@example.com"]
            [(_, delivered)] = [m for m in inbox.messages if m[0] == ["bounce@example.com"]]
            assert "not-for-operators" in delivered.get_payload()
            again = cli(h, "outbox", "retry", str(bounce_id))
            assert again.returncode != 0  # sent already: never twice
            assert len(inbox.messages) == 2
