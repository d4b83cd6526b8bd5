"""Use cases of the phone-order directory and of the Benefit Plus merchants' services.

- Phone-order directory: any merchant opts in with a phone number, its hours and a short
  menu, changes them, or opts out (the entry is kept, switched off, so that opting in
  again starts from it).
- Benefit Plus services (SPEC 1: what a merchant gets for its pre-discount): free tax,
  legal and labour consultations in slots an issuer publishes, a certificate of the 20%
  credit-guarantee fee reduction, and a free QR kit with its delivery status.

Invariants:
- Benefit Plus is read from the merchant's row in the transaction of every request, so a
  merchant that leaves it loses every service from that moment (``not_benefit_plus``).
- A slot is the key of its booking: of two merchants racing for one slot, one books it and
  the other gets ``slot_taken`` (the slot's row is locked first, and the insert ignores a
  conflict instead of failing on it, on SQLite and PostgreSQL alike).
- A merchant has at most one open QR kit request (requested or shipped): its own row is
  locked while it asks, so two requests at once cannot both pass the check.
- Admins act within their area: slots of their issuer's subtree, QR kits and certificates
  of merchants in their districts. Reads outside look missing (404), writes outside are
  refused (403). Every check runs before the first write; admin actions are audited in
  the same transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from eum import errors
from eum.audit import service as audit
from eum.auth.model import ADMIN_ROLES, Principal
from eum.benefits.store import (
    benefit_certificates,
    consult_bookings,
    consult_slots,
    phone_listings,
    qr_kit_requests,
)
from eum.clock import as_kst, kst_day, parse_time
from eum.merchants import service as merchants
from eum.merchants.service import Merchant
from eum.merchants.store import merchants as merchant_rows
from eum.policy.service import issuer_tree

# --- limits -------------------------------------------------------------------------------

MAX_PHONE_TYPED = 20  # characters of a phone number as typed, separators included
MAX_HOURS_LENGTH = 100
MAX_MENU_LINES = 10
MAX_MENU_LINE_LENGTH = 60
MAX_MENU_LENGTH = MAX_MENU_LINES * (MAX_MENU_LINE_LENGTH + 1)  # lines and their breaks
KINDS = ("tax", "legal", "labour")
MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 10, 240
MAX_SLOT_DAYS_AHEAD = 366  # a slot further out is a typo (2062 for 2026)
MAX_PLACE_LENGTH = 200
MAX_NOTE_LENGTH = 500
MAX_UPCOMING_BOOKINGS = 3  # a merchant's consultations not begun yet: slots are scarce
MAX_ADDRESS_LENGTH = 300
ID_BYTES = 6
CERTIFICATE_BYTES = 4

# A QR kit moves requested -> shipped -> delivered, or is cancelled before delivery.
KIT_MOVES: dict[str, tuple[str, ...]] = {
    "requested": ("shipped", "cancelled"),
    "shipped": ("delivered", "cancelled"),
}
KIT_STATUSES = ("requested", "shipped", "delivered", "cancelled")
OPEN_KIT = ("requested", "shipped")

# Korean telephone numbers: Seoul 02, the other area codes, mobile, internet phones (070),
# and the nationwide numbers of shops and chains (15xx, 16xx, 18xx).
AREA_CODES = frozenset(
    {"031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055"}
    | {"061", "062", "063", "064"}
)
MOBILE_CODES = frozenset({"010", "011", "016", "017", "018", "019"})
PHONE_TYPED = re.compile(r"^[0-9][0-9 .-]*[0-9]$")


# --- small checks -------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(ID_BYTES)}"


def _line(value: object, field: str, limit: int) -> str:
    """One line of text a person typed, trimmed: 1..``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidRequest(f"{field} is required", field=field)
    text = value.strip()
    if len(text) > limit or "\n" in text or "\r" in text:
        raise errors.InvalidRequest(f"{field}: one line of at most {limit} characters", field=field)
    return text


