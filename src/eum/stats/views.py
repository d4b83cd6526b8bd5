"""Statistics of an area (SPEC 4), settlement runs and the audit log, as people see them.

An area is an issuer's subtree: its cards (members, issuance, active members, where
they pay) and the districts it covers (payments at merchants there). Every figure is
read from the dashboard counters (``eum.stats.store``), never from a scan of payments;
derived amounts after refunds are floor(X x c' / c) as in SPEC 3.9. Payments, their rule
lines and their refunds count in the KST month of the payment (refunds change what a
payment finally was, not when it happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, true

from eum import errors
from eum.audit import service as audit
from eum.auth.model import Principal
from eum.auth.store import users
from eum.payments.store import settlement_lines, settlements
from eum.policy import service as policy
from eum.policy.store import budgets, rules
from eum.stats.store import card_months, payment_months, support_months
from eum.wallets.views import iso

MAX_MONTHS = 24  # months in one series
BPS = 10_000
NO_BUDGET = ""  # the budget key of support paid from its rule owner's funding


@dataclass(frozen=True)
class Area:
    """Whose figures: an issuer's subtree and its districts; None is the whole platform."""

    issuer_id: str | None
    issuers: frozenset[str] | None
    districts: frozenset[str] | None


def area_for(conn: Connection, p: Principal, issuer_id: str | None) -> Area:
    """An admin's own area, or an issuer of its subtree; an operator's platform or issuer."""
    tree = policy.catalog(conn).issuers
    if issuer_id is None:
        issuer_id = p.issuer_id
    if issuer_id is None:
        return Area(None, None, None)
    if issuer_id not in tree.parent or not p.sees_issuer(issuer_id):
        raise errors.UnknownIssuer(f"no issuer {issuer_id}", field="issuer")
    return Area(issuer_id, tree.subtree(issuer_id), tree.covers(issuer_id))


