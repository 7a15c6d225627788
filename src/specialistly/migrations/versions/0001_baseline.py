"""Start the migration history: later revisions add each feature's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create nothing: the `alembic_version` row alone marks a database as ours and current."""


def downgrade() -> None:
    """Nothing to undo."""
