"""rule steps: scheduled rate changes of cashback and fee-support rules

A rule may carry rate changes announced in advance: a JSON list of [first KST day (ISO),
rate_bps] in ascending day order. NULL (every existing rule) is no change: the rule
keeps its rate_bps, so the upgrade needs no backfill.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rules", sa.Column("steps", sa.JSON(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35 too): a batch copy of the table would break the
    # foreign keys that point at rules
    op.execute("ALTER TABLE rules DROP COLUMN steps")
