"""Tables of the phone-order directory and the Benefit Plus merchants' services."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from eum.db import metadata

# A merchant's entry in the phone-order directory (one per merchant, opt in / out).
phone_listings = Table(
    "phone_listings",
    metadata,
    Column("merchant_id", String(64), ForeignKey("merchants.id"), primary_key=True),
    Column("phone", String(20), nullable=False),
    Column("hours", String(200), nullable=False),
    Column("menu", Text, nullable=False),  # a short menu, a few lines
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Free consultation slots an issuer publishes (tax, legal, labour).
consult_slots = Table(
    "consult_slots",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issuer_id", String(64), ForeignKey("issuers.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # tax | legal | labour
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("place", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_consult_slots_issuer", "issuer_id", "starts_at"),
)

# A slot's booking: the slot is the key, so a slot is booked once (no double booking).
consult_bookings = Table(
    "consult_bookings",
    metadata,
    Column("slot_id", String(64), ForeignKey("consult_slots.id"), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("note", String(500)),
    Column("booked_at", DateTime(timezone=True), nullable=False),
)

# Certificates of the 20% credit-guarantee fee reduction issued to merchants.
benefit_certificates = Table(
    "benefit_certificates",
    metadata,
    Column("id", String(64), primary_key=True),  # the certificate number
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

# Requests for a free QR kit and where their delivery is.
qr_kit_requests = Table(
    "qr_kit_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("address", String(300), nullable=False),
    Column("status", String(20), nullable=False),  # requested | shipped | delivered | cancelled
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_qr_kit_requests_merchant", "merchant_id"),
)
