"""Use cases of merchants: registration and its approval, Benefit Plus, QR codes,
merchant groups, coupons and claims.

Who may act is decided here, from the caller's ``Principal``, so that every entry point
gets the same answer: a merchant acts on itself, an issuer admin on merchants in the
districts its issuer covers, an operator everywhere. Every check runs before the first
write; admin actions are audited in the same transaction as the change.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from eum import errors
from eum.audit import service as audit
from eum.auth.model import ADMIN_ROLES, Principal
from eum.clock import kst_day, parse_date
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
from eum.payments import qr
from eum.policy.service import _check_id, _is_krw

MAX_NAME_LENGTH = 200
MAX_CARD_FEE_BPS = 1000
MAX_NEIGHBOURHOOD_LENGTH = 64  # merchants.neighbourhood, the 동
STATUSES = ("pending", "approved", "rejected")


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
    status: str = "approved"  # registration: pending -> approved | rejected


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
    status: str = "approved",
    neighbourhood: str | None = None,
) -> Merchant:
    """Register a merchant; a Benefit Plus merchant gives a 1-7% pre-discount (SPEC 3.6).
    ``neighbourhood`` is the 동 it is in, where known (the promoters' sticker coverage)."""
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
    if status not in STATUSES:
        raise errors.InvalidRequest("status must be pending, approved or rejected", field="status")
    if not _is_krw(annual_sales_krw):
        raise errors.InvalidRequest("annual_sales must be won", field="annual_sales")
    if not isinstance(card_fee_bps, int) or not 0 <= card_fee_bps <= MAX_CARD_FEE_BPS:
        raise errors.InvalidRequest("card_fee_bps must be 0..1000", field="card_fee_bps")
    if neighbourhood is not None and (
        not isinstance(neighbourhood, str)
        or not neighbourhood.strip()
        or len(neighbourhood) > MAX_NEIGHBOURHOOD_LENGTH
    ):
        raise errors.InvalidRequest(
            f"neighbourhood must be 1..{MAX_NEIGHBOURHOOD_LENGTH} characters", field="neighbourhood"
        )
    receivable = ledger.open_account(
        conn, f"merchant:{id}:receivable", "receivable", allow_negative=True
    )
    payout = ledger.open_account(conn, f"merchant:{id}:payout", "payout")
    values = dict(
        id=id,
        name=_name(name),
        district=_check_id(district, "district"),
        category=category,
        neighbourhood=None if neighbourhood is None else neighbourhood.strip(),
        tier=tier,
        discount_bps=discount_bps,
        annual_sales=annual_sales_krw,
        card_fee_bps=card_fee_bps,
        active=bool(active),
        status=status,
        receivable_account_id=receivable,
        payout_account_id=payout,
        created_at=at,
    )
    conn.execute(insert(merchants).values(**values))
    return merchant_from_row(values)


def merchant_from_row(row: object) -> Merchant:
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
        status=get("status"),
    )


def find_merchant(conn: Connection, merchant_id: object) -> Merchant:
    if not isinstance(merchant_id, str):
        raise errors.UnknownMerchant(field="merchant")
    row = conn.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    if row is None:
        raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
    return merchant_from_row(row)


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
    conn: Connection, *, member_id: object, coupon_id: object, at: datetime
) -> dict[str, object]:
    """A member claims one unit of a coupon (SPEC 3.12)."""
    from eum.wallets.service import find_member  # wallets depend on nothing here

    member = find_member(conn, member_id)
    coupon = find_coupon(conn, coupon_id)
    if not coupon.valid_on(kst_day(at)):
        raise errors.CouponExpired(field="coupon")
    held = conn.execute(
        select(coupon_claims.c.member_id).where(
            coupon_claims.c.coupon_id == coupon.id, coupon_claims.c.member_id == member.id
        )
    ).first()
    if held is not None:
        raise errors.CouponAlreadyClaimed(field="coupon")
    # Claim the unit with a guarded increment so that two claims never take the last one.
    taken = conn.execute(
        update(coupons)
        .where(coupons.c.id == coupon.id)
        .where((coupons.c.quantity.is_(None)) | (coupons.c.claimed < coupons.c.quantity))
        .values(claimed=coupons.c.claimed + 1)
    ).rowcount
    if taken != 1:
        raise errors.CouponSoldOut(field="coupon")
    conn.execute(
        insert(coupon_claims).values(coupon_id=coupon.id, member_id=member.id, claimed_at=at)
    )
    return {"coupon": coupon.id, "member": member.id}


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


# --- who may act ----------------------------------------------------------------------

MAX_NOTE_LENGTH = 500
MAX_GROUP_MERCHANTS = 500
MAX_QR_TTL_SECONDS = 86_400
COUPON_ID_BYTES = 8


def owns(p: Principal | None, merchant_id: str) -> bool:
    """The caller is the merchant itself."""
    return p is not None and p.role == "merchant" and p.merchant_id == merchant_id


