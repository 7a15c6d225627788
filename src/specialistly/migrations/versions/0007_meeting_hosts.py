"""Record each meeting's Zoom host; keep grants replaced by a reconnect while meetings need them

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-27 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs: a batch (table copy) on SQLite could lose the bookings' partial index.
    op.add_column(
        "bookings", sa.Column("meeting_host_zoom_user_id", sa.String(length=64), nullable=True)
    )
    op.create_index(
        op.f("ix_bookings_meeting_host_zoom_user_id"),
        "bookings",
        ["meeting_host_zoom_user_id"],
        unique=False,
    )
    op.create_table(
        "zoom_retired_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specialist_id", sa.Integer(), nullable=False),
        sa.Column("zoom_user_id", sa.String(length=64), nullable=False),
        sa.Column("zoom_email", sa.String(length=320), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_url", sa.String(length=255), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["specialist_id"], ["specialists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("specialist_id", "zoom_user_id"),
    )
    with op.batch_alter_table("zoom_retired_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zoom_retired_grants_specialist_id"), ["specialist_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_zoom_retired_grants_zoom_user_id"), ["zoom_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("zoom_retired_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zoom_retired_grants_zoom_user_id"))
        batch_op.drop_index(batch_op.f("ix_zoom_retired_grants_specialist_id"))
    op.drop_table("zoom_retired_grants")
    op.drop_index(op.f("ix_bookings_meeting_host_zoom_user_id"), table_name="bookings")
    op.drop_column("bookings", "meeting_host_zoom_user_id")
