"""Email attachments (calendar invitations) and booking reminders

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-27 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        # Encrypted JSON of the files sent with the email (an invite.ics carries the join link).
        batch_op.add_column(sa.Column("attachments", sa.Text(), nullable=True))
    op.create_table(
        "booking_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "offset_minutes", name="uq_booking_reminders_offset"),
    )
    op.create_index(
        "ix_booking_reminders_due", "booking_reminders", ["sent_at", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_booking_reminders_due", table_name="booking_reminders")
    op.drop_table("booking_reminders")
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_column("attachments")
