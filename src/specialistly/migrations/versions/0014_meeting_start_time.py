"""Add bookings.meeting_start_time: the start the booking's Zoom meeting has at Zoom

A rescheduled booking's meeting is moved (PATCH) until this equals the booking's start; a
create still on its way with the old start is moved the same way once it is recorded.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bookings", sa.Column("meeting_start_time", sa.DateTime(timezone=True), nullable=True)
    )
    # Every meeting made so far was made at its booking's start (nothing could move it).
    op.execute(
        "UPDATE bookings SET meeting_start_time = start_time WHERE zoom_meeting_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("bookings", "meeting_start_time")
