"""What booking, rescheduling and cancelling can refuse, each with a plain reason."""


class SlotNotFound(Exception):
    """No such slot, or it was deleted."""


class SlotOfAnotherSpecialist(SlotNotFound):
    """The slot exists but belongs to another specialist than the one booked with."""


class NotBookable(Exception):
    """The time is not one of the event type's bookable times."""


class SlotTaken(Exception):
    """The slot is booked already, or it has started."""


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request."""


class BookingNotFound(Exception):
    """No such booking for this caller (a wrong token looks the same as none)."""


class BookingCancelled(Exception):
    """The booking is cancelled: it cannot be moved any more."""


class TooLateToChange(Exception):
    """The customer's change comes later than `RESCHEDULE_CUTOFF_MINUTES` before the start."""
