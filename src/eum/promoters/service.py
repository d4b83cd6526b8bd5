"""Use cases of field promoters (지원활동가): a promoter records its visits to the shops of
its area, the shops it signed up and each shop's 가맹점 sticker.

A promoter's area is its issuer's districts (``Principal.districts``). A shop outside it
is refused the way the merchants service refuses anyone: an approved shop is public, so
acting on it is ``forbidden``; a pending one looks the same as a missing one. Every check
runs before the first write. A shop has at most one promoter who signed it up (the
sign-up's key is the merchant): the shop's row is locked before the claim is checked, so
of two promoters claiming at once the second finds the first's claim. Sign-ups and
sticker changes change what the issuer sees of a shop and are audited in the same
transaction; visits are the promoter's own diary and are not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from eum import errors
from eum.auth.model import Principal
from eum.clock import KST, as_kst, kst_day
from eum.merchants.service import Merchant, _audit, find_merchant, require
from eum.merchants.store import merchants
from eum.promoters.store import promoter_signups, promoter_visits, stickers

STICKER_STATUSES = ("none", "requested", "attached")
SIGNUP_STATUSES = ("pending", "approved")  # a rejected registration was brought in by no one
MAX_NOTE_LENGTH = 500
MAX_LATE_DAYS = 31  # a visit may be written down up to a month after it happened
CLOCK_SLACK = timedelta(minutes=10)  # a phone's clock a little ahead is not a future visit
VISIT_ID_BYTES = 8
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2099, 12, 31)  # days a city reports on


def _promoter(by: Principal) -> frozenset[str]:
    """The caller's area; only a promoter records field work."""
    if by.role != "promoter":
        raise errors.Forbidden("only promoters record field work")
    assert by.districts is not None, "a promoter belongs to a district issuer"
    return by.districts


def in_area(by: Principal, merchant: Merchant) -> bool:
    return by.districts is not None and merchant.district in by.districts


def shop_to_act_on(conn: Connection, by: Principal, merchant_id: object) -> Merchant:
    """A shop of the promoter's area it may record work on, its row locked for the rest
    of the transaction (a no-op on SQLite, whose writers take the lock at BEGIN)."""
    _promoter(by)
    merchant = find_merchant(conn, merchant_id)
    require(merchant, in_area(by, merchant))
    conn.execute(select(merchants.c.id).where(merchants.c.id == merchant.id).with_for_update())
    return merchant


def shop_to_see(conn: Connection, by: Principal, merchant_id: object) -> Merchant:
    """A shop of the promoter's area; any other looks missing."""
    _promoter(by)
    merchant = find_merchant(conn, merchant_id)
    if not in_area(by, merchant):
        raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
    return merchant


