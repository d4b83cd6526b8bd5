"""Tables of payments with the rule lines they earned, refunds and settlements."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    false,
)

from eum.db import metadata

payments = Table(
    "payments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # = entry id
    Column("ref", String(200), unique=True),  # the client's reference (its idempotency key)
    Column("payer_kind", String(10), nullable=False),  # member | group
    Column("member_id", String(64), ForeignKey("members.id")),
    Column("group_id", String(64)),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("card_issuer_id", String(64)),
    Column("channel", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("coupon_id", String(64)),
    Column("coupon_off", BigInteger, nullable=False),
    Column("charged", BigInteger, nullable=False),
    Column("from_cashback", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    # Running total of refunds: a counter like a balance row, moved with each refund.
    Column("refunded", BigInteger, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("invoice", String(200)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("month", String(7), nullable=False),
    # The merchant's district (never changes), so that an issuer admin's newest payments
    # are an index range per district instead of a sort of all of them.
    Column("district", String(64)),
    # Pages list newest first: each index ends with the id.
    Index("ix_payments_member_id", "member_id", "id"),
    Index("ix_payments_merchant_id", "merchant_id", "id"),
    Index("ix_payments_district_id", "district", "id"),
    Index("ix_payments_at", "at"),
)

payment_lines = Table(
    "payment_lines",
    metadata,
    Column("payment_id", BigInteger, ForeignKey("payments.id"), primary_key=True),
    Column("rule_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("budget_id", String(64)),
    Column("account_id", Integer, nullable=False),  # the budget (or issuer funding) that paid
    Column("qualifying", BigInteger, nullable=False),  # as when paid
    # whether `qualifying` was counted against a monthly cap (so a refund gives it back)
    Column("capped", Boolean, nullable=False, default=False, server_default=false()),
    Column("amount", BigInteger, nullable=False),  # as when paid
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # = entry id
    Column("payment_id", BigInteger, ForeignKey("payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("cashback_back", BigInteger, nullable=False),
    Column("fee_back", BigInteger, nullable=False),
    Column("fee_support_back", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_refunds_payment", "payment_id"),
)

settlements = Table(
    "settlements",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("merchants", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
)

settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("settlement_id", BigInteger, ForeignKey("settlements.id"), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)
