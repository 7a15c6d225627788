"""Add sign-in throttles per account and per client address (login_throttles retires)

login_throttles counted failures per email only, after the password check. The new table holds
a row per account and per client address (keys are digests of either), reserved atomically
before the check. Counts are short-lived, so none are carried over. login_throttles stays for
now: migrations only add within a release, and the previous release's processes still use it
during a rolling restart; a later release drops it.

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-27 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_digest"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
