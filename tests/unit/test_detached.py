"""`detached`: an ORM object filled as loading fills it, for rows read by Core."""

from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import get_history

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.db import detached

VALUES = {
    "id": 7,
    "reference": "SPL-ABC",
    "status": BookingStatus.CONFIRMED,
    "start_time": datetime(2027, 1, 8, 17, tzinfo=UTC),
    "duration_minutes": 30,
    "join_url": None,
}


def test_it_reads_as_the_constructor_s_object_and_belongs_to_no_session() -> None:
    built, made = detached(Booking, VALUES), Booking(**VALUES)
    for key, value in VALUES.items():
        assert getattr(built, key) == getattr(made, key) == value
    assert built.customer_email is None  # a column not given reads as None, as on `made`
    assert inspect(built).transient


def test_its_values_are_unchanged_until_changed_and_then_tracked() -> None:
    built = detached(Booking, VALUES)
    assert not get_history(built, "reference").has_changes()
    built.reference = "SPL-XYZ"
    history = get_history(built, "reference")
    assert history.added == ["SPL-XYZ"]
    assert history.deleted == ["SPL-ABC"]
