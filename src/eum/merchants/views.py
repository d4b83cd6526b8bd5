"""What people see of merchants: the public directory (approved merchants only), one
merchant's page, its coupons, merchant groups, and a merchant's sales summary.

The public sees approved merchants; the merchant itself, the admins of its area and
operators also see pending ones and the private fields (annual sales, card fee, status).
Anything outside the caller's view looks the same as a missing merchant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, func, select

from eum import errors
from eum.auth.model import Principal
from eum.clock import kst_day
from eum.ledger import service as ledger
from eum.merchants.service import Merchant, administers, find_merchant, owns, require
from eum.merchants.store import (
    coupon_claims,
    coupons,
    merchant_group_members,
    merchant_groups,
    merchants,
)
from eum.stats.store import merchant_days
from eum.wallets.views import iso

MAX_PAGE = 100


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "district": row.district,
        "category": row.category,
        "tier": row.tier,
        "discount_bps": row.discount_bps,
    }


def _private(m: Merchant) -> dict[str, Any]:
    return {
        **_public(m),
        "annual_sales": m.annual_sales_krw,
        "card_fee_bps": m.card_fee_bps,
        "status": m.status,
        "active": m.active,
    }


def _listed() -> Any:
    """The directory's condition: approved and taking payments."""
    return (merchants.c.status == "approved") & merchants.c.active.is_(True)


def _page(rows: Sequence[Any], limit: int) -> tuple[list[Any], str | None]:
    page = list(rows[:limit])
    return page, (str(page[-1].id) if len(rows) > limit and page else None)