def _note(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NOTE_LENGTH:
        raise errors.InvalidRequest(
            f"note must be at most {MAX_NOTE_LENGTH} characters", field="note"
        )
    return value.strip() or None


def _visited_at(value: datetime | None, at: datetime) -> datetime:
    """When the visit happened: now, or a moment of the last month (not the future)."""
    if value is None:
        return as_kst(at)
    try:
        when = as_kst(value)
    except (AttributeError, OverflowError):  # not a time, or one KST cannot spell
        raise errors.InvalidRequest("visited_at must be a time", field="visited_at") from None
    if when > at + CLOCK_SLACK:
        raise errors.InvalidRequest("a visit cannot be in the future", field="visited_at")
    if when < at - timedelta(days=MAX_LATE_DAYS):
        raise errors.InvalidRequest(
            f"a visit is recorded within {MAX_LATE_DAYS} days", field="visited_at"
        )
    return when


def record_visit(
    conn: Connection,
    *,
    by: Principal,
    merchant_id: object,
    at: datetime,
    visited_at: datetime | None = None,
    note: object = None,
) -> dict[str, Any]:
    """The promoter visited a shop of its area (at ``visited_at``, by default now)."""
    merchant = shop_to_act_on(conn, by, merchant_id)
    clean_note = _note(note)
    when = _visited_at(visited_at, at)
    visit_id = "v-" + secrets.token_hex(VISIT_ID_BYTES)
    conn.execute(
        insert(promoter_visits).values(
            id=visit_id,
            promoter_id=by.user_id,
            merchant_id=merchant.id,
            visited_at=when,
            note=clean_note,
        )
    )
    return {"id": visit_id, "merchant": merchant.id, "visited_at": when, "note": clean_note}


def signed_up_by(conn: Connection, merchant_id: str) -> str | None:
    """The promoter who signed the shop up, if one did."""
    row = conn.execute(
        select(promoter_signups.c.promoter_id).where(promoter_signups.c.merchant_id == merchant_id)
    ).first()
    return None if row is None else str(row.promoter_id)


def sign_up(
    conn: Connection, *, by: Principal, merchant_id: object, at: datetime
) -> dict[str, Any]:
    """The promoter brought in a shop's registration (pending or approved); the first
    promoter to claim a shop keeps it: a second claim is ``already_exists``."""
    merchant = shop_to_act_on(conn, by, merchant_id)
    if merchant.status not in SIGNUP_STATUSES:
        raise errors.InvalidState(
            f"the registration was {merchant.status}: no sign-up to record", field="merchant"
        )
    holder = signed_up_by(conn, merchant.id)
    if holder is not None:
        whose = "you" if holder == by.user_id else "another promoter"
        raise errors.AlreadyExists(f"{whose} signed this shop up already", field="merchant")
    when = as_kst(at)
    conn.execute(
        insert(promoter_signups).values(merchant_id=merchant.id, promoter_id=by.user_id, at=when)
    )
    _audit(
        conn,
        by,
        at,
        "promoter.signup",
        merchant.id,
        merchant.district,
        {"district": merchant.district, "status": merchant.status},
    )
    return {"merchant": merchant.id, "promoter": by.user_id, "at": when}


def sticker_of(conn: Connection, merchant_id: str) -> str:
    row = conn.execute(
        select(stickers.c.status).where(stickers.c.merchant_id == merchant_id)
    ).first()
    return "none" if row is None else str(row.status)


def set_sticker(
    conn: Connection, *, by: Principal, merchant_id: object, status: object, at: datetime
) -> dict[str, Any]:
    """The shop's sticker is now ``status`` (none | requested | attached), as the promoter
    found or left it; the same status again changes nothing."""
    merchant = shop_to_act_on(conn, by, merchant_id)
    if status not in STICKER_STATUSES:
        raise errors.InvalidRequest("status must be none, requested or attached", field="status")
    assert isinstance(status, str)
    was = sticker_of(conn, merchant.id)
    when = as_kst(at)
    result = {"merchant": merchant.id, "status": status, "was": was, "updated_at": when}
    if status == was:
        return {**result, "changed": False}
    values = {"status": status, "promoter_id": by.user_id, "updated_at": when}
    done = conn.execute(
        update(stickers).where(stickers.c.merchant_id == merchant.id).values(**values)
    ).rowcount
    if done == 0:
        conn.execute(insert(stickers).values(merchant_id=merchant.id, **values))
    _audit(
        conn,
        by,
        at,
        "sticker.set",
        merchant.id,
        merchant.district,
        {"district": merchant.district, "status": status, "was": was},
    )
    return {**result, "changed": True}


# --- periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """KST days ``first``..``last``, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=KST)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=KST)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def period(first: date | None, last: date | None, at: datetime) -> Period:
    """The chosen days; by default the last 30 days up to today (KST)."""
    for day, field in ((first, "from"), (last, "to")):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise errors.InvalidRequest(f"{field} must be in {FIRST_DAY}..{LAST_DAY}", field=field)
    last = last or kst_day(at)
    first = first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise errors.InvalidRequest("from must not be after to", field="from")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise errors.InvalidRequest(f"a period has at most {MAX_PERIOD_DAYS} days", field="from")
    return Period(first, last)
