"""Use cases of merchants: registration, merchant groups, coupons and claims."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from eum import errors
from eum.clock import kst_day
from eum.ledger import service as ledger
from eum.merchants.store import (
    coupon_claims,
    coupons,
    merchant_group_members,
    merchant_groups,
    merchants,
)
from eum.money.model import MAX_DISCOUNT_BPS, MIN_DISCOUNT_BPS, TIERS, Tier
from eum.money.rules import is_valid_amount
from eum.policy.service import _check_id, _is_krw

MAX_NAME_LENGTH = 200
MAX_CARD_FEE_BPS = 1000


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    district: str
    category: str | None
    tier: Tier
    discount_bps: int
    annual_sales_krw: int
    card_fee_bps: int
    active: bool
    receivable_account_id: int
    payout_account_id: int


def _name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise errors.InvalidRequest(f"{field} must be 1..{MAX_NAME_LENGTH} characters", field=field)
    return value.strip()


def create_merchant(
    conn: Connection,
    *,
    id: str,
    name: str,
    district: str,
    at: datetime,
    category: str | None = None,
    tier: str = "general",
    discount_bps: int | None = None,
    annual_sales_krw: int = 0,
    card_fee_bps: int = 0,
    active: bool = True,
) -> Merchant:
    """Register a merchant; a Benefit Plus merchant gives a 1-7% pre-discount (SPEC 3.6)."""
    _check_id(id, "id")
    if conn.execute(select(merchants.c.id).where(merchants.c.id == id)).first():
        raise errors.AlreadyExists(f"merchant {id} exists", field="id")
    if tier not in TIERS:
        raise errors.InvalidRequest("tier must be general or benefit_plus", field="tier")
    if tier == "benefit_plus":
        if (
            not isinstance(discount_bps, int)
            or isinstance(discount_bps, bool)
            or not MIN_DISCOUNT_BPS <= discount_bps <= MAX_DISCOUNT_BPS
        ):
            raise errors.InvalidRequest(
                "Benefit Plus needs discount_bps 100..700", field="discount_bps"
            )
    else:
        discount_bps = 0
    if not _is_krw(annual_sales_krw):
        raise errors.InvalidRequest("annual_sales must be won", field="annual_sales")
    if not isinstance(card_fee_bps, int) or not 0 <= card_fee_bps <= MAX_CARD_FEE_BPS:
        raise errors.InvalidRequest("card_fee_bps must be 0..1000", field="card_fee_bps")
    receivable = ledger.open_account(
        conn, f"merchant:{id}:receivable", "receivable", allow_negative=True
    )
    payout = ledger.open_account(conn, f"merchant:{id}:payout", "payout")
    values = dict(
        id=id,
        name=_name(name),
        district=_check_id(district, "district"),
        category=category,
        tier=tier,
        discount_bps=discount_bps,
        annual_sales=annual_sales_krw,
        card_fee_bps=card_fee_bps,
        active=bool(active),
        receivable_account_id=receivable,
        payout_account_id=payout,
        created_at=at,
    )
    conn.execute(insert(merchants).values(**values))
    return _merchant(values)


def _merchant(row: object) -> Merchant:
    get = row.__getitem__ if isinstance(row, dict) else row._mapping.__getitem__  # type: ignore[attr-defined]
    return Merchant(
        id=get("id"),
        name=get("name"),
        district=get("district"),
        category=get("category"),
        tier=get("tier"),
        discount_bps=get("discount_bps"),
        annual_sales_krw=get("annual_sales"),
        card_fee_bps=get("card_fee_bps"),
        active=get("active"),
        receivable_account_id=get("receivable_account_id"),
        payout_account_id=get("payout_account_id"),
    )


def find_merchant(conn: Connection, merchant_id: object) -> Merchant:
    if not isinstance(merchant_id, str):
        raise errors.UnknownMerchant(field="merchant")
    row = conn.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    if row is None:
        raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
    return _merchant(row)


def groups_of(conn: Connection, merchant_id: str) -> frozenset[str]:
    rows = conn.execute(
        select(merchant_group_members.c.group_id).where(
            merchant_group_members.c.merchant_id == merchant_id
        )
    )
    return frozenset(r.group_id for r in rows)


def create_merchant_group(
    conn: Connection, *, id: str, name: str, merchant_ids: Iterable[str], at: datetime
) -> None:
    """A merchant group (e.g. a market street) that can fund its own promotions (SPEC 3.15)."""
    _check_id(id, "id")
    if conn.execute(select(merchant_groups.c.id).where(merchant_groups.c.id == id)).first():
        raise errors.AlreadyExists(f"merchant group {id} exists", field="id")
    funding = ledger.open_account(
        conn, f"merchant_group:{id}:funding", "funding", allow_negative=True
    )
    conn.execute(
        insert(merchant_groups).values(
            id=id, name=_name(name), funding_account_id=funding, created_at=at
        )
    )
    for merchant_id in sorted(set(merchant_ids)):
        find_merchant(conn, merchant_id)
        conn.execute(insert(merchant_group_members).values(group_id=id, merchant_id=merchant_id))
    from eum.policy.service import touch_policy

    touch_policy(conn)  # rules with a merchant_group condition see the new members


@dataclass(frozen=True)
class Coupon:
    id: str
    merchant_id: str
    value_krw: int
    min_spend_krw: int
    quantity: int | None
    claimed: int
    valid_from: date | None
    valid_until: date | None

    def valid_on(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)


def create_coupon(
    conn: Connection,
    *,
    id: str,
    merchant_id: str,
    value_krw: int,
    at: datetime,
    min_spend_krw: int = 0,
    quantity: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    name: str | None = None,
) -> None:
    """A merchant's coupon: ``value`` off, from ``min_spend``, ``quantity`` units (SPEC 3.12)."""
    _check_id(id, "id")
    if conn.execute(select(coupons.c.id).where(coupons.c.id == id)).first():
        raise errors.AlreadyExists(f"coupon {id} exists", field="id")
    find_merchant(conn, merchant_id)
    if not is_valid_amount(value_krw):
        raise errors.InvalidAmount(field="value")
    if not _is_krw(min_spend_krw):
        raise errors.InvalidRequest("min_spend must be won", field="min_spend")
    if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
        raise errors.InvalidRequest("quantity must be a count", field="quantity")
    conn.execute(
        insert(coupons).values(
            id=id,
            merchant_id=merchant_id,
            name=name,
            value=value_krw,
            min_spend=min_spend_krw,
            quantity=quantity,
            claimed=0,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=at,
        )
    )


