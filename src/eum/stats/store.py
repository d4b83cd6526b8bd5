"""Counter tables behind the dashboards, moved in the same transaction as what they count.

Dashboards read these instead of scanning payments: a month of the whole platform is a
few thousand counter rows however many payments it had. ``eum.stats.rollups`` keeps
them and can recount every one of them from the base tables.

Keys are never NULL (a missing budget is ''), so that each key is one row on every
database. Days and months are KST, as ``YYYY-MM-DD`` and ``YYYY-MM`` text.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from eum.db import metadata

# Payments by the month they were made in, net of their refunds whenever those came
# (SPEC 4 counts a refund against the payment it takes back), by the merchant's district
# and category ('' for none) and the card's issuer: a month is a few thousand rows.
payment_months = Table(
    "payment_months",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("district", String(64), primary_key=True),
    Column("category", String(64), primary_key=True),
    Column("card_issuer_id", String(64), primary_key=True),
    Column("payments", BigInteger, nullable=False),  # how many were made
    Column("paid", BigInteger, nullable=False),  # charged - refunded
)

# Cashback and fee support by the month of the payment, at current value after refunds
# (floor(X x c' / c), SPEC 3.9), per rule and the budget that paid ('' for none).
support_months = Table(
    "support_months",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("rule_id", String(64), primary_key=True),
    Column("budget_id", String(64), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

# Per card issuer and month: members who signed up, members who paid at least once,
# and issuance (charges).
card_months = Table(
    "card_months",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("card_issuer_id", String(64), primary_key=True),
    Column("joined", BigInteger, nullable=False),
    Column("active", BigInteger, nullable=False),
    Column("issued", BigInteger, nullable=False),
)

# Which members paid in which month (each pair once): what makes ``active`` exact.
active_months = Table(
    "active_months",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
)

# A merchant's sales per KST day: payments by the day they were made, refunds by the
# day they were given (so a day's net is exactly how its receivable moved).
merchant_days = Table(
    "merchant_days",
    metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("payments", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("charged", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("fee_support", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("fee_back", BigInteger, nullable=False),
    Column("fee_support_back", BigInteger, nullable=False),
    Index("ix_merchant_days_day", "day"),
)

# --- per KST day (issue "Budget foresight") ---------------------------------------------
# The month tables above stay: a dashboard of twelve months reads a few thousand rows.
# These give the same figures per day, for daily statistics, open data and forecasts.

# Payments by the day they were made, net of their refunds whenever those came.
payment_days = Table(
    "payment_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("district", String(64), primary_key=True),
    Column("category", String(64), primary_key=True),
    Column("card_issuer_id", String(64), primary_key=True),
    Column("payments", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
)

# Cashback and fee support by the day of the payment, at current value after refunds.
support_days = Table(
    "support_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("rule_id", String(64), primary_key=True),
    Column("budget_id", String(64), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

# Per card issuer and day: sign-ups, members whose first payment of the month fell on
# that day (so a month's days add up to its active members), issuance, and donations
# (a group's by its owner's card).
card_days = Table(
    "card_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("card_issuer_id", String(64), primary_key=True),
    Column("joined", BigInteger, nullable=False),
    Column("active", BigInteger, nullable=False),
    Column("issued", BigInteger, nullable=False),
    Column("donated", BigInteger, nullable=False),
)

# A budget's account per day, each movement on the day it happened: what fundings (and
# closing, negative) put in, and what rules took out net of what refunds gave back. Its
# balance at the end of any day is its balance now minus what moved after that day.
budget_days = Table(
    "budget_days",
    metadata,
    Column("budget_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("funded", BigInteger, nullable=False),
    Column("spent", BigInteger, nullable=False),
)