def administers(p: Principal | None, district: str) -> bool:
    """An operator, or an issuer admin whose issuer covers the district."""
    if p is None:
        return False
    if p.role == "operator":
        return True
    return p.role == "issuer_admin" and p.districts is not None and district in p.districts


def require(merchant: Merchant, allowed: bool) -> None:
    """Refuse a caller who may not act: an approved merchant is public, so the refusal is
    ``forbidden``; one still pending (or rejected) looks the same as a missing one."""
    if allowed:
        return
    if merchant.status == "approved":
        raise errors.Forbidden("only the merchant or an admin of its area may do this")
    raise errors.UnknownMerchant(f"no merchant {merchant.id}", field="merchant")


def _area_issuer(conn: Connection, district: str) -> str | None:
    """The most specific issuer covering a district (a district issuer before its metro)."""
    from eum.policy.service import issuer_tree

    tree = issuer_tree(conn)
    covering = [i for i, ds in tree.districts.items() if district in ds]
    return max(covering, key=lambda i: (len(_ancestors(tree.parent, i)), i), default=None)


def _ancestors(parent: Mapping[str, str | None], issuer_id: str) -> list[str]:
    out: list[str] = []
    up = parent.get(issuer_id)
    while up is not None and up not in out:
        out.append(up)
        up = parent.get(up)
    return out


def _audit(
    conn: Connection,
    by: Principal,
    at: datetime,
    action: str,
    target: str,
    district: str | None,
    detail: dict[str, Any],
) -> None:
    """Record an admin's action under its own issuer; an operator's goes under the issuer
    of the district concerned, so that the district's admins see it too."""
    issuer_id = by.issuer_id
    if issuer_id is None and district is not None:
        issuer_id = _area_issuer(conn, district)
    audit.record_by(
        conn, by, at=at, action=action, target=target, issuer_id=issuer_id, detail=detail
    )


# --- registration ----------------------------------------------------------------------


def register_merchant(
    conn: Connection,
    *,
    id: str,
    at: datetime,
    name: str,
    district: str,
    category: str | None = None,
    annual_sales: int = 0,
    card_fee_bps: int = 0,
) -> Merchant:
    """A shop owner's registration: the merchant waits, inactive, for its area's admin."""
    return create_merchant(
        conn,
        id=id,
        name=name,
        district=district,
        at=at,
        category=category,
        annual_sales_krw=annual_sales,
        card_fee_bps=card_fee_bps,
        active=False,
        status="pending",
    )


