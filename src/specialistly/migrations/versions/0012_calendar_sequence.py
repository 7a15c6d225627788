"""Add bookings.calendar_sequence: each invitation sent for a booking carries a rising SEQUENCE

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): the partial unique index on bookings stays.
    op.add_column(
        "bookings",
        sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("bookings", "calendar_sequence")
