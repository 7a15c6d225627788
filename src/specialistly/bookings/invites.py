"""A booking's calendar invitation: the same event for the customer and the specialist."""

from datetime import datetime, timedelta

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.notifications.calendar import (
    CalendarEvent,
    Person,
    booking_uid,
    describe,
    invitation,
)
from specialistly.notifications.message import Attachment
from specialistly.specialists.models import Specialist


def booking_invitation(
    booking: Booking,
    specialist: Specialist,
    *,
    base_url: str,
    sequence: int,
    timezone: str,
    manage_url: str | None,
    now: datetime,
) -> Attachment:
    """Build `invite.ics` for an email about `booking`: REQUEST, or CANCEL once it is cancelled.

    `sequence` must rise with each change of the booking (0 when booked, then 1, 2, …);
    `timezone` is the reader's (the customer's or the specialist's) and `manage_url` their link.
    """
    event = CalendarEvent(
        uid=booking_uid(booking.reference, base_url),
        sequence=sequence,
        start=booking.start_time,
        end=booking.start_time + timedelta(minutes=booking.duration_minutes),
        summary=f"Consultation: {booking.customer_name} with {specialist.name}",
        description=describe(
            start=booking.start_time,
            duration_minutes=booking.duration_minutes,
            timezone=timezone,
            join_url=booking.join_url,
            manage_url=manage_url,
            reference=booking.reference,
        ),
        location=booking.join_url,
        organizer=Person(specialist.name, specialist.email),
        attendee=Person(booking.customer_name, booking.customer_email),
        cancelled=booking.status == BookingStatus.CANCELLED,
    )
    return invitation(event, now=now)


def invitations(
    booking: Booking,
    specialist: Specialist,
    *,
    base_url: str,
    now: datetime,
    customer_url: str | None = None,
) -> tuple[Attachment, Attachment]:
    """The customer's and the specialist's `invite.ics` for the booking as it is now.

    The same UID and SEQUENCE for both; each reads the time in their own zone and gets
    their own link (`customer_url`: the customer's booking page with its token; none for a
    cancelled booking; the specialist's dashboard).
    """
    customer_zone = getattr(booking, "customer_timezone", None) or specialist.timezone

    def for_reader(timezone: str, link: str | None) -> Attachment:
        return booking_invitation(
            booking,
            specialist,
            base_url=base_url,
            sequence=booking.calendar_sequence,
            timezone=timezone,
            manage_url=link,
            now=now,
        )

    return (
        for_reader(customer_zone, customer_url),
        for_reader(specialist.timezone, base_url + "/dashboard"),
    )
