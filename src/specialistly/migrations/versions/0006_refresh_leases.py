"""Add refresh leases: the right to refresh is held without a transaction across Zoom's answer

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zoom_connections") as batch:
        batch.add_column(sa.Column("refresh_lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("refresh_lease_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("zoom_connections") as batch:
        batch.drop_column("refresh_lease_until")
        batch.drop_column("refresh_lease_owner")
