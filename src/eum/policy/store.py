"""Tables of the issuer tree, platform settings, budgets, rules and monthly cap usage."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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
    Text,
)

from eum.db import metadata

platform_settings = Table(
    "platform_settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
)

issuers = Table(
    "issuers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", String(64), ForeignKey("issuers.id")),
    Column("funding_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

issuer_districts = Table(
    "issuer_districts",
    metadata,
    Column("issuer_id", String(64), ForeignKey("issuers.id"), primary_key=True),
    Column("district", String(64), primary_key=True),
)

# Journal entries that put money into a budget (or, on closing, take what was left back).
FUNDING_KINDS = ("budget_open", "fund", "budget_close")

budgets = Table(
    "budgets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200)),
    Column("owner_kind", String(20), nullable=False),  # issuer | merchant_group
    Column("owner_id", String(64), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("funding_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a closed budget gave what was left back to its owner and pays nothing more
    Column("closed_at", DateTime(timezone=True)),
)

rules = Table(
    "rules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # definition order (SPEC 3.7)
    Column("kind", String(20), nullable=False),
    Column("name", String(200)),
    Column("owner_id", String(64), ForeignKey("issuers.id"), nullable=False),
    Column("budget_id", String(64), ForeignKey("budgets.id")),
    Column("rate_bps", Integer, nullable=False),
    Column("monthly_cap", BigInteger),
    Column("cards", String(64), ForeignKey("issuers.id")),
    Column("districts", JSON),
    Column("card_kinds", JSON),
    Column("merchant_tiers", JSON),
    Column("max_annual_sales", BigInteger),
    Column("channels", JSON),
    Column("merchant_group", String(64)),
    Column("valid_from", Date),
    Column("valid_until", Date),
    # scheduled rate changes: [[first KST day (ISO), rate_bps], ...] ascending; NULL: none
    Column("steps", JSON),
    Column("active", Boolean, nullable=False, default=True),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

cap_usage = Table(
    "cap_usage",
    metadata,
    Column("rule_id", String(64), ForeignKey("rules.id"), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),  # KST YYYY-MM
    Column("used", BigInteger, nullable=False),
    Index("ix_cap_usage_member_month", "member_id", "month"),
)

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("rule_id", String(64), ForeignKey("rules.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("change", String(20), nullable=False),  # created | changed | closed
    Column("spec", JSON, nullable=False),
)