def find_coupon(conn: Connection, coupon_id: object) -> Coupon:
    if not isinstance(coupon_id, str):
        raise errors.UnknownCoupon(field="coupon")
    row = conn.execute(select(coupons).where(coupons.c.id == coupon_id)).first()
    if row is None:
        raise errors.UnknownCoupon(f"no coupon {coupon_id}", field="coupon")
    return Coupon(
        row.id,
        row.merchant_id,
        row.value,
        row.min_spend,
        row.quantity,
        row.claimed,
        row.valid_from,
        row.valid_until,
    )


def claim_coupon(
    conn: Connection, *, member_id: str, coupon_id: str, at: datetime
) -> dict[str, object]:
    """A member claims one unit of a coupon (SPEC 3.12)."""
    from eum.wallets.service import find_member  # wallets depend on nothing here

    find_member(conn, member_id)
    coupon = find_coupon(conn, coupon_id)
    if not coupon.valid_on(kst_day(at)):
        raise errors.CouponExpired(field="coupon")
    held = conn.execute(
        select(coupon_claims.c.member_id).where(
            coupon_claims.c.coupon_id == coupon_id, coupon_claims.c.member_id == member_id
        )
    ).first()
    if held is not None:
        raise errors.CouponAlreadyClaimed(field="coupon")
    # Claim the unit with a guarded increment so that two claims never take the last one.
    taken = conn.execute(
        update(coupons)
        .where(coupons.c.id == coupon_id)
        .where((coupons.c.quantity.is_(None)) | (coupons.c.claimed < coupons.c.quantity))
        .values(claimed=coupons.c.claimed + 1)
    ).rowcount
    if taken != 1:
        raise errors.CouponSoldOut(field="coupon")
    conn.execute(
        insert(coupon_claims).values(coupon_id=coupon_id, member_id=member_id, claimed_at=at)
    )
    return {"coupon": coupon_id, "member": member_id}


def coupon_held(conn: Connection, coupon_id: str, member_id: str) -> bool:
    """Claimed by the member and not used yet."""
    row = conn.execute(
        select(coupon_claims.c.used_payment_id).where(
            coupon_claims.c.coupon_id == coupon_id, coupon_claims.c.member_id == member_id
        )
    ).first()
    return row is not None and row.used_payment_id is None


def use_coupon(conn: Connection, coupon_id: str, member_id: str, payment_id: int) -> None:
    done = conn.execute(
        update(coupon_claims)
        .where(
            coupon_claims.c.coupon_id == coupon_id,
            coupon_claims.c.member_id == member_id,
            coupon_claims.c.used_payment_id.is_(None),
        )
        .values(used_payment_id=payment_id)
    ).rowcount
    assert done == 1, "coupon_held was checked in the same transaction"
