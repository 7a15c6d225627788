"""Add refresh events: recent refresh outcomes for the dashboard

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:45:36.310153
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zoom_refresh_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("zoom_refresh_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zoom_refresh_events_specialist_id"), ["specialist_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("zoom_refresh_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zoom_refresh_events_specialist_id"))

    op.drop_table("zoom_refresh_events")
