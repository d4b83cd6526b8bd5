"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:15:25.512709
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sealing protocol, the same on both databases: an entry's postings are written
# first, then the entry row; inserting the entry row checks that its postings exist
# and sum to zero, and no posting may be added to an entry once its row exists.
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER ledger_seal_entry AFTER INSERT ON journal_entries
    BEGIN
      SELECT RAISE(ABORT, 'ledger: unbalanced entry')
      WHERE (SELECT COUNT(*) FROM postings WHERE entry_id = NEW.id) = 0
         OR (SELECT SUM(amount) FROM postings WHERE entry_id = NEW.id) <> 0;
    END
    """,
    """
    CREATE TRIGGER ledger_sealed_posting BEFORE INSERT ON postings
    WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id)
    BEGIN
      SELECT RAISE(ABORT, 'ledger: entry already sealed');
    END
    """,
    """
    CREATE TRIGGER ledger_no_update_entries BEFORE UPDATE ON journal_entries
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_no_delete_entries BEFORE DELETE ON journal_entries
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_no_update_postings BEFORE UPDATE ON postings
    BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_no_delete_postings BEFORE DELETE ON postings
    BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only'); END
    """,
]

POSTGRES_TRIGGERS = [
    """
    CREATE FUNCTION ledger_seal_entry() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE n bigint; s numeric;
    BEGIN
      SELECT COUNT(*), COALESCE(SUM(amount), 0) INTO n, s FROM postings WHERE entry_id = NEW.id;
      IF n = 0 OR s <> 0 THEN
        RAISE EXCEPTION 'ledger: unbalanced entry % (% postings, sum %)', NEW.id, n, s;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER ledger_seal_entry AFTER INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_seal_entry()
    """,
    """
    CREATE FUNCTION ledger_sealed_posting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger: entry % already sealed', NEW.entry_id;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER ledger_sealed_posting BEFORE INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_sealed_posting()
    """,
    """
    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'ledger: % is append-only', TG_TABLE_NAME;
    END $$
    """,
    """
    CREATE TRIGGER ledger_append_only_entries BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
    """
    CREATE TRIGGER ledger_append_only_postings BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "allow_negative OR balance >= 0", name=op.f("ck_accounts_no_negative_balance")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_accounts_code")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    op.create_table(
        "platform_settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_platform_settings")),
    )
    op.create_table(
        "settlements",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merchants", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
    )
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("owner_kind", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("funding_account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_budgets_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["funding_account_id"],
            ["accounts.id"],
            name=op.f("fk_budgets_funding_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    op.create_table(
        "issuers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("funding_account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["funding_account_id"],
            ["accounts.id"],
            name=op.f("fk_issuers_funding_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["issuers.id"], name=op.f("fk_issuers_parent_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuers")),
    )
    op.create_table(
        "merchant_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("funding_account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["funding_account_id"],
            ["accounts.id"],
            name=op.f("fk_merchant_groups_funding_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_groups")),
    )
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("discount_bps", sa.Integer(), nullable=False),
        sa.Column("annual_sales", sa.BigInteger(), nullable=False),
        sa.Column("card_fee_bps", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("receivable_account_id", sa.Integer(), nullable=False),
        sa.Column("payout_account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payout_account_id"],
            ["accounts.id"],
            name=op.f("fk_merchants_payout_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["receivable_account_id"],
            ["accounts.id"],
            name=op.f("fk_merchants_receivable_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.create_index("ix_merchants_district", ["district"], unique=False)

    op.create_table(
        "postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_postings_nonzero")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_postings_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_postings_entry_id_journal_entries"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index("ix_postings_account", ["account_id"], unique=False)
        batch_op.create_index("ix_postings_entry", ["entry_id"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_campaigns_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["issuers.id"], name=op.f("fk_campaigns_owner_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("min_spend", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_coupons_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )
    op.create_table(
        "issuer_districts",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_issuer_districts_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "district", name=op.f("pk_issuer_districts")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("card_issuer_id", sa.String(length=64), nullable=False),
        sa.Column("card_kind", sa.String(length=20), nullable=False),
        sa.Column("home_district", sa.String(length=64), nullable=True),
        sa.Column("cashback_account_id", sa.Integer(), nullable=False),
        sa.Column("charged_account_id", sa.Integer(), nullable=False),
        sa.Column("charged_total", sa.BigInteger(), nullable=False),
        sa.Column("spent_net", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_issuer_id"], ["issuers.id"], name=op.f("fk_members_card_issuer_id_issuers")
        ),
        sa.ForeignKeyConstraint(
            ["cashback_account_id"],
            ["accounts.id"],
            name=op.f("fk_members_cashback_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["charged_account_id"],
            ["accounts.id"],
            name=op.f("fk_members_charged_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_table(
        "merchant_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["merchant_groups.id"],
            name=op.f("fk_merchant_group_members_group_id_merchant_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_group_members_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("group_id", "merchant_id", name=op.f("pk_merchant_group_members")),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("budget_id", sa.String(length=64), nullable=True),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("monthly_cap", sa.BigInteger(), nullable=True),
        sa.Column("cards", sa.String(length=64), nullable=True),
        sa.Column("districts", sa.JSON(), nullable=True),
        sa.Column("card_kinds", sa.JSON(), nullable=True),
        sa.Column("merchant_tiers", sa.JSON(), nullable=True),
        sa.Column("max_annual_sales", sa.BigInteger(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=True),
        sa.Column("merchant_group", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["budgets.id"], name=op.f("fk_rules_budget_id_budgets")
        ),
        sa.ForeignKeyConstraint(["cards"], ["issuers.id"], name=op.f("fk_rules_cards_issuers")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["issuers.id"], name=op.f("fk_rules_owner_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("seq", name=op.f("uq_rules_seq")),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("settlement_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_settlement_lines_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_settlement_lines_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("settlement_id", "merchant_id", name=op.f("pk_settlement_lines")),
    )
    op.create_table(
        "cap_usage",
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], name=op.f("fk_cap_usage_rule_id_rules")),
        sa.PrimaryKeyConstraint("rule_id", "member_id", "month", name=op.f("pk_cap_usage")),
    )
    op.create_table(
        "charge_months",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("charged", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_charge_months_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "month", name=op.f("pk_charge_months")),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_charges_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_member", ["member_id"], unique=False)

    op.create_table(
        "coupon_claims",
        sa.Column("coupon_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_payment_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_claims_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_coupon_claims_member_id_members")
        ),
        sa.PrimaryKeyConstraint("coupon_id", "member_id", name=op.f("pk_coupon_claims")),
    )
    op.create_table(
        "donations",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_donations_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("payer_kind", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("card_issuer_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("coupon_id", sa.String(length=64), nullable=True),
        sa.Column("coupon_off", sa.BigInteger(), nullable=False),
        sa.Column("charged", sa.BigInteger(), nullable=False),
        sa.Column("from_cashback", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("invoice", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_payments_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payments_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("ref", name=op.f("uq_payments_ref")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_at", ["at"], unique=False)
        batch_op.create_index("ix_payments_member", ["member_id"], unique=False)
        batch_op.create_index("ix_payments_merchant", ["merchant_id"], unique=False)

    op.create_table(
        "user_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("pool_account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["members.id"], name=op.f("fk_user_groups_owner_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["pool_account_id"],
            ["accounts.id"],
            name=op.f("fk_user_groups_pool_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_groups")),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_withdrawals_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
    )
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.create_index("ix_withdrawals_member", ["member_id"], unique=False)

    op.create_table(
        "contributions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["user_groups.id"], name=op.f("fk_contributions_group_id_user_groups")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_contributions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions")),
    )
    op.create_table(
        "payment_lines",
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("budget_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("qualifying", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_lines_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("payment_id", "rule_id", name=op.f("pk_payment_lines")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("cashback_back", sa.BigInteger(), nullable=False),
        sa.Column("fee_back", sa.BigInteger(), nullable=False),
        sa.Column("fee_support_back", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_payment", ["payment_id"], unique=False)

    op.create_table(
        "user_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["user_groups.id"],
            name=op.f("fk_user_group_members_group_id_user_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_user_group_members_member_id_members")
        ),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_user_group_members")),
    )
    # The database itself keeps the ledger balanced and append-only (see eum.ledger.store).
    bind = op.get_bind()
    for ddl in SQLITE_TRIGGERS if bind.dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(ddl)
    # Platform-level accounts every operation may post to, opened once here so that no two
    # first payments race to open them.
    accounts = sa.table(
        "accounts",
        sa.column("code"),
        sa.column("kind"),
        sa.column("balance"),
        sa.column("allow_negative"),
    )
    op.bulk_insert(
        accounts,
        [
            {"code": "external:bank", "kind": "external", "balance": 0, "allow_negative": True},
            {"code": "external:fees", "kind": "external", "balance": 0, "allow_negative": True},
        ],
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for fn in ("ledger_seal_entry", "ledger_sealed_posting", "ledger_append_only"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}() CASCADE")
    op.drop_table("user_group_members")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_payment")

    op.drop_table("refunds")
    op.drop_table("payment_lines")
    op.drop_table("contributions")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawals_member")

    op.drop_table("withdrawals")
    op.drop_table("user_groups")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_merchant")
        batch_op.drop_index("ix_payments_member")
        batch_op.drop_index("ix_payments_at")

    op.drop_table("payments")
    op.drop_table("donations")
    op.drop_table("coupon_claims")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_member")

    op.drop_table("charges")
    op.drop_table("charge_months")
    op.drop_table("cap_usage")
    op.drop_table("settlement_lines")
    op.drop_table("rules")
    op.drop_table("merchant_group_members")
    op.drop_table("members")
    op.drop_table("issuer_districts")
    op.drop_table("coupons")
    op.drop_table("campaigns")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_entry")
        batch_op.drop_index("ix_postings_account")

    op.drop_table("postings")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_index("ix_merchants_district")

    op.drop_table("merchants")
    op.drop_table("merchant_groups")
    op.drop_table("issuers")
    op.drop_table("budgets")
    op.drop_table("settlements")
    op.drop_table("platform_settings")
    op.drop_table("journal_entries")
    op.drop_table("idempotency_keys")
    op.drop_table("accounts")
