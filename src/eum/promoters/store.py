"""Tables of the field promoters' work: visits, sign-ups they brought, shops' stickers."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table

from eum.db import metadata

# A promoter's visit to a shop (or a registration it helped with before the shop had an id).
promoter_visits = Table(
    "promoter_visits",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("promoter_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("visited_at", DateTime(timezone=True), nullable=False),
    Column("note", String(500)),
    Index("ix_promoter_visits_promoter", "promoter_id", "visited_at"),
    Index("ix_promoter_visits_merchant", "merchant_id"),
)

# The shops a promoter signed up (one promoter per shop).
promoter_signups = Table(
    "promoter_signups",
    metadata,
    Column("merchant_id", String(64), ForeignKey("merchants.id"), primary_key=True),
    Column("promoter_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# A shop's 가맹점 sticker: none | requested | attached (last recorded by a promoter).
stickers = Table(
    "stickers",
    metadata,
    Column("merchant_id", String(64), ForeignKey("merchants.id"), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("promoter_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