def months_until(last: str, count: int) -> list[str]:
    """``count`` months ending with ``last``, oldest first."""
    year, mon = int(last[:4]), int(last[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def paid_by(area: Area, table: Any = support_months) -> Any:
    """Support paid from budgets of the area's issuers (or, for rules without a budget,
    from their owner's funding); merchant groups' own budgets are not public money.
    ``table``: support_months or support_days (the same key columns)."""
    line = table.c
    if area.issuers is None:
        issuer_budgets = select(budgets.c.id).where(budgets.c.owner_kind == "issuer")
        return or_(line.budget_id == NO_BUDGET, line.budget_id.in_(issuer_budgets))
    scope = sorted(area.issuers)
    issuer_budgets = select(budgets.c.id).where(
        budgets.c.owner_kind == "issuer", budgets.c.owner_id.in_(scope)
    )
    owned_rules = select(rules.c.id).where(rules.c.owner_id.in_(scope))
    return or_(
        line.budget_id.in_(issuer_budgets),
        and_(line.budget_id == NO_BUDGET, line.rule_id.in_(owned_rules)),
    )


def _empty(area: Area, month: str) -> dict[str, Any]:
    return {
        "issuer": area.issuer_id,
        "month": month,
        "members": 0,
        "active_members": 0,
        "issuance": 0,
        "payment_count": 0,
        "payments": 0,
        "cashback": 0,
        "fee_support": 0,
        "card_payments": 0,
        "own_district_payments": 0,
    }


def figures(conn: Connection, area: Area, months: list[str]) -> list[dict[str, Any]]:
    """The SPEC 4 figures of one area for each of ``months`` (ascending), from the
    dashboard counters: three grouped queries whatever the number of months."""
    tree = policy.catalog(conn).issuers
    first, last = months[0], months[-1]
    out = {m: _empty(area, m) for m in months}
    made = payment_months.c
    for month, card_issuer, district, count, paid in conn.execute(
        select(
            made.month,
            made.card_issuer_id,
            made.district,
            func.sum(made.payments),
            func.sum(made.paid),
        )
        .where(made.month >= first, made.month <= last)
        .group_by(made.month, made.card_issuer_id, made.district)
    ):
        row = out.get(month)
        if row is None:
            continue
        if area.districts is None or district in area.districts:
            row["payment_count"] += int(count)
            row["payments"] += int(paid)
        if area.issuers is None or card_issuer in area.issuers:
            row["card_payments"] += int(paid)
            if card_issuer in tree.parent and district in tree.covers(card_issuer):
                row["own_district_payments"] += int(paid)
    for month, kind, amount in conn.execute(
        select(support_months.c.month, support_months.c.kind, func.sum(support_months.c.amount))
        .where(support_months.c.month >= first, support_months.c.month <= last, paid_by(area))
        .group_by(support_months.c.month, support_months.c.kind)
    ):
        if month in out and kind in ("cashback", "fee_support"):
            out[month][kind] += int(amount)
    cards = card_months.c
    joined_before = 0
    joined: dict[str, int] = {}
    for month, count, active, issued in conn.execute(
        select(cards.month, func.sum(cards.joined), func.sum(cards.active), func.sum(cards.issued))
        .where(cards.month <= last, card_filter(cards.card_issuer_id, area))
        .group_by(cards.month)
    ):
        if month < first:
            joined_before += int(count)
            continue
        joined[month] = int(count)
        if month in out:
            out[month]["active_members"] = int(active)
            out[month]["issuance"] = int(issued)
    running = joined_before
    for month in months:  # members holding the area's cards at each month's end
        running += joined.get(month, 0)
        out[month]["members"] = running
    result = []
    for month in months:
        row = out[month]
        spent = row["cashback"] + row["fee_support"]
        by_cards, own = row["card_payments"], row["own_district_payments"]
        row["own_district_share_bps"] = own * BPS // by_cards if by_cards else None
        # a ratio, not money: how many won of payments each won of support came with
        row["fiscal_leverage"] = round(row["payments"] / spent, 2) if spent else None
        result.append(row)
    return result


def card_filter(column: Any, area: Area) -> Any:
    return true() if area.issuers is None else column.in_(sorted(area.issuers))


def overview(conn: Connection, area: Area, month: str) -> dict[str, Any]:
    """The SPEC 4 figures of one area for one KST month."""
    return figures(conn, area, [month])[0]


def monthly(conn: Connection, area: Area, last: str, count: int) -> list[dict[str, Any]]:
    return figures(conn, area, months_until(last, min(count, MAX_MONTHS)))


# --- operations: settlement runs and the audit log ------------------------------------------


def settlement_runs(
    conn: Connection, limit: int, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Settlement runs, newest first, each with what every merchant was paid out."""
    query = select(settlements).order_by(settlements.c.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(settlements.c.id < before_id)
    rows = conn.execute(query).all()
    page = rows[:limit]
    lines: dict[int, list[dict[str, Any]]] = {r.id: [] for r in page}
    if page:
        for ln in conn.execute(
            select(settlement_lines)
            .where(settlement_lines.c.settlement_id.in_(list(lines)))
            .order_by(settlement_lines.c.merchant_id)
        ):
            lines[ln.settlement_id].append({"merchant": ln.merchant_id, "amount": int(ln.amount)})
    items = [
        {
            "id": str(r.id),
            "at": iso(r.at),
            "merchants": r.merchants,
            "amount": int(r.amount),
            "lines": lines[r.id],
        }
        for r in page
    ]
    return items, (page[-1].id if len(rows) > limit else None)


def audit_page(
    conn: Connection, p: Principal, limit: int, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Audit entries newest first: an admin those of its subtree, an operator all."""
    rows = audit.entries(conn, issuers=p.issuers, limit=limit + 1, before_id=before_id)
    page = rows[:limit]
    actors = {r["actor_id"] for r in page}
    logins = (
        dict(
            conn.execute(
                select(users.c.id, users.c.login).where(users.c.id.in_(sorted(actors)))
            ).all()
        )
        if actors
        else {}
    )
    items = [{**r, "at": iso(r["at"]), "actor_login": logins.get(r["actor_id"])} for r in page]
    return items, (page[-1]["id"] if len(rows) > limit else None)
