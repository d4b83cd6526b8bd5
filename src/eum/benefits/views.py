"""What people see of the phone-order directory and of the Benefit Plus services.

Anyone browses the directory (approved, active shops whose entry is on). A merchant sees
its own entry; a Benefit Plus merchant the open slots of the issuers over its district,
its bookings, certificates and QR kits (each read checks that it is in Benefit Plus now).
An admin sees the slots of its issuer's subtree with who booked them, the QR kits and
certificates of merchants in its districts; anything outside looks missing.

Lists of slots and QR kits come in pages in time order: a cursor is the last item's time
and id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select

from eum import errors
from eum.auth.model import ADMIN_ROLES, Principal
from eum.benefits.service import KIT_STATUSES, OPEN_KIT, benefit_plus_merchant, issuers_over
from eum.benefits.store import (
    benefit_certificates,
    consult_bookings,
    consult_slots,
    phone_listings,
    qr_kit_requests,
)
from eum.clock import as_kst, parse_time
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchant_rows
from eum.policy.store import issuers
from eum.wallets.views import iso

MAX_PAGE = 100
RECENT_BOOKINGS = 20  # a merchant's past consultations listed after the coming ones
RECENT_CERTIFICATES = 20
RECENT_KITS = 20


# --- pages of a list ----------------------------------------------------------------------


def cursor_of(at: datetime, item_id: str) -> str:
    return f"{as_kst(at).isoformat()}|{item_id}"


def _after(when: Any, key: Any, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor's (time, id) in the list's order (time, then id)."""
    text, _, item_id = cursor.partition("|")
    try:
        at = as_kst(parse_time(text))
    except (ValueError, OverflowError):
        raise errors.InvalidRequest("bad cursor", field="cursor") from None
    return (when > at) | ((when == at) & (key > item_id))  # type: ignore[no-any-return]


def _page(rows: Sequence[Any], limit: int, when: str) -> tuple[list[Any], str | None]:
    page = list(rows[:limit])
    last = cursor_of(getattr(page[-1], when), page[-1].id) if len(rows) > limit and page else None
    return page, last


# --- the phone-order directory ------------------------------------------------------------


def _menu_lines(menu: str) -> list[str]:
    return [line for line in menu.split("\n") if line]


def _listing(row: Any) -> dict[str, Any]:
    return {
        "merchant": row.merchant_id,
        "phone": row.phone,
        "hours": row.hours,
        "menu": _menu_lines(row.menu),
        "active": bool(row.active),
        "updated_at": iso(row.updated_at),
    }


def phone_listing(conn: Connection, merchant_id: str | None) -> dict[str, Any]:
    """The merchant's own entry (switched off after opting out); missing if it never
    opted in."""
    merchant = merchants.find_merchant(conn, merchant_id)
    row = conn.execute(
        select(phone_listings).where(phone_listings.c.merchant_id == merchant.id)
    ).first()
    if row is None:
        raise errors.NotFound("the shop is not in the phone-order directory", field="merchant")
    return _listing(row)


