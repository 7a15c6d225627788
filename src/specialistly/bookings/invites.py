"""A booking's calendar invitation: the same event for the customer and the specialist."""

from datetime import datetime, timedelta

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.notifications import calendar
from specialistly.notifications.calendar import CalendarEvent, Person, booking_uid, describe
from specialistly.notifications.message import Attachment
from specialistly.specialists.models import Specialist


def _event(booking: Booking, specialist: Specialist, *, base_url: str) -> CalendarEvent:
    """The booking's event as it is now (the description is each reader's, set apart)."""
    return CalendarEvent(
        uid=booking_uid(booking.reference, base_url),
        # Rises with each change of the booking (0 when booked, then 1, 2, …).
        sequence=booking.calendar_sequence,
        start=booking.start_time,
        end=booking.start_time + timedelta(minutes=booking.duration_minutes),
        summary=f"Consultation: {booking.customer_name} with {specialist.name}",
        description="",
        location=booking.join_url,
        organizer=Person(specialist.name, specialist.email),
        attendee=Person(booking.customer_name, booking.customer_email),
        cancelled=booking.status == BookingStatus.CANCELLED,
    )


def _description(booking: Booking, timezone: str, link: str | None) -> str:
    return describe(
        start=booking.start_time,
        duration_minutes=booking.duration_minutes,
        timezone=timezone,
        join_url=booking.join_url,
        manage_url=link,
        reference=booking.reference,
    )


def invitations(
    booking: Booking,
    specialist: Specialist,
    *,
    base_url: str,
    now: datetime,
    customer_url: str | None = None,
) -> tuple[Attachment, Attachment]:
    """The customer's and the specialist's `invite.ics` for the booking as it is now:
    REQUEST, or CANCEL once it is cancelled.

    The same event (UID, SEQUENCE) for both; each reads the time in their own zone and gets
    their own link (`customer_url`: the customer's booking page with its token; none for a
    cancelled booking; the specialist's dashboard).
    """
    customer_zone = getattr(booking, "customer_timezone", None) or specialist.timezone
    customer, host = calendar.invitations(
        _event(booking, specialist, base_url=base_url),
        (
            _description(booking, customer_zone, customer_url),
            _description(booking, specialist.timezone, base_url + "/dashboard"),
        ),
        now=now,
    )
    return customer, host
