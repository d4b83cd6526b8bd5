"""The audit log table; migration 0002 makes it append-only with triggers."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, String, Table

from eum.db import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("issuer_id", String(64)),  # whose area the action concerns, for scoped reading
    Column("detail", JSON, nullable=False),
    Index("ix_audit_at", "at"),
)
