"""What the customer and the specialist are told about a booking, in plain words."""

from datetime import datetime
from urllib.parse import urlencode

from specialistly.bookings.models import Booking, MeetingProvider
from specialistly.notifications.calendar import local_span
from specialistly.notifications.message import Attachment
from specialistly.notifications.service import Email
from specialistly.specialists.models import Specialist

PLATFORM_NOTE = (
    "This meeting is hosted on Specialistly's own Zoom account, because the specialist's "
    "Zoom account could not be used when you booked."
)


def manage_path(booking_id: int, token: str) -> str:
    """The customer's booking page: the manage token in the link is what lets them in."""
    return f"/bookings/{booking_id}?{urlencode({'token': token})}"


def when(booking: Booking, timezone: str) -> str:
    """'Friday 08 January 2027, 18:00–18:30 (Europe/Berlin), 30 minutes'."""
    return when_at(booking.start_time, booking.duration_minutes, timezone)


def when_at(start: datetime, minutes: int, timezone: str) -> str:
    return f"{local_span(start, minutes, timezone)}, {minutes} minutes"


def customer_zone(booking: Booking, specialist: Specialist) -> str:
    """The zone the customer reads times in: theirs, else the specialist's."""
    return booking.customer_timezone or specialist.timezone


def _where(booking: Booking) -> str:
    if booking.meeting_provider == MeetingProvider.PLATFORM_ZOOM:
        return f"Join on Zoom: {booking.join_url}\n{PLATFORM_NOTE}"
    return f"Join on Zoom: {booking.join_url}"


def _with(invite: Attachment | None) -> tuple[Attachment, ...]:
    return (invite,) if invite is not None else ()


def customer_confirmation(
    booking: Booking, specialist: Specialist, manage_url: str, invite: Attachment | None = None
) -> Email:
    if booking.join_url:
        where = _where(booking)
    else:
        where = "Your Zoom link will follow by email as soon as the meeting is created."
    body = (
        f"Hello {booking.customer_name},\n\nYour consultation with {specialist.name} is booked "
        f"for {when(booking, customer_zone(booking, specialist))}.\n\n{where}\n\n"
        f"See or cancel your booking: {manage_url}\nReference: {booking.reference}\n"
    )
    return Email(
        booking.customer_email,
        f"Booked: {specialist.name}",
        body,
        "booking_confirmation",
        _with(invite),
    )


def customer_link(
    booking: Booking, specialist: Specialist, manage_url: str, invite: Attachment | None = None
) -> Email:
    body = (
        f"Hello {booking.customer_name},\n\nThe Zoom meeting for your consultation with "
        f"{specialist.name} on {when(booking, customer_zone(booking, specialist))} is ready.\n\n"
        f"{_where(booking)}\n\nYour booking: {manage_url}\nReference: {booking.reference}\n"
    )
    return Email(
        booking.customer_email,
        f"Your Zoom link: {specialist.name}",
        body,
        "booking_link",
        _with(invite),
    )


def specialist_notice(
    booking: Booking, specialist: Specialist, start_url: str, invite: Attachment | None = None
) -> Email:
    host = "your Zoom account"
    if booking.meeting_provider == MeetingProvider.PLATFORM_ZOOM:
        host = "Specialistly's Zoom account (yours could not be used)"
    body = (
        f"Hello {specialist.name},\n\n{booking.customer_name} <{booking.customer_email}> booked "
        f"{when(booking, specialist.timezone)}.\n\nThe meeting is on {host}. Start it as host: "
        f"{start_url}\nReference: {booking.reference}\n"
    )
    return Email(
        specialist.email,
        f"New booking: {booking.customer_name}",
        body,
        "booking_host",
        _with(invite),
    )


def cancellation(
    booking: Booking,
    specialist: Specialist,
    to: str,
    invite: Attachment | None = None,
    *,
    zone: str | None = None,
    by: str | None = None,
) -> Email:
    cancelled = f"is cancelled by {by}" if by else "is cancelled"
    reason = f"\nReason: {booking.cancel_reason}\n" if booking.cancel_reason else ""
    body = (
        f"The consultation of {booking.customer_name} with {specialist.name} on "
        f"{when(booking, zone or specialist.timezone)} {cancelled}.\n{reason}"
        f"Reference: {booking.reference}\n"
    )
    return Email(to, f"Cancelled: {booking.reference}", body, "booking_cancelled", _with(invite))


def rescheduled(
    booking: Booking,
    specialist: Specialist,
    to: str,
    invite: Attachment | None,
    *,
    zone: str,
    by: str,
    was: datetime,
    manage_url: str,
) -> Email:
    """The new time for either party, in their zone, with the old one for reference."""
    if booking.join_url:
        where = f"The Zoom link stays the same: {booking.join_url}"
    else:
        where = "The Zoom link will follow by email as soon as the meeting is created."
    body = (
        f"The consultation of {booking.customer_name} with {specialist.name} has been moved "
        f"by {by} to {when(booking, zone)}.\n"
        f"It was {when_at(was, booking.duration_minutes, zone)}.\n\n{where}\n\n"
        f"Your booking: {manage_url}\nReference: {booking.reference}\n"
    )
    return Email(to, f"Moved: {booking.reference}", body, "booking_rescheduled", _with(invite))
