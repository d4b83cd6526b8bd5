"""Pages of the phone-order directory and of the Benefit Plus services.

- ``/phone-orders``: anyone browses shops taking phone orders by district and category; a
  signed-in citizen sees what its card earns at each shop today and any change announced
  (the same ``quote.shop_rates`` as the shop finder).
- ``/shop/phone-order``: a merchant opts in, changes its entry or opts out.
- ``/shop/services``: a Benefit Plus merchant books consultations, prints its
  credit-guarantee fee certificate and asks for a QR kit. Every page and form asks the
  services, which read the merchant's tier in the same transaction: a shop that left
  Benefit Plus sees the door closed at once.
- ``/admin/services``: an issuer admin publishes slots, sees who booked them, ships QR
  kits and looks certificate numbers up, within its own area (the same ``*_as`` services
  and views as the API, so the same 403/404 outside it).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from eum import errors
from eum.auth.model import Principal
from eum.benefits import service, views
from eum.clock import KST, kst_day, now
from eum.merchants import service as merchants
from eum.payments import quote
from eum.policy import views as policy_views
from eum.wallets import service as wallets
from eum.web import i18n, money, names, pages, session

router = APIRouter(include_in_schema=False)

DIRECTORY_PAGE = 20
SLOTS_PAGE = 20
ADMIN_SLOTS_PAGE = 50
KITS_PAGE = 50
MAX_FIELD = 200  # a one-line form field
MAX_QUERY = 100
KIND_NAMES = {"tax": "세무 상담", "legal": "법률 상담", "labour": "노무 상담"}
KIT_STATUS_NAMES = {
    "requested": "신청됨",
    "shipped": "발송됨",
    "delivered": "배송 완료",
    "cancelled": "취소됨",
}
KIT_BADGES = {"requested": "warn", "shipped": "", "delivered": "ok", "cancelled": "bad"}
KIT_ACTIONS = {"shipped": "발송 처리", "delivered": "배송 완료 처리", "cancelled": "신청 취소"}
KIT_FILTERS = {"open": "처리 중", "delivered": "배송 완료", "cancelled": "취소됨", "all": "모두"}
SLOT_MINUTES = (30, 60, 90, 120)
TIME = re.compile(r"^\d{2}:\d{2}$")
CERTIFICATE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

_db = pages.database


def _lang(request: Request) -> str:
    return session.visitor(request).lang


def _text(form: dict[str, str], name: str, limit: int = MAX_FIELD) -> str:
    text = (form.get(name) or "").strip()
    if len(text) > limit:
        raise errors.InvalidRequest(f"{name} is too long", field=name)
    return text


def _shop(request: Request) -> Principal:
    """The signed-in merchant (its merchant id is the shop every form acts on)."""
    who = pages.require(request, "merchant")
    assert who.principal is not None and who.principal.merchant_id is not None
    return who.principal


# --- the phone-order directory ------------------------------------------------------------


@router.get("/phone-orders")
def phone_orders(
    request: Request,
    district: str | None = None,
    category: str | None = None,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    """전화 주문: 구·군과 업종으로 찾고, 시민에게는 내 카드의 오늘 캐시백."""
    who = session.visitor(request)
    query = {
        "district": (district or "").strip()[:64],
        "category": (category or "").strip()[:64],
        "q": (q or "").strip()[:MAX_QUERY],
    }

    def read(conn: Connection) -> dict[str, Any]:
        items, last = views.phone_directory(
            conn,
            district=query["district"] or None,
            category=query["category"] or None,
            q=query["q"] or None,
            limit=DIRECTORY_PAGE,
            after=(after or "")[:64] or None,
        )
        rates: dict[str, quote.ShopRate] = {}
        if who.principal is not None and who.principal.member_id:
            member = wallets.find_member(conn, who.principal.member_id)
            shops = [merchants.find_merchant(conn, m["id"]) for m in items]
            rates = quote.shop_rates(conn, member, shops, now())
        return {"shops": items, "next_after": last, "rates": rates}

    db = _db(request)
    return pages.render(
        request,
        "public/phone_orders.html",
        query=query,
        more=urlencode({k: v for k, v in query.items() if v}),
        districts=db.read(names.districts_known),
        categories=names.CATEGORIES,
        **db.read(read),
    )


def _listing_or_none(conn: Connection, merchant_id: str | None) -> dict[str, Any] | None:
    try:
        return views.phone_listing(conn, merchant_id)
    except errors.NotFound:
        return None


def _phone_page(
    request: Request,
    p: Principal,
    *,
    form: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    listing = _db(request).read(lambda c: _listing_or_none(c, p.merchant_id))
    if form is None:
        form = {
            "phone": listing["phone"] if listing else "",
            "hours": listing["hours"] if listing else "",
            "menu": "\n".join(listing["menu"]) if listing else "",
        }
    shown = {k: (form.get(k) or "")[: service.MAX_MENU_LENGTH] for k in ("phone", "hours", "menu")}
    return pages.render(
        request,
        "merchant/phone_order.html",
        status=status,
        listing=listing,
        form=shown,
        limits={
            "lines": service.MAX_MENU_LINES,
            "line": service.MAX_MENU_LINE_LENGTH,
            "hours": service.MAX_HOURS_LENGTH,
        },
        **extra,
    )


@router.get("/shop/phone-order")
def phone_order_page(request: Request) -> Response:
    """전화 주문 목록에 올리기: 전화번호, 영업시간, 짧은 차림표; 내리기."""
    return _phone_page(request, _shop(request))


@router.post("/shop/phone-order")
def phone_order(request: Request, form: pages.Posted) -> Response:
    p = _shop(request)
    action = form.get("action")
    if action not in ("save", "leave"):
        raise errors.InvalidRequest("action must be save or leave", field="action")
    db = _db(request)
    if action == "leave":
        db.run(
            lambda c: service.leave_phone_directory(c, merchant_id=p.merchant_id or "", at=now())
        )
        return pages.redirect(request, "/shop/phone-order", "전화 주문 목록에서 내렸습니다.")
    try:
        db.run(
            lambda c: service.set_phone_listing(
                c,
                merchant_id=p.merchant_id or "",
                phone=_text(form, "phone", service.MAX_PHONE_TYPED),
                hours=_text(form, "hours", service.MAX_HOURS_LENGTH),
                menu=_text(form, "menu", service.MAX_MENU_LENGTH),
                at=now(),
            )
        )
    except errors.EumError as exc:
        return _phone_page(
            request, p, form=form, status=exc.status, **pages.form_error(request, exc)
        )
    return pages.redirect(request, "/shop/phone-order", "전화 주문 정보를 저장했습니다.")


# --- Benefit Plus services of a merchant --------------------------------------------------


def _services_data(conn: Connection, p: Principal, after: str | None) -> dict[str, Any]:
    at = now()
    merchant = service.benefit_plus_merchant(conn, p.merchant_id)
    slots, last = views.open_slots(conn, merchant.id, at, SLOTS_PAGE, after)
    kits = views.my_qr_kits(conn, merchant.id)
    return {
        "merchant": merchant,
        "slots": slots,
        "next_after": last,
        "bookings": views.my_bookings(conn, merchant.id, at),
        "certificates": views.my_certificates(conn, merchant.id),
        "kits": kits,
        "open_kit": next((k for k in kits if k["status"] in service.OPEN_KIT), None),
    }


def _services_page(
    request: Request,
    p: Principal,
    *,
    after: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {
        "kind_names": KIND_NAMES,
        "kit_status_names": KIT_STATUS_NAMES,
        "kit_badges": KIT_BADGES,
        "form": {k: (form or {}).get(k, "")[:MAX_FIELD] for k in ("address", "note", "slot")},
        "max_bookings": service.MAX_UPCOMING_BOOKINGS,
    }
    try:
        data = _db(request).read(lambda c: _services_data(c, p, (after or "")[:200] or None))
    except errors.NotBenefitPlus:
        # The door is closed from the moment the shop leaves Benefit Plus: say why and
        # where to join again.
        return pages.render(request, "merchant/services.html", status=403, locked=True, **context)
    return pages.render(
        request,
        "merchant/services.html",
        status=status,
        locked=False,
        after=after or "",
        **context,
        **data,
        **extra,
    )


@router.get("/shop/services")
def services_page(request: Request, after: str | None = None) -> Response:
    """혜택플러스 서비스: 무료 상담 예약, 보증료 감면 확인서, QR 키트 신청."""
    return _services_page(request, _shop(request), after=after)


def _when(starts_at: str, lang: str) -> str:
    text = pages.kst(starts_at, "%m/%d %H:%M")
    return text if lang == "en" else pages.kst(starts_at, "%m월 %d일 %H:%M")


def _service_error(request: Request, p: Principal, exc: errors.EumError, **extra: Any) -> Response:
    """A refused form: the page again with the error, unless the shop may not see it."""
    if isinstance(exc, (errors.NotBenefitPlus, errors.Forbidden)):
        raise exc
    return _services_page(request, p, status=exc.status, **pages.form_error(request, exc), **extra)


@router.post("/shop/services/slots/{slot_id}/book")
def book_slot(request: Request, form: pages.Posted, slot_id: str) -> Response:
    p = _shop(request)
    try:
        note = _text(form, "note", service.MAX_NOTE_LENGTH) or None
        booked = _db(request).run(
            lambda c: _book(c, p, slot_id[:64], note),
        )
    except errors.EumError as exc:
        return _service_error(request, p, exc, form={**form, "slot": slot_id[:64]})
    return pages.redirect(
        request,
        "/shop/services#bookings",
        "{when} 상담을 예약했습니다.",
        when=_when(booked["starts_at"], _lang(request)),
    )


def _book(conn: Connection, p: Principal, slot_id: str, note: str | None) -> dict[str, Any]:
    at = now()
    service.book_slot(conn, merchant_id=p.merchant_id, slot_id=slot_id, note=note, at=at)
    return next(b for b in views.my_bookings(conn, p.merchant_id, at) if b["id"] == slot_id)


@router.post("/shop/services/slots/{slot_id}/cancel")
def cancel_booking(request: Request, form: pages.Posted, slot_id: str) -> Response:
    p = _shop(request)
    try:
        _db(request).run(lambda c: service.cancel_booking(c, by=p, slot_id=slot_id[:64], at=now()))
    except errors.EumError as exc:
        return _service_error(request, p, exc)
    return pages.redirect(request, "/shop/services#bookings", "상담 예약을 취소했습니다.")


@router.post("/shop/services/certificates")
def issue_certificate(request: Request, form: pages.Posted) -> Response:
    p = _shop(request)
    number = _db(request).run(
        lambda c: service.issue_certificate(c, merchant_id=p.merchant_id, at=now())
    )
    return pages.redirect(request, f"/shop/services/certificates/{number}")


@router.get("/shop/services/certificates/{certificate_id}")
def certificate(request: Request, certificate_id: str, download: str | None = None) -> Response:
    """보증료 감면 확인서: 인쇄하거나 HTML 파일로 내려받기 (혜택플러스인 동안만)."""
    p = _shop(request)
    if not CERTIFICATE_ID.match(certificate_id):
        raise errors.NotFound(f"no certificate {certificate_id[:64]}", field="certificate")
    found = _db(request).read(lambda c: views.my_certificate(c, p.merchant_id, certificate_id))
    response = pages.render(request, "merchant/certificate.html", cert=found)
    if download == "1":
        response.headers["Content-Disposition"] = (
            f'attachment; filename="certificate-{certificate_id}.html"'
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/shop/services/qr-kit")
def request_qr_kit(request: Request, form: pages.Posted) -> Response:
    p = _shop(request)
    try:
        address = _text(form, "address", service.MAX_ADDRESS_LENGTH)
        _db(request).run(
            lambda c: service.request_qr_kit(
                c, merchant_id=p.merchant_id, address=address, at=now()
            )
        )
    except errors.EumError as exc:
        return _service_error(request, p, exc, form=form)
    return pages.redirect(request, "/shop/services#qr-kit", "QR 키트를 신청했습니다.")


# --- the admin's page ---------------------------------------------------------------------


def _admin_data(
    conn: Connection,
    p: Principal,
    since: date,
    after: str | None,
    kit_filter: str,
    certificate_id: str,
) -> dict[str, Any]:
    start = datetime.combine(since, time(0), tzinfo=KST)
    slots, last = views.area_slots(conn, p, start, ADMIN_SLOTS_PAGE, after)
    status = None if kit_filter == "all" else kit_filter
    kits, more_kits = views.area_qr_kits(conn, p, status, KITS_PAGE, None)
    found, missing = None, False
    if certificate_id:
        try:
            found = views.verify_certificate(conn, p, certificate_id)
        except errors.NotFound:
            missing = True
    return {
        "slots": slots,
        "next_after": last,
        "kits": kits,
        "more_kits": more_kits is not None,
        "issuers": [i for i in policy_views.issuer_list(conn) if p.sees_issuer(i["id"])],
        "cert": found,
        "cert_missing": missing,
    }


def _since(text: str | None) -> date:
    try:
        day = date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return kst_day(now())
    return day if 2000 <= day.year <= 2100 else kst_day(now())


def _admin_page(
    request: Request,
    p: Principal,
    *,
    since: str | None = None,
    after: str | None = None,
    kits: str | None = None,
    certificate: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    day = _since(since)
    kit_filter = kits if kits in KIT_FILTERS else "open"
    number = (certificate or "").strip()[:64]
    data = _db(request).read(
        lambda c: _admin_data(c, p, day, (after or "")[:200] or None, kit_filter, number)
    )
    typed = ("issuer", "kind", "day", "time", "minutes", "place")
    shown = {k: (form or {}).get(k, "").strip()[:MAX_FIELD] for k in typed}
    if not shown["issuer"]:
        shown["issuer"] = p.issuer_id or ""
    shown["minutes"] = shown["minutes"] or "60"
    return pages.render(
        request,
        "admin/services.html",
        status=status,
        section="services",
        since=day.isoformat(),
        kit_filter=kit_filter,
        kit_filters=KIT_FILTERS,
        certificate=number,
        form=shown,
        key=money.new_key(),
        kind_names=KIND_NAMES,
        kit_status_names=KIT_STATUS_NAMES,
        kit_badges=KIT_BADGES,
        kit_actions=KIT_ACTIONS,
        kit_moves=service.KIT_MOVES,
        slot_minutes=SLOT_MINUTES,
        **data,
        **extra,
    )


@router.get("/admin/services")
def admin_services(
    request: Request,
    since: str | None = None,
    after: str | None = None,
    kits: str | None = None,
    certificate: str | None = None,
) -> Response:
    """가맹점 지원 서비스: 상담 시간 올리기와 예약 현황, QR 키트 발송, 확인서 조회."""
    p = pages.admin(request)
    return _admin_page(request, p, since=since, after=after, kits=kits, certificate=certificate)


def _starts_at(form: dict[str, str]) -> str:
    """The start typed as a day and a time, as an ISO time in KST."""
    day_text, time_text = _text(form, "day", 10), _text(form, "time", 5)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise errors.InvalidRequest("choose the day", field="day") from None
    if not TIME.match(time_text):
        raise errors.InvalidRequest("choose the time (HH:MM)", field="time")
    return f"{day.isoformat()}T{time_text}:00+09:00"


def _minutes(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        raise errors.InvalidRequest("minutes must be a number", field="minutes")
    return int(text)


@router.post("/admin/services/slots")
def publish_slot(request: Request, form: pages.Posted) -> Response:
    """Publish a slot: once per form (its idempotency key), audited."""
    p = pages.admin(request)
    try:
        issuer = _text(form, "issuer", 64) or None
        kind = _text(form, "kind", 20)
        starts_at = _starts_at(form)
        minutes = _minutes(_text(form, "minutes", 3))
        place = _text(form, "place", service.MAX_PLACE_LENGTH)
        fields = {"issuer": issuer, "kind": kind, "starts_at": starts_at, "minutes": minutes}
        money.once(
            request,
            p,
            form,
            "consult_slot.publish",
            {**fields, "place": place},
            lambda c, at: _slot_json(
                service.publish_slot_as(
                    c,
                    by=p,
                    issuer_id=issuer,
                    kind=kind,
                    starts_at=starts_at,
                    minutes=minutes,
                    place=place,
                    at=at,
                )
            ),
        )
    except errors.EumError as exc:
        context = pages.form_error(request, exc)
        if context["error"]["field"] == "starts_at":
            context["error"]["field"] = "day"
        return _admin_page(request, p, form=form, status=exc.status, **context)
    return pages.redirect(
        request,
        "/admin/services#slots",
        "{when} {kind}을 올렸습니다.",
        when=_when(starts_at, _lang(request)),
        kind=i18n.translate(KIND_NAMES.get(kind, kind), _lang(request)),
    )


def _slot_json(slot: service.Slot) -> dict[str, Any]:
    return {"id": slot.id, "issuer": slot.issuer_id, "starts_at": slot.starts_at.isoformat()}


def _admin_error(request: Request, p: Principal, exc: errors.EumError) -> Response:
    """Another area's slot or kit is refused as the API refuses it; other errors show on
    the page."""
    if isinstance(exc, (errors.Forbidden, errors.NotFound)):
        raise exc
    return _admin_page(request, p, status=exc.status, **pages.form_error(request, exc))


@router.post("/admin/services/slots/{slot_id}/delete")
def withdraw_slot(request: Request, form: pages.Posted, slot_id: str) -> Response:
    p = pages.admin(request)
    try:
        _db(request).run(
            lambda c: service.withdraw_slot_as(c, by=p, slot_id=slot_id[:64], at=now())
        )
    except errors.EumError as exc:
        return _admin_error(request, p, exc)
    return pages.redirect(request, "/admin/services#slots", "상담 시간을 내렸습니다.")


@router.post("/admin/services/slots/{slot_id}/cancel")
def cancel_slot_booking(request: Request, form: pages.Posted, slot_id: str) -> Response:
    p = pages.admin(request)
    try:
        _db(request).run(lambda c: service.cancel_booking(c, by=p, slot_id=slot_id[:64], at=now()))
    except errors.EumError as exc:
        return _admin_error(request, p, exc)
    return pages.redirect(request, "/admin/services#slots", "예약을 취소했습니다.")


@router.post("/admin/services/qr-kits/{kit_id}")
def move_qr_kit(request: Request, form: pages.Posted, kit_id: str) -> Response:
    p = pages.admin(request)
    status = form.get("status")
    try:
        _db(request).run(
            lambda c: service.move_qr_kit_as(c, by=p, kit_id=kit_id[:64], status=status, at=now())
        )
    except errors.EumError as exc:
        return _admin_error(request, p, exc)
    name = KIT_STATUS_NAMES.get(str(status), "")
    return pages.redirect(
        request,
        "/admin/services#qr-kits",
        "QR 키트 신청을 '{status}'(으)로 바꿨습니다.",
        status=i18n.translate(name, _lang(request)),
    )


# --- English ------------------------------------------------------------------------------

i18n.register(
    {
        # names
        "세무 상담": "Tax consultation",
        "법률 상담": "Legal consultation",
        "노무 상담": "Labour consultation",
        "신청됨": "Requested",
        "발송됨": "Shipped",
        "배송 완료": "Delivered",
        "취소됨": "Cancelled",
        "발송 처리": "Mark shipped",
        "배송 완료 처리": "Mark delivered",
        "신청 취소": "Cancel the request",
        "처리 중": "Open",
        # /phone-orders
        "전화 주문 가게": "Shops taking phone orders",
        "전화로 주문하고 가게에서 지역화폐 카드나 QR로 결제하세요.": (
            "Order by phone and pay with your local currency card or QR at the shop."
        ),
        "전화": "Phone",
        "영업시간": "Hours",
        "차림표": "Menu",
        "이 지역 카드로는 결제할 수 없는 가게입니다.": "Your card cannot pay at this shop.",
        "전화 주문을 받는 가게가 없습니다.": "No shops take phone orders here yet.",
        # /shop/phone-order
        "전화 주문 목록에 올리면 시민이 구·군과 업종으로 가게를 찾아 전화로 주문합니다.": (
            "Listed shops are found by district and category and take orders by phone."
        ),
        "지금 전화 주문 목록에 올라 있습니다.": "Your shop is listed for phone orders.",
        "전화 주문 목록에서 내려 있습니다. 다시 올리려면 저장하세요.": (
            "Your shop is not listed now. Save to list it again."
        ),
        "전화번호": "Phone number",
        "예: 032-123-4567 또는 010-1234-5678": "e.g. 032-123-4567 or 010-1234-5678",
        "예: 매일 11:00~21:00, 일요일 휴무": "e.g. daily 11:00-21:00, closed Sundays",
        "한 줄에 한 가지, {lines}줄까지 (한 줄 {line}자까지)": (
            "One item a line, up to {lines} lines ({line} characters a line)"
        ),
        "저장하기": "Save",
        "목록에서 내리기": "Remove from the list",
        "내리면 시민에게 보이지 않습니다. 입력한 정보는 남아 있습니다.": (
            "Citizens will not see your shop; what you typed is kept."
        ),
        "전화 주문 정보를 저장했습니다.": "Saved your phone-order listing.",
        "전화 주문 목록에서 내렸습니다.": "Removed your shop from the phone-order list.",
        # /shop/services
        "혜택플러스 가맹점 무료 서비스": "Free services for Benefit Plus shops",
        "혜택플러스 가맹점만 이용할 수 있습니다.": "Only Benefit Plus merchants can use this.",
        "무료 세무·법률·노무 상담, 신용보증 보증료 20% 감면 확인서, 무료 QR 키트는 "
        "혜택플러스 가맹점에 드리는 서비스입니다.": (
            "Free tax, legal and labour consultations, the certificate of the 20% "
            "credit-guarantee fee reduction and a free QR kit are for Benefit Plus shops."
        ),
        "혜택플러스 가입하기": "Join Benefit Plus",
        "무료 상담 예약": "Book a free consultation",
        "예약할 수 있는 상담 시간이 없습니다.": "No consultation slots are open.",
        "상담 내용 (선택)": "What about (optional)",
        "예약하기": "Book",
        "{minutes}분": "{minutes} min",
        "다음 시간": "Later slots",
        "내 상담 예약": "My consultations",
        "예약한 상담이 없습니다.": "No consultations booked.",
        "지난 상담": "Past",
        "예약 취소": "Cancel",
        "다가오는 상담은 {n}건까지 예약할 수 있습니다.": (
            "You can book up to {n} consultations ahead."
        ),
        "{when} 상담을 예약했습니다.": "Booked the consultation on {when}.",
        "상담 예약을 취소했습니다.": "Cancelled the consultation.",
        "보증료 감면 확인서": "Credit-guarantee fee certificate",
        "신용보증재단에 내면 보증료를 20% 감면받습니다. 발급할 때마다 번호가 새로 매겨집니다.": (
            "Hand it to the credit guarantee foundation for 20% off the guarantee fee. "
            "Each issue gets a new number."
        ),
        "확인서 발급": "Issue a certificate",
        "발급한 확인서": "Issued certificates",
        "확인서 번호": "Certificate number",
        "발급일": "Issued",
        "보기·인쇄": "View & print",
        "무료 QR 키트": "Free QR kit",
        "받을 주소": "Delivery address",
        "예: 인천광역시 계양구 계산동 123-4, 1층": "e.g. 123-4 Gyesan-dong, Gyeyang-gu, Incheon",
        "신청하기": "Request",
        "진행 중인 신청이 끝나면 다시 신청할 수 있습니다.": (
            "You can ask again once the open request is done."
        ),
        "주소": "Address",
        "QR 키트를 신청했습니다.": "Requested a QR kit.",
        # certificate
        "HTML 파일로 내려받기": "Download as HTML",
        "혜택 서비스로 돌아가기": "Back to benefit services",
        # /admin/services
        "상담 시간 올리기": "Publish a consultation slot",
        "상담 종류": "Kind",
        "시각": "Time",
        "상담 시간 (분)": "Length (minutes)",
        "장소": "Place",
        "예: 계양구청 3층 소상공인 상담실": "e.g. Gyeyang-gu Office, 3rd floor",
        "올리기": "Publish",
        "상담 시간과 예약": "Slots and bookings",
        "이 날부터": "From",
        "시작": "Starts",
        "예약 가맹점": "Booked by",
        "빈 시간": "Open",
        "내리기": "Withdraw",
        "올린 상담 시간이 없습니다.": "No slots from that day.",
        "{when} {kind}을 올렸습니다.": "Published a {kind} on {when}.",
        "상담 시간을 내렸습니다.": "Withdrew the slot.",
        "예약을 취소했습니다.": "Cancelled the booking.",
        "QR 키트 신청": "QR kit requests",
        "QR 키트 신청이 없습니다.": "No QR kit requests.",
        "더 있습니다. 처리한 뒤 다시 보세요.": "There are more; handle these and look again.",
        "QR 키트 신청을 '{status}'(으)로 바꿨습니다.": "Marked the QR kit request '{status}'.",
        "확인서 조회": "Verify a certificate",
        "조회": "Look up",
        "관할 지역에서 발급한 확인서가 아닙니다.": "No such certificate in your area.",
        "지금도 혜택플러스 가맹점입니다.": "Still a Benefit Plus merchant today.",
        "지금은 혜택플러스 가맹점이 아닙니다.": "No longer a Benefit Plus merchant.",
        "메모": "Note",
        "가장 가까운 시간부터": "Back to the soonest",
        "혜택플러스 해지됨": "Left Benefit Plus",
        "신청 가맹점": "Merchant",
    }
)
