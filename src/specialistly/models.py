"""Import every feature's models so `Base.metadata` knows all tables (Alembic needs them)."""

import importlib

FEATURE_MODELS: tuple[str, ...] = (
    "specialistly.specialists.models",
    "specialistly.connections.models",
    "specialistly.notifications.models",
    "specialistly.bookings.models",
    "specialistly.bookings.reminders",
    "specialistly.scheduling.models",
    "specialistly.leases",
)


def load_all() -> None:
    for module in FEATURE_MODELS:
        importlib.import_module(module)