def phone_directory(
    conn: Connection,
    *,
    district: str | None,
    category: str | None,
    q: str | None,
    limit: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Shops taking phone orders, by district, category and name, in id order (the cursor
    is the last shop's id)."""
    limit = min(limit, MAX_PAGE)
    m = merchant_rows.c
    query: Select[Any] = (
        select(merchant_rows, phone_listings.c.phone, phone_listings.c.hours, phone_listings.c.menu)
        .join(phone_listings, phone_listings.c.merchant_id == m.id)
        .where(phone_listings.c.active.is_(True), m.status == "approved", m.active.is_(True))
        .order_by(m.id)
        .limit(limit + 1)
    )
    if district:
        query = query.where(m.district == district)
    if category:
        query = query.where(m.category == category)
    if q:
        query = query.where(func.lower(m.name).contains(q.lower(), autoescape=True))
    if after:
        query = query.where(m.id > after)
    rows = conn.execute(query).all()
    page = rows[:limit]
    items = [
        {
            "id": r.id,
            "name": r.name,
            "district": r.district,
            "category": r.category,
            "tier": r.tier,
            "discount_bps": r.discount_bps,
            "phone": r.phone,
            "hours": r.hours,
            "menu": _menu_lines(r.menu),
        }
        for r in page
    ]
    return items, (page[-1].id if len(rows) > limit and page else None)


# --- consultations ------------------------------------------------------------------------


def _slot(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "issuer": row.issuer_id,
        "kind": row.kind,
        "starts_at": iso(row.starts_at),
        "minutes": row.minutes,
        "place": row.place,
    }


def _slots_and_bookings() -> Select[Any]:
    b = consult_bookings.c
    return select(
        consult_slots,
        b.merchant_id,
        b.note,
        b.booked_at,
        merchant_rows.c.name.label("merchant_name"),
        merchant_rows.c.district.label("merchant_district"),
        merchant_rows.c.tier.label("merchant_tier"),
    ).select_from(
        consult_slots.outerjoin(consult_bookings, b.slot_id == consult_slots.c.id).outerjoin(
            merchant_rows, merchant_rows.c.id == b.merchant_id
        )
    )


def open_slots(
    conn: Connection, merchant_id: str | None, at: datetime, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Slots a Benefit Plus merchant may book: not begun, not booked, published by an
    issuer over its district; soonest first."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    limit = min(limit, MAX_PAGE)
    booked = select(consult_bookings.c.slot_id)
    query = (
        select(consult_slots)
        .where(consult_slots.c.issuer_id.in_(sorted(issuers_over(conn, merchant.district))))
        .where(consult_slots.c.starts_at > as_kst(at))
        .where(consult_slots.c.id.not_in(booked))
        .order_by(consult_slots.c.starts_at, consult_slots.c.id)
        .limit(limit + 1)
    )
    if after:
        query = query.where(_after(consult_slots.c.starts_at, consult_slots.c.id, after))
    page, last = _page(conn.execute(query).all(), limit, "starts_at")
    return [_slot(r) for r in page], last


def my_bookings(conn: Connection, merchant_id: str | None, at: datetime) -> list[dict[str, Any]]:
    """A Benefit Plus merchant's consultations: those to come (soonest first), then the
    latest ``RECENT_BOOKINGS`` past ones."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    mine = _slots_and_bookings().where(consult_bookings.c.merchant_id == merchant.id)
    start = consult_slots.c.starts_at
    coming = conn.execute(mine.where(start > as_kst(at)).order_by(start, consult_slots.c.id)).all()
    past = conn.execute(
        mine.where(start <= as_kst(at)).order_by(start.desc()).limit(RECENT_BOOKINGS)
    ).all()
    return [
        {**_slot(r), "note": r.note, "booked_at": iso(r.booked_at), "upcoming": upcoming}
        for rows, upcoming in ((coming, True), (past, False))
        for r in rows
    ]


def area_slots(
    conn: Connection, by: Principal, since: datetime, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The slots of the admin's issuers from ``since`` on, soonest first, with who booked
    each (name, district and whether it is still in Benefit Plus)."""
    if by.role not in ADMIN_ROLES:
        raise errors.Forbidden("only issuer admins and operators see every slot")
    limit = min(limit, MAX_PAGE)
    start = consult_slots.c.starts_at
    query = (
        _slots_and_bookings()
        .where(start >= as_kst(since))
        .order_by(start, consult_slots.c.id)
        .limit(limit + 1)
    )
    if by.issuers is not None:
        query = query.where(consult_slots.c.issuer_id.in_(sorted(by.issuers)))
    if after:
        query = query.where(_after(start, consult_slots.c.id, after))
    page, last = _page(conn.execute(query).all(), limit, "starts_at")
    return [_booked_slot(r) for r in page], last


def _booked_slot(row: Any) -> dict[str, Any]:
    booking = None
    if row.merchant_id is not None:
        booking = {
            "merchant": row.merchant_id,
            "name": row.merchant_name,
            "district": row.merchant_district,
            "benefit_plus": row.merchant_tier == "benefit_plus",
            "note": row.note,
            "booked_at": iso(row.booked_at),
        }
    return {**_slot(row), "booking": booking}


# --- certificates -------------------------------------------------------------------------


def _issuer_name(conn: Connection, district: str) -> dict[str, Any]:
    """The issuer that speaks for a district on a certificate (its own, else the metro)."""
    issuer_id = merchants._area_issuer(conn, district)
    name = None
    if issuer_id is not None:
        name = conn.execute(select(issuers.c.name).where(issuers.c.id == issuer_id)).scalar()
    return {"id": issuer_id, "name": name or issuer_id}


def _certificate(conn: Connection, row: Any, merchant: merchants.Merchant) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant": merchant.id,
        "name": merchant.name,
        "district": merchant.district,
        "issuer": _issuer_name(conn, merchant.district),
        "issued_at": iso(row.issued_at),
    }


def my_certificates(conn: Connection, merchant_id: str | None) -> list[dict[str, Any]]:
    """A Benefit Plus merchant's latest certificates, newest first."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    rows = conn.execute(
        select(benefit_certificates)
        .where(benefit_certificates.c.merchant_id == merchant.id)
        .order_by(benefit_certificates.c.issued_at.desc(), benefit_certificates.c.id.desc())
        .limit(RECENT_CERTIFICATES)
    ).all()
    return [{"id": r.id, "issued_at": iso(r.issued_at)} for r in rows]


def my_certificate(
    conn: Connection, merchant_id: str | None, certificate_id: str
) -> dict[str, Any]:
    """One of the merchant's own certificates, while it is in Benefit Plus."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    row = conn.execute(
        select(benefit_certificates).where(benefit_certificates.c.id == certificate_id)
    ).first()
    if row is None or row.merchant_id != merchant.id:
        raise errors.NotFound(f"no certificate {certificate_id}", field="certificate")
    return _certificate(conn, row, merchant)


def verify_certificate(conn: Connection, by: Principal, certificate_id: str) -> dict[str, Any]:
    """An admin looks a certificate number up: whose it is, when it was issued, and
    whether that merchant is still in Benefit Plus; outside its area it looks missing."""
    if by.role not in ADMIN_ROLES:
        raise errors.Forbidden("only issuer admins and operators verify certificates")
    row = conn.execute(
        select(benefit_certificates).where(benefit_certificates.c.id == certificate_id)
    ).first()
    merchant = None if row is None else merchants.find_merchant(conn, row.merchant_id)
    if row is None or merchant is None or not merchants.administers(by, merchant.district):
        raise errors.NotFound(f"no certificate {certificate_id}", field="certificate")
    return {
        **_certificate(conn, row, merchant),
        "benefit_plus_now": merchant.tier == "benefit_plus",
    }


# --- QR kits ------------------------------------------------------------------------------


def _kit(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant": row.merchant_id,
        "address": row.address,
        "status": row.status,
        "requested_at": iso(row.requested_at),
        "updated_at": iso(row.updated_at),
    }


def my_qr_kits(conn: Connection, merchant_id: str | None) -> list[dict[str, Any]]:
    """A Benefit Plus merchant's latest QR kit requests, newest first."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    rows = conn.execute(
        select(qr_kit_requests)
        .where(qr_kit_requests.c.merchant_id == merchant.id)
        .order_by(qr_kit_requests.c.requested_at.desc(), qr_kit_requests.c.id.desc())
        .limit(RECENT_KITS)
    ).all()
    return [_kit(r) for r in rows]


def area_qr_kits(
    conn: Connection, by: Principal, status: str | None, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """QR kit requests of merchants in the admin's districts, oldest first (the next to
    ship on top); ``status`` one of the statuses, or ``open`` (requested or shipped)."""
    if by.role not in ADMIN_ROLES:
        raise errors.Forbidden("only issuer admins and operators see QR kit requests")
    if status is not None and status != "open" and status not in KIT_STATUSES:
        raise errors.InvalidRequest("unknown status", field="status")
    limit = min(limit, MAX_PAGE)
    k = qr_kit_requests.c
    query = (
        select(
            qr_kit_requests,
            merchant_rows.c.name.label("merchant_name"),
            merchant_rows.c.district.label("merchant_district"),
            merchant_rows.c.tier.label("merchant_tier"),
        )
        .join(merchant_rows, merchant_rows.c.id == k.merchant_id)
        .order_by(k.requested_at, k.id)
        .limit(limit + 1)
    )
    if by.districts is not None:
        query = query.where(merchant_rows.c.district.in_(sorted(by.districts)))
    if status is not None:
        query = query.where(k.status.in_(OPEN_KIT if status == "open" else (status,)))
    if after:
        query = query.where(_after(k.requested_at, k.id, after))
    page, last = _page(conn.execute(query).all(), limit, "requested_at")
    items = [
        {
            **_kit(r),
            "name": r.merchant_name,
            "district": r.merchant_district,
            "benefit_plus": r.merchant_tier == "benefit_plus",
        }
        for r in page
    ]
    return items, last
