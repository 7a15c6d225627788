"""An index for a specialist's confirmed busy time, which every booking checks

The overlap check of each booking (and the booking page's busy times) read a specialist's
confirmed bookings ending after a time. With only `specialist_id` indexed, both read every
booking the specialist ever had, so a booking got slower with each one before it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 20:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_bookings_busy", "bookings", ["specialist_id", "status", "busy_end"])


def downgrade() -> None:
    op.drop_index("ix_bookings_busy", table_name="bookings")
