"""Bookings of an event type (no slot) and busy ranges no two confirmed bookings may share

Each booking keeps the range it makes its specialist busy (start − buffer before, end + buffer
after). On PostgreSQL an exclusion constraint (btree_gist) refuses two confirmed bookings of
one specialist whose ranges overlap, at any concurrency; SQLite checks it under its one writer.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL_INDEX = (
    "CREATE UNIQUE INDEX uq_bookings_confirmed_slot ON bookings (slot_id) "
    "WHERE status = 'confirmed'"
)


def upgrade() -> None:
    op.add_column("bookings", sa.Column("busy_start", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bookings", sa.Column("busy_end", sa.DateTime(timezone=True), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "UPDATE bookings SET busy_start = start_time, "
            "busy_end = start_time + make_interval(mins => duration_minutes)"
        )
        op.alter_column("bookings", "slot_id", existing_type=sa.Integer(), nullable=True)
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_busy EXCLUDE USING gist "
            "(specialist_id WITH =, tstzrange(busy_start, busy_end, '[)') WITH &&) "
            "WHERE (status = 'confirmed')"
        )
        return
    op.execute(
        "UPDATE bookings SET busy_start = start_time, "
        "busy_end = datetime(start_time, '+' || duration_minutes || ' minutes')"
    )
    # SQLite changes a column's nullability by copying the table: the partial unique index
    # is made again by hand, since a copy does not carry its WHERE clause.
    with op.batch_alter_table("bookings", recreate="always") as batch:
        batch.alter_column("slot_id", existing_type=sa.Integer(), nullable=True)
    op.execute("DROP INDEX IF EXISTS uq_bookings_confirmed_slot")
    op.execute(PARTIAL_INDEX)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS ex_bookings_busy")
        op.execute("DELETE FROM bookings WHERE slot_id IS NULL")
        op.alter_column("bookings", "slot_id", existing_type=sa.Integer(), nullable=False)
        op.drop_column("bookings", "busy_end")
        op.drop_column("bookings", "busy_start")
        return
    op.execute("DELETE FROM bookings WHERE slot_id IS NULL")
    with op.batch_alter_table("bookings", recreate="always") as batch:
        batch.alter_column("slot_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("busy_end")
        batch.drop_column("busy_start")
    op.execute("DROP INDEX IF EXISTS uq_bookings_confirmed_slot")
    op.execute(PARTIAL_INDEX)
