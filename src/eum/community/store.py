"""Tables of donation campaigns, donations, user groups and contributions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
)

from eum.db import metadata

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", String(64), ForeignKey("issuers.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

donations = Table(
    "donations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("campaign_id", String(64), ForeignKey("campaigns.id"), nullable=False),
    Column("member_id", String(64)),
    Column("group_id", String(64)),
    Column("amount", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", String(64), ForeignKey("members.id"), nullable=False),
    Column("pool_account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

user_group_members = Table(
    "user_group_members",
    metadata,
    Column("group_id", String(64), ForeignKey("user_groups.id"), primary_key=True),
    Column("member_id", String(64), ForeignKey("members.id"), primary_key=True),
)

contributions = Table(
    "contributions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("group_id", String(64), ForeignKey("user_groups.id"), nullable=False),
    Column("member_id", String(64), ForeignKey("members.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