def search(
    conn: Connection,
    *,
    q: str | None,
    district: str | None,
    category: str | None,
    benefit_plus: bool | None,
    limit: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Approved, active merchants by name substring, district, category and tier, by id."""
    limit = min(limit, MAX_PAGE)
    query: Select[Any] = select(merchants).where(_listed()).order_by(merchants.c.id)
    query = query.limit(limit + 1)
    if q:
        query = query.where(func.lower(merchants.c.name).contains(q.lower(), autoescape=True))
    if district:
        query = query.where(merchants.c.district == district)
    if category:
        query = query.where(merchants.c.category == category)
    if benefit_plus is not None:
        query = query.where(merchants.c.tier == ("benefit_plus" if benefit_plus else "general"))
    if after is not None:
        query = query.where(merchants.c.id > after)
    page, last = _page(conn.execute(query).all(), limit)
    return [_public(r) for r in page], last


def _visible(conn: Connection, p: Principal | None, merchant_id: str) -> tuple[Merchant, bool]:
    """The merchant and whether the caller sees its private side."""
    merchant = find_merchant(conn, merchant_id)
    privileged = owns(p, merchant.id) or administers(p, merchant.district)
    if not privileged and merchant.status != "approved":
        raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
    return merchant, privileged


def one(conn: Connection, p: Principal | None, merchant_id: str) -> dict[str, Any]:
    merchant, privileged = _visible(conn, p, merchant_id)
    return _private(merchant) if privileged else _public(merchant)


def _coupon(row: Any) -> dict[str, Any]:
    remaining = None if row.quantity is None else max(0, row.quantity - row.claimed)
    return {
        "id": row.id,
        "merchant": row.merchant_id,
        "name": row.name,
        "value": row.value,
        "min_spend": row.min_spend,
        "quantity": row.quantity,
        "remaining": remaining,
        "from": row.valid_from,
        "until": row.valid_until,
    }


def coupons_of(
    conn: Connection,
    p: Principal | None,
    merchant_id: str,
    at: datetime,
    limit: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Coupons a member can claim today: within their period and not sold out."""
    merchant, _ = _visible(conn, p, merchant_id)
    today = kst_day(at)
    limit = min(limit, MAX_PAGE)
    query = (
        select(coupons)
        .where(coupons.c.merchant_id == merchant.id)
        .where(coupons.c.valid_from.is_(None) | (coupons.c.valid_from <= today))
        .where(coupons.c.valid_until.is_(None) | (coupons.c.valid_until >= today))
        .where(coupons.c.quantity.is_(None) | (coupons.c.claimed < coupons.c.quantity))
        .order_by(coupons.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(coupons.c.id > after)
    page, last = _page(conn.execute(query).all(), limit)
    return [_coupon(r) for r in page], last


def merchant_groups_list(
    conn: Connection, *, district: str | None, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Merchant groups with their listed members; ``district``: groups with a shop there."""
    limit = min(limit, MAX_PAGE)
    query = select(merchant_groups).order_by(merchant_groups.c.id).limit(limit + 1)
    if district:
        query = query.where(
            merchant_groups.c.id.in_(
                select(merchant_group_members.c.group_id)
                .join(merchants, merchants.c.id == merchant_group_members.c.merchant_id)
                .where(merchants.c.district == district)
            )
        )
    if after is not None:
        query = query.where(merchant_groups.c.id > after)
    page, last = _page(conn.execute(query).all(), limit)
    members: dict[str, list[str]] = {g.id: [] for g in page}
    if page:
        for r in conn.execute(
            select(merchant_group_members.c.group_id, merchant_group_members.c.merchant_id)
            .join(merchants, merchants.c.id == merchant_group_members.c.merchant_id)
            .where(merchant_group_members.c.group_id.in_(list(members)), _listed())
            .order_by(merchant_group_members.c.merchant_id)
        ):
            members[r.group_id].append(r.merchant_id)
    return [{"id": g.id, "name": g.name, "merchants": members[g.id]} for g in page], last


# --- sales -----------------------------------------------------------------------------


def _period(conn: Connection, merchant_id: str, start: date, end: date) -> dict[str, int]:
    """Sales of the KST days [start, end): payments made in them and refunds given in
    them (the merchant's day counters), so that ``net_receivable`` is exactly how much
    the receivable moved in the period: charged - refunded - fee + fee support, fee and
    fee support net of what refunds gave back (SPEC 3.9)."""
    day = merchant_days.c
    sums = conn.execute(
        select(
            *(
                func.coalesce(func.sum(c), 0)
                for c in (
                    day.payments,
                    day.amount,
                    day.charged,
                    day.fee,
                    day.fee_support,
                    day.refunded,
                    day.fee_back,
                    day.fee_support_back,
                )
            )
        ).where(
            day.merchant_id == merchant_id,
            day.day >= start.isoformat(),
            day.day < end.isoformat(),
        )
    ).one()
    count, amount, charged, fee, support, refunded, fee_back, support_back = map(int, sums)
    net_fee, net_support = fee - fee_back, support - support_back
    return {
        "count": count,
        "amount": amount,
        "charged": charged,
        "refunded": refunded,
        "fee": net_fee,
        "fee_support": net_support,
        "net_receivable": charged - refunded - net_fee + net_support,
    }


def sales(conn: Connection, p: Principal, merchant_id: str, at: datetime) -> dict[str, Any]:
    """Today's and this month's sales (KST), what was settled and what is still owed."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, owns(p, merchant.id) or administers(p, merchant.district))
    today = kst_day(at)
    month_start = today.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    held = ledger.balances(conn, [merchant.receivable_account_id, merchant.payout_account_id])
    return {
        "merchant": merchant.id,
        "at": iso(at),
        "today": {
            "date": today.isoformat(),
            **_period(conn, merchant.id, today, today + timedelta(days=1)),
        },
        "month": {
            "month": today.strftime("%Y-%m"),
            **_period(conn, merchant.id, month_start, month_end),
        },
        "settled": held.get(merchant.payout_account_id, 0),
        "receivable": held.get(merchant.receivable_account_id, 0),
    }


# --- a member's coupons ------------------------------------------------------------------

MAX_CLAIMED = 100


def claimed_coupons(
    conn: Connection,
    member_id: str | None,
    at: datetime,
    *,
    merchant_id: str | None = None,
    unused_only: bool = False,
    limit: int = MAX_CLAIMED,
) -> list[dict[str, Any]]:
    """The coupons a member claimed, newest claim first, with their shop's name, whether
    they were used (and in which payment) and whether they can be used today."""
    today = kst_day(at)
    query = (
        select(
            coupons,
            coupon_claims.c.claimed_at,
            coupon_claims.c.used_payment_id,
            merchants.c.name.label("merchant_name"),
        )
        .join(coupon_claims, coupon_claims.c.coupon_id == coupons.c.id)
        .join(merchants, merchants.c.id == coupons.c.merchant_id)
        .where(coupon_claims.c.member_id == member_id)
        .order_by(coupon_claims.c.claimed_at.desc(), coupons.c.id)
        .limit(min(limit, MAX_CLAIMED))
    )
    if merchant_id is not None:
        query = query.where(coupons.c.merchant_id == merchant_id)
    if unused_only:
        query = query.where(coupon_claims.c.used_payment_id.is_(None))
    out = []
    for r in conn.execute(query):
        used = None if r.used_payment_id is None else str(r.used_payment_id)
        in_period = (r.valid_from is None or r.valid_from <= today) and (
            r.valid_until is None or today <= r.valid_until
        )
        out.append(
            {
                **_coupon(r),
                "merchant_name": r.merchant_name,
                "claimed_at": iso(r.claimed_at),
                "used_payment": used,
                "usable": used is None and in_period,
            }
        )
    return out


def names_of(conn: Connection, merchant_ids: Sequence[str]) -> dict[str, str]:
    """Merchants' names by id (for lists that show where money went)."""
    ids = sorted(set(merchant_ids))[:MAX_PAGE]
    if not ids:
        return {}
    rows = conn.execute(select(merchants.c.id, merchants.c.name).where(merchants.c.id.in_(ids)))
    return {r.id: r.name for r in rows}
