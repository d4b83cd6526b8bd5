"""Tables of members, their counters and the charge / withdrawal records."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from eum.db import metadata

members = Table(
    "members",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200)),
    Column("card_issuer_id", String(64), ForeignKey("issuers.id"), nullable=False),
    Column("card_kind", String(20), nullable=False),
    Column("home_district", String(64)),
    Column("cashback_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("charged_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    # Counters for SPEC 3.11, moved in the same transaction as the entries they count.
    Column("charged_total", BigInteger, nullable=False, default=0),
    Column("spent_net", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

charge_months = Table(
    "charge_months",
    metadata,
    Column("member_id", String(64), ForeignKey("members.id"), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("charged", BigInteger, nullable=False),
)

charges = Table(
    "charges",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # = entry id
    Column("member_id", String(64), ForeignKey("members.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_charges_member", "member_id"),
)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("member_id", String(64), ForeignKey("members.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_withdrawals_member", "member_id"),
)