def _optional_text(value: object, field: str, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise errors.InvalidRequest(f"{field}: at most {limit} characters", field=field)
    return value.strip()


def phone_number(value: object) -> str:
    """A Korean phone number as people write it ('032-123-4567', '010 1234 5678',
    '0321234567', '1588-1234'), in its usual hyphenated form."""
    bad = errors.InvalidRequest(
        "phone must be a Korean phone number such as 032-123-4567 or 010-1234-5678",
        field="phone",
    )
    if not isinstance(value, str) or len(value.strip()) > MAX_PHONE_TYPED:
        raise bad
    typed = value.strip()
    if not PHONE_TYPED.match(typed):
        raise bad
    digits = re.sub(r"[ .-]", "", typed)
    if len(digits) == 8 and digits[:2] in ("15", "16", "18"):
        return f"{digits[:4]}-{digits[4:]}"
    if digits.startswith("02"):
        prefix = "02"
    elif digits[:3] in AREA_CODES | MOBILE_CODES | {"070"}:
        prefix = digits[:3]
    else:
        raise bad
    rest = digits[len(prefix) :]
    eight_only = prefix in ("010", "070")  # these have four-digit exchanges only
    if len(rest) not in ((8,) if eight_only else (7, 8)) or rest[0] == "0":
        raise bad
    middle = len(rest) - 4
    return f"{prefix}-{rest[:middle]}-{rest[middle:]}"


def _menu(value: object) -> str:
    """A short menu: 1..``MAX_MENU_LINES`` non-empty lines of at most
    ``MAX_MENU_LINE_LENGTH`` characters, each trimmed."""
    if not isinstance(value, str):
        raise errors.InvalidRequest("menu is required", field="menu")
    lines = [ln.strip() for ln in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise errors.InvalidRequest("menu is required", field="menu")
    if len(lines) > MAX_MENU_LINES or any(len(ln) > MAX_MENU_LINE_LENGTH for ln in lines):
        raise errors.InvalidRequest(
            f"menu: at most {MAX_MENU_LINES} lines of {MAX_MENU_LINE_LENGTH} characters",
            field="menu",
        )
    return "\n".join(lines)


def _upsert(conn: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert the row, or update it where its key exists (two at once never collide)."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(table).values(**keys, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=values))


def _insert_once(conn: Connection, table: Table, key: str, values: dict[str, Any]) -> bool:
    """Insert the row unless its key is taken (then nothing, and False)."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    # RETURNING says whether the row went in (an insert's rowcount is not kept everywhere).
    return conn.execute(stmt.returning(table.c[key])).first() is not None


# --- the phone-order directory ------------------------------------------------------------


def set_phone_listing(
    conn: Connection, *, merchant_id: str, phone: object, hours: object, menu: object, at: datetime
) -> dict[str, Any]:
    """The merchant opts in to the phone-order directory, or changes its entry."""
    merchant = merchants.find_merchant(conn, merchant_id)
    values = {
        "phone": phone_number(phone),
        "hours": _line(hours, "hours", MAX_HOURS_LENGTH),
        "menu": _menu(menu),
        "active": True,
        "updated_at": as_kst(at),
    }
    _upsert(conn, phone_listings, {"merchant_id": merchant.id}, values)
    return {"merchant": merchant.id, **values}


def leave_phone_directory(conn: Connection, *, merchant_id: str, at: datetime) -> dict[str, Any]:
    """The merchant opts out: its entry is switched off (kept for opting in again)."""
    merchant = merchants.find_merchant(conn, merchant_id)
    row = conn.execute(
        select(phone_listings).where(phone_listings.c.merchant_id == merchant.id)
    ).first()
    if row is None:
        raise errors.NotFound("the shop is not in the phone-order directory", field="merchant")
    if row.active:
        conn.execute(
            update(phone_listings)
            .where(phone_listings.c.merchant_id == merchant.id)
            .values(active=False, updated_at=as_kst(at))
        )
    return {"merchant": merchant.id, "active": False}


# --- Benefit Plus -------------------------------------------------------------------------


def benefit_plus_merchant(conn: Connection, merchant_id: object, *, lock: bool = False) -> Merchant:
    """The merchant, which must be in Benefit Plus now (read in this transaction; with
    ``lock`` its row stays locked to the end of it, so its own requests queue)."""
    row = None
    if isinstance(merchant_id, str):
        query = select(merchant_rows).where(merchant_rows.c.id == merchant_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
    merchant = merchants.merchant_from_row(row)
    if merchant.tier != "benefit_plus" or merchant.status != "approved":
        raise errors.NotBenefitPlus(field="merchant")
    return merchant


def issuers_over(conn: Connection, district: str) -> frozenset[str]:
    """The issuers whose area holds a district: its own and the metro above it."""
    tree = issuer_tree(conn)
    return frozenset(i for i in tree.parent if district in tree.covers(i))


def _is_admin(by: Principal) -> bool:
    return by.role in ADMIN_ROLES


# --- consultations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    id: str
    issuer_id: str
    kind: str
    starts_at: datetime
    minutes: int
    place: str


def _slot_of(row: Any) -> Slot:
    return Slot(row.id, row.issuer_id, row.kind, as_kst(row.starts_at), row.minutes, row.place)


def _start(value: object, at: datetime) -> datetime:
    """A slot's start: a time (KST unless it says otherwise) after ``at``, within
    ``MAX_SLOT_DAYS_AHEAD`` days."""
    try:
        start = parse_time(value)
    except (ValueError, TypeError, OverflowError):
        raise errors.InvalidRequest(
            "starts_at must be a date and time", field="starts_at"
        ) from None
    if start <= at:
        raise errors.InvalidRequest("starts_at must be in the future", field="starts_at")
    if start > at + timedelta(days=MAX_SLOT_DAYS_AHEAD):
        raise errors.InvalidRequest(
            f"starts_at must be within {MAX_SLOT_DAYS_AHEAD} days", field="starts_at"
        )
    return start.replace(microsecond=0)


def publish_slot(
    conn: Connection,
    *,
    issuer_id: str,
    kind: object,
    starts_at: object,
    minutes: object,
    place: object,
    at: datetime,
) -> Slot:
    """An issuer's free consultation slot: tax, legal or labour, when, how long, where."""
    if issuer_id not in issuer_tree(conn).parent:
        raise errors.UnknownIssuer(f"no issuer {issuer_id}", field="issuer")
    if kind not in KINDS:
        raise errors.InvalidRequest("kind must be tax, legal or labour", field="kind")
    start = _start(starts_at, as_kst(at))
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not MIN_SLOT_MINUTES <= minutes <= MAX_SLOT_MINUTES
    ):
        raise errors.InvalidRequest(
            f"minutes must be {MIN_SLOT_MINUTES}..{MAX_SLOT_MINUTES}", field="minutes"
        )
    where = _line(place, "place", MAX_PLACE_LENGTH)
    slot = Slot(_new_id("cs"), issuer_id, str(kind), start, minutes, where)
    conn.execute(
        insert(consult_slots).values(
            id=slot.id,
            issuer_id=slot.issuer_id,
            kind=slot.kind,
            starts_at=slot.starts_at,
            minutes=slot.minutes,
            place=slot.place,
            created_at=as_kst(at),
        )
    )
    return slot


def publish_slot_as(
    conn: Connection,
    *,
    by: Principal,
    issuer_id: str | None,
    kind: object,
    starts_at: object,
    minutes: object,
    place: object,
    at: datetime,
) -> Slot:
    """An issuer admin publishes a slot for its issuer (or one below it), audited."""
    if not _is_admin(by):
        raise errors.Forbidden("only issuer admins and operators publish consultation slots")
    issuer = issuer_id or by.issuer_id
    if issuer is None:
        raise errors.InvalidRequest("issuer is required", field="issuer")
    if not by.sees_issuer(issuer):
        raise errors.Forbidden(f"issuer {issuer} is outside your area", field="issuer")
    slot = publish_slot(
        conn, issuer_id=issuer, kind=kind, starts_at=starts_at, minutes=minutes, place=place, at=at
    )
    _audit_slot(conn, by, at, "consult_slot.publish", slot, {})
    return slot


def _audit_slot(
    conn: Connection, by: Principal, at: datetime, action: str, slot: Slot, more: dict[str, Any]
) -> None:
    detail = {
        "kind": slot.kind,
        "starts_at": slot.starts_at.isoformat(),
        "minutes": slot.minutes,
        "place": slot.place,
        **more,
    }
    audit.record_by(
        conn,
        by,
        at=at,
        action=action,
        target=f"consult_slot:{slot.id}",
        issuer_id=slot.issuer_id,
        detail=detail,
    )


def _locked_slot(conn: Connection, slot_id: object) -> tuple[Slot, Any]:
    """The slot (its row locked to the end of the transaction) and its booking, if any."""
    row = None
    if isinstance(slot_id, str):
        row = conn.execute(
            select(consult_slots).where(consult_slots.c.id == slot_id).with_for_update()
        ).first()
    if row is None:
        raise errors.NotFound(f"no consultation slot {slot_id}", field="slot")
    booking = conn.execute(
        select(consult_bookings).where(consult_bookings.c.slot_id == row.id)
    ).first()
    return _slot_of(row), booking


def _admin_of(by: Principal, slot: Slot) -> None:
    """Writes to a slot outside the admin's area are refused (403)."""
    if not (_is_admin(by) and by.sees_issuer(slot.issuer_id)):
        raise errors.Forbidden(f"slot {slot.id} is outside your area", field="slot")


def withdraw_slot_as(conn: Connection, *, by: Principal, slot_id: object, at: datetime) -> Slot:
    """An admin of the slot's area takes back a slot nobody booked, audited."""
    slot, booking = _locked_slot(conn, slot_id)
    _admin_of(by, slot)
    if booking is not None:
        raise errors.InvalidState("the slot is booked: cancel the booking first", field="slot")
    conn.execute(delete(consult_slots).where(consult_slots.c.id == slot.id))
    _audit_slot(conn, by, at, "consult_slot.withdraw", slot, {})
    return slot


def book_slot(
    conn: Connection, *, merchant_id: str | None, slot_id: object, note: object, at: datetime
) -> dict[str, Any]:
    """A Benefit Plus merchant books a future slot of an issuer over its district."""
    merchant = benefit_plus_merchant(conn, merchant_id, lock=True)
    slot, booking = _locked_slot(conn, slot_id)
    if slot.issuer_id not in issuers_over(conn, merchant.district):
        raise errors.NotFound(f"no consultation slot {slot.id}", field="slot")
    if slot.starts_at <= as_kst(at):
        raise errors.InvalidState("the slot has begun", field="slot")
    clean_note = _optional_text(note, "note", MAX_NOTE_LENGTH)
    if booking is not None:
        raise errors.SlotTaken(field="slot")
    if upcoming_bookings(conn, merchant.id, at) >= MAX_UPCOMING_BOOKINGS:
        raise errors.InvalidState(
            f"at most {MAX_UPCOMING_BOOKINGS} consultations booked ahead", field="slot"
        )
    values = {
        "slot_id": slot.id,
        "merchant_id": merchant.id,
        "note": clean_note,
        "booked_at": as_kst(at),
    }
    if not _insert_once(conn, consult_bookings, "slot_id", values):
        raise errors.SlotTaken(field="slot")  # booked in a transaction that began meanwhile
    return {"slot": slot.id, "merchant": merchant.id, "note": clean_note, "booked_at": at}


def upcoming_bookings(conn: Connection, merchant_id: str, at: datetime) -> int:
    rows = conn.execute(
        select(consult_bookings.c.slot_id)
        .join(consult_slots, consult_slots.c.id == consult_bookings.c.slot_id)
        .where(consult_bookings.c.merchant_id == merchant_id)
        .where(consult_slots.c.starts_at > as_kst(at))
    ).all()
    return len(rows)


def cancel_booking(
    conn: Connection, *, by: Principal, slot_id: object, at: datetime
) -> dict[str, Any]:
    """The merchant cancels its own booking before the slot begins; an admin of the slot's
    area cancels any booking (audited), e.g. of a merchant that left Benefit Plus."""
    if by.role not in ("merchant", *ADMIN_ROLES):
        raise errors.Forbidden("only the merchant that booked or an admin cancels a booking")
    if by.role == "merchant":
        merchant = benefit_plus_merchant(conn, by.merchant_id, lock=True)
        slot, booking = _locked_slot(conn, slot_id)
        if booking is None or booking.merchant_id != merchant.id:
            raise errors.NotFound(f"no booking of yours for slot {slot.id}", field="slot")
        if slot.starts_at <= as_kst(at):
            raise errors.InvalidState("the consultation has begun", field="slot")
    else:
        slot, booking = _locked_slot(conn, slot_id)
        _admin_of(by, slot)
        if booking is None:
            raise errors.NotFound(f"slot {slot.id} is not booked", field="slot")
        _audit_slot(conn, by, at, "consult_booking.cancel", slot, {"merchant": booking.merchant_id})
    conn.execute(delete(consult_bookings).where(consult_bookings.c.slot_id == slot.id))
    return {"slot": slot.id, "merchant": booking.merchant_id, "cancelled": True}


# --- the credit-guarantee fee certificate -------------------------------------------------


def issue_certificate(conn: Connection, *, merchant_id: str | None, at: datetime) -> str:
    """A numbered certificate that the merchant, in Benefit Plus today, gets the 20% cut of
    its credit-guarantee fee; returns its number."""
    merchant = benefit_plus_merchant(conn, merchant_id)
    number = f"BP-{kst_day(at):%Y%m%d}-{secrets.token_hex(CERTIFICATE_BYTES).upper()}"
    conn.execute(
        insert(benefit_certificates).values(
            id=number, merchant_id=merchant.id, issued_at=as_kst(at)
        )
    )
    return number


# --- the QR kit ---------------------------------------------------------------------------


def request_qr_kit(
    conn: Connection, *, merchant_id: str | None, address: object, at: datetime
) -> dict[str, Any]:
    """A Benefit Plus merchant asks for a free QR kit sent to ``address``; one open
    request (requested or shipped) at a time."""
    merchant = benefit_plus_merchant(conn, merchant_id, lock=True)
    clean = _line(address, "address", MAX_ADDRESS_LENGTH)
    open_one = conn.execute(
        select(qr_kit_requests.c.id).where(
            qr_kit_requests.c.merchant_id == merchant.id,
            qr_kit_requests.c.status.in_(OPEN_KIT),
        )
    ).first()
    if open_one is not None:
        raise errors.InvalidState(
            f"the QR kit request {open_one.id} is still open", field="address"
        )
    values = {
        "id": _new_id("qk"),
        "merchant_id": merchant.id,
        "address": clean,
        "status": "requested",
        "requested_at": as_kst(at),
        "updated_at": as_kst(at),
    }
    conn.execute(insert(qr_kit_requests).values(**values))
    return values


def move_qr_kit_as(
    conn: Connection, *, by: Principal, kit_id: object, status: object, at: datetime
) -> dict[str, Any]:
    """An admin of the merchant's district moves a kit on: requested -> shipped ->
    delivered, or cancelled before it is delivered; audited."""
    row = None
    if isinstance(kit_id, str):
        row = conn.execute(
            select(qr_kit_requests).where(qr_kit_requests.c.id == kit_id).with_for_update()
        ).first()
    if row is None:
        raise errors.NotFound(f"no QR kit request {kit_id}", field="kit")
    merchant = merchants.find_merchant(conn, row.merchant_id)
    if not merchants.administers(by, merchant.district):
        raise errors.Forbidden(f"QR kit request {row.id} is outside your area", field="kit")
    if status not in KIT_STATUSES:
        raise errors.InvalidRequest(
            "status must be shipped, delivered or cancelled", field="status"
        )
    if status not in KIT_MOVES.get(row.status, ()):
        raise errors.InvalidState(f"a {row.status} kit cannot become {status}", field="status")
    conn.execute(
        update(qr_kit_requests)
        .where(qr_kit_requests.c.id == row.id)
        .values(status=status, updated_at=as_kst(at))
    )
    merchants._audit(
        conn,
        by,
        at,
        "qr_kit.status",
        f"qr_kit:{row.id}",
        merchant.district,
        {"merchant": merchant.id, "from": row.status, "to": status},
    )
    return {**row._asdict(), "status": status, "updated_at": as_kst(at)}
