"""The SPEC 4 figures of an area per KST day, from the day counters (``stats.store``).

A day's payments, cashback and fee support count the payments made that day, net of
their refunds whenever those came (as the months do); sign-ups, issuance and donations
count on the day they happened; ``new_active`` counts the members whose first payment
of the month fell on that day, so a month's days add up to its active members. Payments
can be split by the merchant's district or category; support is paid per rule and
budget, so it stays a per-day figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from eum.policy import service as policy
from eum.stats.store import card_days, payment_days, support_days
from eum.stats.views import BPS, Area, card_filter, paid_by

MAX_DAYS = 366  # days in one answer
SPLITS = ("district", "category")


def days_between(first: date, last: date) -> Iterator[str]:
    for k in range((last - first).days + 1):
        yield (first + timedelta(days=k)).isoformat()


def _blank(day: str) -> dict[str, Any]:
    return {
        "day": day,
        "members_joined": 0,
        "new_active": 0,
        "issuance": 0,
        "payment_count": 0,
        "payments": 0,
        "cashback": 0,
        "fee_support": 0,
        "donations": 0,
        "card_payments": 0,
        "own_district_payments": 0,
    }


def daily(
    conn: Connection, area: Area, first: date, last: date, split: str | None = None
) -> dict[str, Any]:
    """Per day from ``first`` to ``last`` (inclusive, at most MAX_DAYS): the area's
    figures, and with ``split`` ("district" or "category") its payments split that way."""
    assert split is None or split in SPLITS
    tree = policy.catalog(conn).issuers
    lo, hi = first.isoformat(), last.isoformat()
    out = {d: _blank(d) for d in days_between(first, last)}
    parts: dict[str, dict[str, dict[str, int]]] = {}
    made = payment_days.c
    key = made.district if split != "category" else made.category
    for day, card_issuer, district, part, count, paid in conn.execute(
        select(
            made.day,
            made.card_issuer_id,
            made.district,
            key,
            func.sum(made.payments),
            func.sum(made.paid),
        )
        .where(made.day >= lo, made.day <= hi)
        .group_by(made.day, made.card_issuer_id, made.district, key)
    ):
        row = out[day]
        if area.districts is None or district in area.districts:
            row["payment_count"] += int(count)
            row["payments"] += int(paid)
            if split is not None:
                cell = parts.setdefault(day, {}).setdefault(part, {"count": 0, "payments": 0})
                cell["count"] += int(count)
                cell["payments"] += int(paid)
        if area.issuers is None or card_issuer in area.issuers:
            row["card_payments"] += int(paid)
            if card_issuer in tree.parent and district in tree.covers(card_issuer):
                row["own_district_payments"] += int(paid)
    line = support_days.c
    for day, kind, amount in conn.execute(
        select(line.day, line.kind, func.sum(line.amount))
        .where(line.day >= lo, line.day <= hi, paid_by(area, support_days))
        .group_by(line.day, line.kind)
    ):
        if kind in ("cashback", "fee_support"):
            out[day][kind] += int(amount)
    cards = card_days.c
    for day, joined, active, issued, donated in conn.execute(
        select(
            cards.day,
            func.sum(cards.joined),
            func.sum(cards.active),
            func.sum(cards.issued),
            func.sum(cards.donated),
        )
        .where(cards.day >= lo, cards.day <= hi, card_filter(cards.card_issuer_id, area))
        .group_by(cards.day)
    ):
        row = out[day]
        row["members_joined"] = int(joined)
        row["new_active"] = int(active)
        row["issuance"] = int(issued)
        row["donations"] = int(donated)
    rows = []
    for day in sorted(out):
        row = out[day]
        spent = row["cashback"] + row["fee_support"]
        by_cards, own = row["card_payments"], row["own_district_payments"]
        row["own_district_share_bps"] = own * BPS // by_cards if by_cards else None
        row["fiscal_leverage"] = round(row["payments"] / spent, 2) if spent else None
        if split is not None:
            row[f"by_{split}"] = [
                {split: name, **cell} for name, cell in sorted(parts.get(day, {}).items())
            ]
        rows.append(row)
    return {"issuer": area.issuer_id, "from": lo, "to": hi, "split": split, "days": rows}
