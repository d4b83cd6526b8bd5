"""The phone-order directory (anyone browses; a merchant opts in and out) and the Benefit
Plus services: consultation slots an issuer publishes and its merchants book, the
credit-guarantee fee certificate, the QR kit and its delivery. Each handler parses, checks
the role, and calls one service; the services check the area and whether the merchant is
in Benefit Plus now (``not_benefit_plus``, 403)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from eum import errors
from eum.api.deps import (
    DB,
    MAX_PAGE,
    Admin,
    Caller,
    MerchantOwner,
    Page,
    decode_cursor,
    encode_cursor,
)
from eum.api.schemas_benefits import BookingIn, PhoneListingIn, QrKitIn, QrKitMoveIn, SlotIn
from eum.auth.model import ADMIN_ROLES
from eum.benefits import service, views
from eum.clock import KST, kst_day, now
from eum.wallets.views import iso

router = APIRouter(prefix="/api/v1", tags=["benefits"])

ItemId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]
Short = Annotated[str | None, Query(max_length=64)]
FIRST_YEAR, LAST_YEAR = 2000, 2100  # a ``from`` day outside is a typo


def _page(items: list[dict[str, Any]], last: str | None) -> Page:
    return Page(items=items, next_cursor=None if last is None else encode_cursor(last))


# --- the phone-order directory ------------------------------------------------------------


@router.get("/phone-orders", response_model=Page)
def phone_orders(
    db: DB,
    district: Short = None,
    category: Short = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    """전화 주문 가게: 구·군, 업종, 이름으로 (전화번호, 영업시간, 차림표)."""
    after = decode_cursor(cursor)
    items, last = db.read(
        lambda c: views.phone_directory(
            c, district=district, category=category, q=q, limit=limit, after=after
        )
    )
    return _page(items, last)


@router.get("/me/phone-listing")
def my_phone_listing(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """내 가게의 전화 주문 등록 정보 (등록한 적이 없으면 404)."""
    return db.read(lambda c: views.phone_listing(c, me.merchant_id))


@router.put("/me/phone-listing")
def set_phone_listing(body: PhoneListingIn, db: DB, me: MerchantOwner) -> dict[str, Any]:
    """전화 주문 목록에 올리기 또는 고치기: 전화번호, 영업시간, 짧은 차림표."""

    def unit(c: Any) -> dict[str, Any]:
        service.set_phone_listing(
            c,
            merchant_id=me.merchant_id or "",
            phone=body.phone,
            hours=body.hours,
            menu=body.menu,
            at=now(),
        )
        return views.phone_listing(c, me.merchant_id)

    return db.run(unit)


@router.delete("/me/phone-listing")
def leave_phone_directory(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """전화 주문 목록에서 내리기 (정보는 남아 다시 올릴 때 쓰입니다)."""

    def unit(c: Any) -> dict[str, Any]:
        service.leave_phone_directory(c, merchant_id=me.merchant_id or "", at=now())
        return views.phone_listing(c, me.merchant_id)

    return db.run(unit)


# --- consultations ------------------------------------------------------------------------


def _since(day: date | None) -> datetime:
    if day is None:
        day = kst_day(now())
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise errors.InvalidRequest(f"from must be in {FIRST_YEAR}..{LAST_YEAR}", field="from")
    return datetime.combine(day, time(0), tzinfo=KST)


@router.get("/consult-slots", response_model=Page)
def consult_slots(
    db: DB,
    me: Caller,
    since: Annotated[date | None, Query(alias="from")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    """상담 시간: 혜택플러스 가맹점에는 예약할 수 있는 시간(지금 이후, 빈 시간), 관리자에게는
    관할 발행처의 시간과 예약한 가맹점 (``from`` 날부터, 기본 오늘)."""
    after = decode_cursor(cursor)
    at = now()
    if me.role == "merchant":
        items, last = db.read(lambda c: views.open_slots(c, me.merchant_id, at, limit, after))
    elif me.role in ADMIN_ROLES:
        start = _since(since)
        items, last = db.read(lambda c: views.area_slots(c, me, start, limit, after))
    else:
        raise errors.Forbidden("consultation slots are for merchants and admins")
    return _page(items, last)


def _slot_view(slot: service.Slot) -> dict[str, Any]:
    return {
        "id": slot.id,
        "issuer": slot.issuer_id,
        "kind": slot.kind,
        "starts_at": iso(slot.starts_at),
        "minutes": slot.minutes,
        "place": slot.place,
    }


@router.post("/consult-slots", status_code=201)
def publish_slot(body: SlotIn, db: DB, admin: Admin) -> dict[str, Any]:
    """무료 세무·법률·노무 상담 시간 올리기 (관할 발행처, 감사 기록)."""
    slot = db.run(
        lambda c: service.publish_slot_as(
            c,
            by=admin,
            issuer_id=body.issuer,
            kind=body.kind,
            starts_at=body.starts_at,
            minutes=body.minutes,
            place=body.place,
            at=now(),
        )
    )
    return {**_slot_view(slot), "booking": None}


@router.delete("/consult-slots/{slot_id}")
def withdraw_slot(slot_id: ItemId, db: DB, admin: Admin) -> dict[str, Any]:
    """예약되지 않은 상담 시간 내리기 (관할 발행처, 감사 기록)."""
    slot = db.run(lambda c: service.withdraw_slot_as(c, by=admin, slot_id=slot_id, at=now()))
    return {**_slot_view(slot), "withdrawn": True}


@router.post("/consult-slots/{slot_id}/booking", status_code=201)
def book_slot(
    slot_id: ItemId, db: DB, me: MerchantOwner, body: BookingIn | None = None
) -> dict[str, Any]:
    """상담 예약 (혜택플러스 가맹점, 한 시간에 한 가게: 먼저 예약한 가게만)."""
    note = body.note if body else None

    def unit(c: Any) -> dict[str, Any]:
        at = now()
        service.book_slot(c, merchant_id=me.merchant_id, slot_id=slot_id, note=note, at=at)
        return next(b for b in views.my_bookings(c, me.merchant_id, at) if b["id"] == slot_id)

    return db.run(unit)


@router.delete("/consult-slots/{slot_id}/booking")
def cancel_booking(slot_id: ItemId, db: DB, me: Caller) -> dict[str, Any]:
    """상담 예약 취소: 예약한 가맹점은 시작 전까지, 관할 관리자는 언제든 (감사 기록)."""
    return db.run(lambda c: service.cancel_booking(c, by=me, slot_id=slot_id, at=now()))


@router.get("/me/consult-bookings")
def my_bookings(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """내 상담 예약: 다가오는 것부터, 지난 것은 최근 것만."""
    return {"items": db.read(lambda c: views.my_bookings(c, me.merchant_id, now()))}


# --- the credit-guarantee fee certificate -------------------------------------------------


@router.post("/me/benefit-certificates", status_code=201)
def issue_certificate(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """신용보증 보증료 20% 감면 확인서 발급 (혜택플러스 가맹점인 동안)."""

    def unit(c: Any) -> dict[str, Any]:
        number = service.issue_certificate(c, merchant_id=me.merchant_id, at=now())
        return views.my_certificate(c, me.merchant_id, number)

    return db.run(unit)


@router.get("/me/benefit-certificates")
def my_certificates(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """내가 발급받은 확인서 (최근 것부터)."""
    return {"items": db.read(lambda c: views.my_certificates(c, me.merchant_id))}


@router.get("/me/benefit-certificates/{certificate_id}")
def my_certificate(certificate_id: ItemId, db: DB, me: MerchantOwner) -> dict[str, Any]:
    """내 확인서 하나 (혜택플러스를 해지하면 볼 수 없습니다)."""
    return db.read(lambda c: views.my_certificate(c, me.merchant_id, certificate_id))


@router.get("/benefit-certificates/{certificate_id}")
def verify_certificate(certificate_id: ItemId, db: DB, admin: Admin) -> dict[str, Any]:
    """확인서 번호 조회 (관할 가맹점의 것만): 누구의 것인지, 지금도 혜택플러스인지."""
    return db.read(lambda c: views.verify_certificate(c, admin, certificate_id))


# --- the QR kit ---------------------------------------------------------------------------


def _kit(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": values["id"],
        "merchant": values["merchant_id"],
        "address": values["address"],
        "status": values["status"],
        "requested_at": iso(values["requested_at"]),
        "updated_at": iso(values["updated_at"]),
    }


@router.post("/me/qr-kit-requests", status_code=201)
def request_qr_kit(body: QrKitIn, db: DB, me: MerchantOwner) -> dict[str, Any]:
    """무료 QR 키트 신청 (혜택플러스 가맹점, 진행 중인 신청은 하나만)."""
    return _kit(
        db.run(
            lambda c: service.request_qr_kit(
                c, merchant_id=me.merchant_id, address=body.address, at=now()
            )
        )
    )


@router.get("/me/qr-kit-requests")
def my_qr_kits(db: DB, me: MerchantOwner) -> dict[str, Any]:
    """내 QR 키트 신청과 배송 상태 (최근 것부터)."""
    return {"items": db.read(lambda c: views.my_qr_kits(c, me.merchant_id))}


@router.get("/qr-kit-requests", response_model=Page)
def area_qr_kits(
    db: DB,
    admin: Admin,
    status: Literal["open", "requested", "shipped", "delivered", "cancelled"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    """관할 가맹점의 QR 키트 신청 (오래된 것부터; ``open``: 신청·발송 중)."""
    after = decode_cursor(cursor)
    items, last = db.read(lambda c: views.area_qr_kits(c, admin, status, limit, after))
    return _page(items, last)


@router.patch("/qr-kit-requests/{kit_id}")
def move_qr_kit(kit_id: ItemId, body: QrKitMoveIn, db: DB, admin: Admin) -> dict[str, Any]:
    """QR 키트 배송 상태 바꾸기: 신청 → 발송 → 배송 완료, 또는 취소 (감사 기록)."""
    return _kit(
        db.run(
            lambda c: service.move_qr_kit_as(
                c, by=admin, kit_id=kit_id, status=body.status, at=now()
            )
        )
    )
