"""Add slots, bookings with their meeting, idempotency keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:36:43.950595
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slots_specialist_id"), ["specialist_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slots_start_time"), ["start_time"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("confirmed", "cancelled", name="bookingstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=False),
        sa.Column("manage_token", sa.Text(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "meeting_status",
            sa.Enum(
                "pending", "created", "failed", name="meetingstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "meeting_provider",
            sa.Enum(
                "specialist_zoom",
                "platform_zoom",
                name="meetingprovider",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("zoom_meeting_id", sa.BigInteger(), nullable=True),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("start_url", sa.Text(), nullable=True),
        sa.Column(
            "meeting_attempt_provider",
            sa.Enum(
                "specialist_zoom",
                "platform_zoom",
                name="meetingprovider",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("meeting_outcome_unknown", sa.Boolean(), nullable=False),
        sa.Column("meeting_attempts", sa.Integer(), nullable=False),
        sa.Column("meeting_next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_last_error", sa.Text(), nullable=True),
        sa.Column("meeting_delete_pending", sa.Boolean(), nullable=False),
        sa.Column("customer_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_link_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bookings_meeting_delete_pending"),
            ["meeting_delete_pending"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_bookings_meeting_next_attempt_at"),
            ["meeting_next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_bookings_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bookings_specialist_id"), ["specialist_id"], unique=False
        )
        batch_op.create_index(
            "uq_bookings_confirmed_slot",
            ["slot_id"],
            unique=True,
            sqlite_where=sa.text("status = 'confirmed'"),
            postgresql_where=sa.text("status = 'confirmed'"),
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bookings_confirmed_slot",
            sqlite_where=sa.text("status = 'confirmed'"),
            postgresql_where=sa.text("status = 'confirmed'"),
        )
        batch_op.drop_index(batch_op.f("ix_bookings_specialist_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_slot_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_meeting_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_bookings_meeting_delete_pending"))

    op.drop_table("bookings")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slots_start_time"))
        batch_op.drop_index(batch_op.f("ix_slots_specialist_id"))

    op.drop_table("slots")
