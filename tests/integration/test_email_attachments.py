"""Calendar invitations through the outbox and a real SMTP server (aiosmtpd)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from icalendar import Calendar

from specialistly.jobs import run_once
from specialistly.notifications.calendar import CalendarEvent, Person, invitation
from specialistly.notifications.outbox import deliver_outbox
from specialistly.notifications.service import Email
from specialistly.ops import rotate_keys
from specialistly.security import TokenCipher
from tests.harness import harness
from tests.smtp import smtp_server

JOIN = "https://zoom.example/j/98765432109?pwd=secretpwd"
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def an_invite(cancelled: bool = False) -> CalendarEvent:
    return CalendarEvent(
        uid="booking-BK-1@testserver",
        sequence=2 if cancelled else 0,
        start=START,
        end=START + timedelta(minutes=30),
        summary="Consultation: Zoë Ünal with Dana",
        description=f"Monday 01 March 2027, 10:00 (Europe/Berlin)\nJoin on Zoom: {JOIN}",
        location=JOIN,
        organizer=Person("Dana", "dana@example.com"),
        attendee=Person("Zoë Ünal", "zoe@example.com"),
        cancelled=cancelled,
    )


async def test_an_email_with_an_invite_arrives_multipart_with_the_calendar_intact(
    tmp_path: Path,
) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        async with harness(
            f"sqlite:///{tmp_path}/app.db", tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}"
        ) as h:
            now = h.ctx.clock.now()
            sent = {
                "zoe@example.com": invitation(an_invite(), now=now),
                "dana@example.com": invitation(an_invite(cancelled=True), now=now),
            }
            async with h.ctx.db.transaction() as session:
                for to, attachment in sent.items():
                    email = Email(to, "Booked", f"Body for {to}", "booking", (attachment,))
                    h.ctx.notifier.queue_email(session, email)
            [(stored,)] = await h.raw("SELECT attachments FROM outbox_emails LIMIT 1")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 2

    assert JOIN not in stored  # encrypted at rest, like the body
    assert len(server.inbox.messages) == 2
    for tos, message in server.inbox.messages:
        [to] = tos
        assert message.get_content_type() == "multipart/mixed"
        text, calendar = message.get_payload()
        assert text.get_content_type() == "text/plain"
        assert text.get_payload(decode=True).decode().strip() == f"Body for {to}"
        assert calendar.get_content_type() == "text/calendar"
        method = "CANCEL" if to == "dana@example.com" else "REQUEST"
        assert calendar.get_param("method") == method
        assert calendar.get_content_charset() == "utf-8"
        assert calendar.get_filename() == "invite.ics"
        assert calendar.get_content_disposition() == "attachment"
        received = calendar.get_payload(decode=True).decode("utf-8")
        # Line endings may be normalised on the way; the calendar is otherwise byte for byte.
        assert received.replace("\r\n", "\n") == sent[to].content.replace("\r\n", "\n")
        [event] = Calendar.from_ical(received).walk("VEVENT")
        assert str(event["LOCATION"]) == JOIN
        assert event["UID"] == "booking-BK-1@testserver"
        assert event["ATTENDEE"].params["CN"] == "Zoë Ünal"


async def test_an_email_without_attachments_stays_a_single_text_part(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        async with harness(
            f"sqlite:///{tmp_path}/app.db", tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}"
        ) as h:
            async with h.ctx.db.transaction() as session:
                h.ctx.notifier.queue_email(session, Email("a@example.com", "Hi", "Plain", "t"))
            [(stored,)] = await h.raw("SELECT attachments FROM outbox_emails")
            assert (await run_once(h.ctx, "outbox"))["sent"] == 1
    assert stored is None
    [(_, message)] = server.inbox.messages
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()


async def test_keys_rotate_re_encrypts_attachments_and_they_still_send(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="none") as server:
        async with harness(
            f"sqlite:///{tmp_path}/app.db", tmp_path, smtp_url=f"smtp://127.0.0.1:{server.port}"
        ) as h:
            attachment = invitation(an_invite(), now=h.ctx.clock.now())
            async with h.ctx.db.transaction() as session:
                email = Email("zoe@example.com", "Booked", "Body", "booking", (attachment,))
                h.ctx.notifier.queue_email(session, email)
            rotated = TokenCipher([Fernet.generate_key().decode(), *h.settings.encryption_keys])
            assert await rotate_keys(h.ctx.db, rotated) == 2  # the body and the attachments
            [(stored,)] = await h.raw("SELECT attachments FROM outbox_emails")
            assert TokenCipher.key_id_of(stored) == rotated.newest_key_id
            assert (await deliver_outbox(h.ctx.db, h.ctx.email, h.ctx.clock, rotated)).sent == 1
    [(_, message)] = server.inbox.messages
    calendar = message.get_payload()[1]
    assert calendar.get_payload(decode=True).decode().replace("\r\n", "\n") == (
        attachment.content.replace("\r\n", "\n")
    )