def decide_registration(
    conn: Connection,
    *,
    by: Principal,
    merchant_id: str,
    approve: bool,
    at: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    """An admin of the merchant's area approves (it can take payments) or rejects it."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, administers(by, merchant.district))
    if not isinstance(approve, bool):
        raise errors.InvalidRequest("approve must be true or false", field="approve")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH):
        raise errors.InvalidRequest(
            f"note must be at most {MAX_NOTE_LENGTH} characters", field="note"
        )
    if merchant.status != "pending":
        raise errors.InvalidState(f"the registration is already {merchant.status}", field="approve")
    status = "approved" if approve else "rejected"
    # Guarded on the old status: of two admins deciding at once, the second finds no row.
    done = conn.execute(
        update(merchants)
        .where(merchants.c.id == merchant.id, merchants.c.status == "pending")
        .values(status=status, active=approve)
    ).rowcount
    if done != 1:
        raise errors.InvalidState("the registration was decided meanwhile", field="approve")
    _audit(
        conn,
        by,
        at,
        "merchant.approve" if approve else "merchant.reject",
        merchant.id,
        merchant.district,
        {"note": note, "district": merchant.district},
    )
    return {"merchant": merchant.id, "status": status, "active": approve}


# --- Benefit Plus ----------------------------------------------------------------------


def join_benefit_plus(
    conn: Connection, *, by: Principal, merchant_id: str, discount_bps: int, at: datetime
) -> dict[str, Any]:
    """The merchant (or an admin of its area) joins Benefit Plus with a 1-7% pre-discount."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, owns(by, merchant.id) or administers(by, merchant.district))
    if (
        not isinstance(discount_bps, int)
        or isinstance(discount_bps, bool)
        or not MIN_DISCOUNT_BPS <= discount_bps <= MAX_DISCOUNT_BPS
    ):
        raise errors.InvalidRequest(
            "Benefit Plus needs discount_bps 100..700", field="discount_bps"
        )
    return _set_tier(conn, by, merchant, "benefit_plus", discount_bps, at)


def leave_benefit_plus(
    conn: Connection, *, by: Principal, merchant_id: str, at: datetime
) -> dict[str, Any]:
    """Back to the general tier: no pre-discount from now on."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, owns(by, merchant.id) or administers(by, merchant.district))
    return _set_tier(conn, by, merchant, "general", 0, at)


def _set_tier(
    conn: Connection, by: Principal, merchant: Merchant, tier: Tier, discount_bps: int, at: datetime
) -> dict[str, Any]:
    # Payments read the tier from the merchant row, so no cached catalog goes stale.
    conn.execute(
        update(merchants)
        .where(merchants.c.id == merchant.id)
        .values(tier=tier, discount_bps=discount_bps)
    )
    if not owns(by, merchant.id):
        _audit(
            conn,
            by,
            at,
            f"merchant.benefit_plus.{'join' if tier != 'general' else 'leave'}",
            merchant.id,
            merchant.district,
            {"tier": tier, "discount_bps": discount_bps, "was": merchant.discount_bps},
        )
    return {"merchant": merchant.id, "tier": tier, "discount_bps": discount_bps}


# --- QR codes --------------------------------------------------------------------------


def qr_code(
    conn: Connection,
    *,
    by: Principal,
    merchant_id: str,
    amount_krw: int | None,
    ttl_seconds: int,
    at: datetime,
    key: bytes,
) -> dict[str, Any]:
    """A signed QR payload the merchant shows; a member's app pays it (channel ``qr``)."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, owns(by, merchant.id))
    if amount_krw is not None and not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    if (
        not isinstance(ttl_seconds, int)
        or isinstance(ttl_seconds, bool)
        or not 1 <= ttl_seconds <= MAX_QR_TTL_SECONDS
    ):
        raise errors.InvalidRequest(
            f"ttl_seconds must be 1..{MAX_QR_TTL_SECONDS}", field="ttl_seconds"
        )
    if not merchant.active:
        raise errors.MerchantInactive(field="merchant")
    # The payload keeps whole seconds; say the same expiry the payload will enforce.
    expires_at = (at + timedelta(seconds=ttl_seconds)).replace(microsecond=0)
    payload = qr.issue(key, merchant.id, amount_krw, expires_at)
    return {
        "payload": payload,
        "expires_at": expires_at,
        "merchant": merchant.id,
        "amount": amount_krw,
        "pay_url": f"/pay?qr={payload}",
    }


# --- coupons and merchant groups by their owners ---------------------------------------


def _day(value: object, field: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise errors.InvalidRequest(f"{field} must be a date (YYYY-MM-DD)", field=field) from None


def issue_coupon(
    conn: Connection,
    *,
    by: Principal,
    merchant_id: str,
    value_krw: int,
    at: datetime,
    min_spend_krw: int = 0,
    quantity: int | None = None,
    valid_from: object = None,
    valid_until: object = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The merchant issues a coupon (free for Benefit Plus shops); its id is generated."""
    merchant = find_merchant(conn, merchant_id)
    require(merchant, owns(by, merchant.id))
    start, end = _day(valid_from, "from"), _day(valid_until, "until")
    if start is not None and end is not None and start > end:
        raise errors.InvalidRequest("from must not be after until", field="until")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1
    ):
        raise errors.InvalidRequest("quantity must be at least 1", field="quantity")
    clean_name = None if name is None else _name(name)
    coupon_id = "k-" + secrets.token_hex(COUPON_ID_BYTES)
    create_coupon(
        conn,
        id=coupon_id,
        merchant_id=merchant.id,
        value_krw=value_krw,
        at=at,
        min_spend_krw=min_spend_krw,
        quantity=quantity,
        valid_from=start,
        valid_until=end,
        name=clean_name,
    )
    return {
        "id": coupon_id,
        "merchant": merchant.id,
        "name": clean_name,
        "value": value_krw,
        "min_spend": min_spend_krw,
        "quantity": quantity,
        "remaining": quantity,
        "from": start,
        "until": end,
    }


def form_merchant_group(
    conn: Connection,
    *,
    by: Principal,
    id: str,
    name: str,
    merchant_ids: Sequence[str],
    at: datetime,
) -> dict[str, Any]:
    """An admin groups merchants of its own area (e.g. a market street), audited."""
    if by.role not in ADMIN_ROLES:
        raise errors.Forbidden("only issuer admins and operators form merchant groups")
    members = sorted(set(merchant_ids))
    if not 1 <= len(members) <= MAX_GROUP_MERCHANTS:
        raise errors.InvalidRequest(
            f"a group has 1..{MAX_GROUP_MERCHANTS} merchants", field="merchants"
        )
    districts: set[str] = set()
    for merchant_id in members:
        merchant = find_merchant(conn, merchant_id)
        require(merchant, administers(by, merchant.district))
        districts.add(merchant.district)
    clean_name = _name(name)
    create_merchant_group(conn, id=id, name=clean_name, merchant_ids=members, at=at)
    area = next(iter(districts)) if len(districts) == 1 else None
    _audit(
        conn, by, at, "merchant_group.create", id, area, {"name": clean_name, "merchants": members}
    )
    return {"id": id, "name": clean_name, "merchants": members}
