"""dashboard counters: payments, support and cards by month, merchants' sales by day;
payments carry their merchant's district; newest-first indexes

Dashboards read counter tables kept in the same transaction as the payments, refunds,
charges and sign-ups they count (``eum.stats.store``), instead of scanning payments.
The upgrade fills them with a recount of what is already stored.

Payment pages list newest first: the member and merchant indexes end with the id, and a
(district, id) index lets an issuer admin's page read each district's newest payments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def _key(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "payment_months",
        _key("month", 7),
        _key("district", 64),
        _key("category", 64),
        _key("card_issuer_id", 64),
        *_counts("payments", "paid"),
    )
    op.create_table(
        "support_months",
        _key("month", 7),
        _key("rule_id", 64),
        _key("budget_id", 64),
        _key("kind", 20),
        *_counts("amount"),
    )
    op.create_table(
        "card_months",
        _key("month", 7),
        _key("card_issuer_id", 64),
        *_counts("joined", "active", "issued"),
    )
    op.create_table("active_months", _key("member_id", 64), _key("month", 7))
    op.create_table(
        "merchant_days",
        _key("merchant_id", 64),
        _key("day", 10),
        *_counts(
            "payments",
            "amount",
            "charged",
            "fee",
            "fee_support",
            "refunded",
            "fee_back",
            "fee_support_back",
        ),
    )
    op.create_index("ix_merchant_days_day", "merchant_days", ["day"])
    op.add_column("payments", sa.Column("district", sa.String(64)))
    op.execute(
        "UPDATE payments SET district = "
        "(SELECT district FROM merchants WHERE merchants.id = payments.merchant_id)"
    )
    op.drop_index("ix_payments_member", "payments")
    op.drop_index("ix_payments_merchant", "payments")
    op.create_index("ix_payments_member_id", "payments", ["member_id", "id"])
    op.create_index("ix_payments_merchant_id", "payments", ["merchant_id", "id"])
    op.create_index("ix_payments_district_id", "payments", ["district", "id"])
    from eum.stats import rollups  # the recount of this revision's counters

    rollups.rebuild(
        op.get_bind(),
        ("payment_months", "support_months", "card_months", "active_months", "merchant_days"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_district_id", "payments")
    op.drop_index("ix_payments_merchant_id", "payments")
    op.drop_index("ix_payments_member_id", "payments")
    op.create_index("ix_payments_member", "payments", ["member_id"])
    op.create_index("ix_payments_merchant", "payments", ["merchant_id"])
    op.execute("ALTER TABLE payments DROP COLUMN district")  # SQLite >= 3.35 too
    op.drop_index("ix_merchant_days_day", "merchant_days")
    for table in ("merchant_days", "active_months", "card_months", "support_months"):
        op.drop_table(table)
    op.drop_table("payment_months")
