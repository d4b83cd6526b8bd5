"""daily counters: payments, support and cards by day, budget movements by day

The month counters stay for the dashboards; these give the same figures per KST day
(daily statistics, donations, the budget burn and its forecast) without reading
payments or postings. The upgrade fills them with a recount of what is stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def _key(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "payment_days",
        _key("day", 10),
        _key("district", 64),
        _key("category", 64),
        _key("card_issuer_id", 64),
        *_counts("payments", "paid"),
    )
    op.create_table(
        "support_days",
        _key("day", 10),
        _key("rule_id", 64),
        _key("budget_id", 64),
        _key("kind", 20),
        *_counts("amount"),
    )
    op.create_table(
        "card_days",
        _key("day", 10),
        _key("card_issuer_id", 64),
        *_counts("joined", "active", "issued", "donated"),
    )
    op.create_table(
        "budget_days",
        _key("budget_id", 64),
        _key("day", 10),
        *_counts("funded", "spent"),
    )
    from eum.stats import rollups  # the recount of every counter

    rollups.rebuild(op.get_bind(), ("payment_days", "support_days", "card_days", "budget_days"))


def downgrade() -> None:
    for table in ("budget_days", "card_days", "support_days", "payment_days"):
        op.drop_table(table)
