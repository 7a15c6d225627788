"""Outbox retries: a status (pending, sent, failed) and when the next attempt is due

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-27 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "pending", "sent", "failed", name="outboxstatus", native_enum=False, length=20
                ),
                server_default="pending",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_emails_due", ["status", "next_attempt_at"], unique=False)
    op.execute("UPDATE outbox_emails SET status = 'sent' WHERE sent_at IS NOT NULL")
    # The old delivery gave up without a word after 10 attempts: those emails have failed.
    op.execute(
        "UPDATE outbox_emails SET status = 'failed' WHERE sent_at IS NULL AND attempts >= 10"
    )
    op.execute("UPDATE outbox_emails SET next_attempt_at = created_at WHERE status = 'pending'")


def downgrade() -> None:
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_emails_due")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("status")
