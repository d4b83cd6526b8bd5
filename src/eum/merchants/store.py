"""Tables of merchants, merchant groups, coupons and coupon claims."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from eum.db import metadata

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("district", String(64), nullable=False),
    Column("category", String(64)),
    Column("neighbourhood", String(64)),  # the 동 it is in, where known
    Column("tier", String(20), nullable=False, default="general"),
    Column("discount_bps", Integer, nullable=False, default=0),
    Column("annual_sales", BigInteger, nullable=False, default=0),
    Column("card_fee_bps", Integer, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),
    # registration: pending -> approved (active) | rejected, decided by the district's admin
    Column("status", String(20), nullable=False, default="approved", server_default="approved"),
    Column("receivable_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("payout_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_merchants_district", "district"),
)

merchant_groups = Table(
    "merchant_groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("funding_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

merchant_group_members = Table(
    "merchant_group_members",
    metadata,
    Column("group_id", String(64), ForeignKey("merchant_groups.id"), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), primary_key=True),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("name", String(200)),
    Column("value", BigInteger, nullable=False),
    Column("min_spend", BigInteger, nullable=False, default=0),
    Column("quantity", Integer),
    Column("claimed", Integer, nullable=False, default=0),
    Column("valid_from", Date),
    Column("valid_until", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

coupon_claims = Table(
    "coupon_claims",
    metadata,
    Column("coupon_id", String(64), ForeignKey("coupons.id"), primary_key=True),
    Column("member_id", String(64), ForeignKey("members.id"), primary_key=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("used_payment_id", BigInteger),
)
