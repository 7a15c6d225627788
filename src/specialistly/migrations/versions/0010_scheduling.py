"""Scheduling: event types, weekly hours, date overrides; bookings' event type, customer zone
and cancel reason; specialists' bio

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 15:20:00.000000

Bookings and specialists get plain ADD COLUMNs (no batch): a batch copy of `bookings` on SQLite
would rebuild the table, and the partial unique index `uq_bookings_confirmed_slot` with it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("max_per_day", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_event_types_specialist_id"), "event_types", ["specialist_id"], unique=False
    )
    op.create_table(
        "weekly_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_weekly_hours_weekday"),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name="ck_weekly_hours_window",
        ),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_weekly_hours_specialist_id"), "weekly_hours", ["specialist_id"], unique=False
    )
    op.create_table(
        "date_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("end_minute", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(start_minute IS NULL AND end_minute IS NULL) OR "
            "(start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute)",
            name="ck_date_overrides_window",
        ),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_date_overrides_specialist_day", "date_overrides", ["specialist_id", "day"], unique=False
    )

    op.add_column("specialists", sa.Column("bio", sa.Text(), server_default="", nullable=False))
    # SQLite adds a column with a REFERENCES clause in place (its default is NULL), but
    # Alembic would ask for a batch copy: say it in SQL. PostgreSQL gets a named constraint.
    # No ON DELETE: an event type that bookings use is only marked deleted, and a specialist's
    # cascade removes both in one statement (NO ACTION is checked at its end).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE bookings ADD COLUMN event_type_id INTEGER REFERENCES event_types (id)"
        )
    else:
        op.add_column("bookings", sa.Column("event_type_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_bookings_event_type_id_event_types",
            "bookings",
            "event_types",
            ["event_type_id"],
            ["id"],
        )
    op.add_column("bookings", sa.Column("customer_timezone", sa.String(length=64), nullable=True))
    op.add_column("bookings", sa.Column("cancel_reason", sa.Text(), nullable=True))
    op.create_index(op.f("ix_bookings_event_type_id"), "bookings", ["event_type_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bookings_event_type_id"), table_name="bookings")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_bookings_event_type_id_event_types", "bookings", type_="foreignkey")
    # SQLite (3.35+) drops a plain column in place; one with a REFERENCES clause it refuses
    # to drop, so that one alone goes through a batch copy, which recreates the partial index.
    op.drop_column("bookings", "cancel_reason")
    op.drop_column("bookings", "customer_timezone")
    with op.batch_alter_table("bookings", recreate="auto") as batch_op:
        batch_op.drop_column("event_type_id")
    op.drop_column("specialists", "bio")
    op.drop_index("ix_date_overrides_specialist_day", table_name="date_overrides")
    op.drop_table("date_overrides")
    op.drop_index(op.f("ix_weekly_hours_specialist_id"), table_name="weekly_hours")
    op.drop_table("weekly_hours")
    op.drop_index(op.f("ix_event_types_specialist_id"), table_name="event_types")
    op.drop_table("event_types")
