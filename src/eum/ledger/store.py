"""Ledger tables and the database triggers that enforce its invariants."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from eum.db import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("allow_negative", Boolean, nullable=False, default=False),
    CheckConstraint("allow_negative OR balance >= 0", name="no_negative_balance"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ref", String(200)),
)

postings = Table(
    "postings",
    metadata,
    # BIGINT on PostgreSQL (billions of postings); SQLite's rowid is 64-bit already.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "entry_id",
        BigInteger,
        ForeignKey("journal_entries.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("amount <> 0", name="nonzero"),
    Index("ix_postings_entry", "entry_id"),
    Index("ix_postings_account", "account_id"),
)

# The database enforces the ledger's invariants with triggers created by migration 0001
# (the same sealing protocol on SQLite and PostgreSQL): an entry's postings are written
# first, then the entry row; inserting the entry row checks that its postings exist and
# sum to zero, no posting may join an entry once its row exists, and entries and postings
# can be neither updated nor deleted.
