"""Statistics of an area (SPEC 4), settlement runs and the audit log, as people see them.

An area is an issuer's subtree: its cards (members, issuance, active members, where
they pay) and the districts it covers (payments at merchants there). Every figure is
an aggregate query; derived amounts after refunds are floor(X x c' / c) as in SPEC 3.9,
computed in SQL. Payments, their rule lines and their refunds count in the KST month of
the payment (refunds change what a payment finally was, not when it happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, or_, select, true

from eum import errors
from eum.audit import service as audit
from eum.auth.model import Principal
from eum.auth.store import users
from eum.clock import KST
from eum.merchants.store import merchants
from eum.payments.store import payment_lines, payments, settlement_lines, settlements
from eum.policy import service as policy
from eum.policy.model import IssuerTree
from eum.policy.store import budgets, rules
from eum.wallets.store import charge_months, members
from eum.wallets.views import iso

MAX_MONTHS = 24  # months in one series
BPS = 10_000


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


def _month_end(month: str) -> datetime:
    """The first instant (KST) after a YYYY-MM month."""
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return datetime(year, mon, 1, tzinfo=KST)


def months_until(last: str, count: int) -> list[str]:
    """``count`` months ending with ``last``, oldest first."""
    year, mon = int(last[:4]), int(last[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def _now_value(x: Any) -> Any:
    """floor(x * c' / c) of a payment's derived quantity (SPEC 3.9), in SQL."""
    left = payments.c.charged - payments.c.refunded
    return case((payments.c.charged == 0, x), else_=x * left // payments.c.charged)


def _paid_by(area: Area) -> Any:
    """Rule lines paid from budgets of the area's issuers (or, for rules without a budget,
    from their owner's funding); merchant groups' own budgets are not public money."""
    if area.issuers is None:
        issuer_budgets = select(budgets.c.id).where(budgets.c.owner_kind == "issuer")
        return or_(
            payment_lines.c.budget_id.is_(None), payment_lines.c.budget_id.in_(issuer_budgets)
        )
    scope = sorted(area.issuers)
    issuer_budgets = select(budgets.c.id).where(
        budgets.c.owner_kind == "issuer", budgets.c.owner_id.in_(scope)
    )
    owned_rules = select(rules.c.id).where(rules.c.owner_id.in_(scope))
    return or_(
        payment_lines.c.budget_id.in_(issuer_budgets),
        and_(payment_lines.c.budget_id.is_(None), payment_lines.c.rule_id.in_(owned_rules)),
    )


def _support(conn: Connection, area: Area, month: str) -> dict[str, int]:
    """Cashback and fee support net of claw-backs, by kind."""
    rows = conn.execute(
        select(payment_lines.c.kind, func.sum(_now_value(payment_lines.c.amount)))
        .join(payments, payments.c.id == payment_lines.c.payment_id)
        .where(payments.c.month == month, _paid_by(area))
        .group_by(payment_lines.c.kind)
    )
    return {kind: int(total or 0) for kind, total in rows}


def _payments_in_area(conn: Connection, area: Area, month: str) -> tuple[int, int]:
    """(count, won net of refunds) of payments at merchants in the area's districts."""
    query = select(
        func.count(), func.coalesce(func.sum(payments.c.charged - payments.c.refunded), 0)
    )
    query = query.where(payments.c.month == month)
    if area.districts is not None:
        in_area = select(merchants.c.id).where(merchants.c.district.in_(sorted(area.districts)))
        query = query.where(payments.c.merchant_id.in_(in_area))
    count, total = conn.execute(query).one()
    return int(count), int(total)


def _own_districts(conn: Connection, area: Area, month: str, tree: IssuerTree) -> tuple[int, int]:
    """(won paid by the area's cards, of which at merchants their card's issuer covers)."""
    query = (
        select(
            payments.c.card_issuer_id,
            merchants.c.district,
            func.sum(payments.c.charged - payments.c.refunded),
        )
        .join(merchants, merchants.c.id == payments.c.merchant_id)
        .where(payments.c.month == month)
        .group_by(payments.c.card_issuer_id, merchants.c.district)
    )
    if area.issuers is not None:
        query = query.where(payments.c.card_issuer_id.in_(sorted(area.issuers)))
    total = own = 0
    for card_issuer, district, won in conn.execute(query):
        total += int(won or 0)
        if card_issuer in tree.parent and district in tree.covers(card_issuer):
            own += int(won or 0)
    return total, own


def _card_filter(column: Any, area: Area) -> Any:
    return true() if area.issuers is None else column.in_(sorted(area.issuers))


def _people(conn: Connection, area: Area, month: str) -> dict[str, int]:
    """Members holding the area's cards at the month's end, active ones and their charges."""
    member_count = conn.execute(
        select(func.count())
        .select_from(members)
        .where(
            _card_filter(members.c.card_issuer_id, area), members.c.created_at < _month_end(month)
        )
    ).scalar_one()
    active = conn.execute(
        select(func.count(distinct(payments.c.member_id))).where(
            payments.c.month == month,
            payments.c.payer_kind == "member",
            _card_filter(payments.c.card_issuer_id, area),
        )
    ).scalar_one()
    issued = conn.execute(
        select(func.coalesce(func.sum(charge_months.c.charged), 0))
        .join(members, members.c.id == charge_months.c.member_id)
        .where(charge_months.c.month == month, _card_filter(members.c.card_issuer_id, area))
    ).scalar_one()
    return {"members": int(member_count), "active_members": int(active), "issuance": int(issued)}


def overview(conn: Connection, area: Area, month: str) -> dict[str, Any]:
    """The SPEC 4 figures of one area for one KST month."""
    tree = policy.catalog(conn).issuers
    count, paid = _payments_in_area(conn, area, month)
    support = _support(conn, area, month)
    cashback, fee_support = support.get("cashback", 0), support.get("fee_support", 0)
    by_cards, own = _own_districts(conn, area, month, tree)
    spent = cashback + fee_support
    return {
        "issuer": area.issuer_id,
        "month": month,
        **_people(conn, area, month),
        "payment_count": count,
        "payments": paid,
        "cashback": cashback,
        "fee_support": fee_support,
        "card_payments": by_cards,
        "own_district_payments": own,
        "own_district_share_bps": own * BPS // by_cards if by_cards else None,
        # a ratio, not money: how many won of payments each won of support came with
        "fiscal_leverage": round(paid / spent, 2) if spent else None,
    }


def monthly(conn: Connection, area: Area, last: str, count: int) -> list[dict[str, Any]]:
    return [overview(conn, area, m) for m in months_until(last, min(count, MAX_MONTHS))]


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
