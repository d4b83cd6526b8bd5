"""Tables of users and their login sessions (tokens)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table

from eum.db import metadata

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # member|merchant|promoter|issuer_admin|operator
    Column("display_name", String(200)),
    Column("member_id", String(64), ForeignKey("members.id")),
    Column("merchant_id", String(64), ForeignKey("merchants.id")),
    Column("issuer_id", String(64), ForeignKey("issuers.id")),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_sessions_user", "user_id"),
)
