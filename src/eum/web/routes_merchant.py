"""The merchant's console: sales, the payment QR code, Benefit Plus, coupons, refunds.

Every page is for a signed-in merchant and shows its own shop only (the principal's
``merchant_id``); the services decide what it may do. Refunds and coupons are issued
once per form (the form's idempotency key), as in the API.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, func, select

from eum import errors
from eum.auth.model import Principal
from eum.clock import kst_day, now
from eum.config import settings
from eum.merchants import service as merchants
from eum.merchants import views as merchant_views
from eum.merchants.store import coupon_claims, coupons
from eum.payments import qr
from eum.payments import service as payments
from eum.payments import views as payment_views
from eum.stats.store import merchant_days
from eum.web import i18n, money, pages, session

router = APIRouter(include_in_schema=False)

CHART_DAYS = 14  # the sales chart's recent days
PAYMENTS_PAGE = 20
COUPONS_SHOWN = 50  # newest coupons listed
MAX_COUPON_QUANTITY = 1_000_000
MAX_FIELD = 200  # longest text taken from a form field
QR_TTL_CHOICES = (300, 3_600, 86_400)  # seconds; 86,400 = merchants.MAX_QR_TTL_SECONDS
QR_TTL_NAMES = {300: "5분", 3_600: "1시간", 86_400: "24시간"}
RATE_HINT = "선할인율은 1%부터 7%까지 정할 수 있습니다."
PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?$")
STATUS_NAMES = {"pending": "승인 대기", "approved": "승인됨", "rejected": "반려됨"}
PAYMENT_STATUS = {"paid": "결제 완료", "partially_refunded": "부분 환불", "refunded": "환불 완료"}


_db = pages.database


_shop = pages.shop


def _text(form: dict[str, str], name: str) -> str:
    text = (form.get(name) or "").strip()
    if len(text) > MAX_FIELD:
        raise errors.InvalidRequest(f"{name} is too long", field=name)
    return text


# --- sales ------------------------------------------------------------------------------


def _daily(conn: Connection, merchant_id: str, today: date) -> list[tuple[str, int]]:
    """Net sales (charged - refunded) of the last ``CHART_DAYS`` KST days, oldest first,
    from the merchant's day counters (at most ``CHART_DAYS`` rows)."""
    start = today - timedelta(days=CHART_DAYS - 1)
    day = merchant_days.c
    rows = conn.execute(
        select(day.day, day.charged, day.refunded).where(
            day.merchant_id == merchant_id,
            day.day >= start.isoformat(),
            day.day <= today.isoformat(),
        )
    )
    net = {r.day: int(r.charged) - int(r.refunded) for r in rows}
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    return [(f"{d.month}/{d.day}", net.get(d.isoformat(), 0)) for d in days]


@router.get("/shop")
def shop(request: Request) -> Response:
    """우리 가게: 상태와 등급, 오늘·이번 달 매출·환불·수수료·수수료 지원, 정산."""
    p, merchant_id = _shop(request)
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        return {
            "merchant": merchant_views.one(conn, p, merchant_id),
            "sales": merchant_views.sales(conn, p, merchant_id, at),
            "daily": _daily(conn, merchant_id, kst_day(at)),
        }

    data = _db(request).read(read)
    return pages.render(
        request, "merchant/shop.html", status_names=STATUS_NAMES, won_fmt=pages.won, **data
    )


# --- QR code ----------------------------------------------------------------------------


def _qr_request(amount_text: str | None, ttl_text: str | None) -> tuple[int | None, int]:
    """The fixed amount (none: the customer types it) and validity asked for."""
    amount = pages.amount(amount_text, "amount") if (amount_text or "").strip() else None
    ttl = (ttl_text or "").strip()
    if not ttl:
        return amount, settings().qr_ttl_seconds
    if not (ttl.isascii() and ttl.isdigit()) or len(ttl) > 6:
        raise errors.InvalidRequest("ttl_seconds must be a number of seconds", field="ttl_seconds")
    return amount, int(ttl)


def _qr_code(
    request: Request, p: Principal, merchant_id: str, amount: int | None, ttl: int
) -> dict[str, Any]:
    """A signed payload for this shop (as the API's QR route makes it) and its pay link."""
    cfg = settings()
    code: dict[str, Any] = _db(request).read(
        lambda c: merchants.qr_code(
            c,
            by=p,
            merchant_id=merchant_id,
            amount_krw=amount,
            at=now(),
            key=cfg.signing_key(),
            ttl_seconds=ttl,
        )
    )
    # The printed code holds the absolute pay link: a phone camera opens the pay page.
    return {**code, "pay_link": str(request.base_url).rstrip("/") + code["pay_url"]}


def _svg(text: str, title: str) -> str:
    """The QR code of ``text`` as inline SVG that scales to its box (segno, no network)."""
    import segno

    svg: str = segno.make(text, error="m").svg_inline(
        scale=8, border=4, light="#fff", svgclass="qr", omitsize=True, title=title
    )
    return svg.replace("<svg ", '<svg role="img" ', 1)


@router.get("/shop/qr")
def shop_qr(
    request: Request, amount: str | None = None, ttl_seconds: str | None = None
) -> Response:
    """결제 QR 코드: 금액 고정(선택)과 유효 시간, 인쇄용."""
    p, merchant_id = _shop(request)
    merchant = _db(request).read(lambda c: merchant_views.one(c, p, merchant_id))
    asked = {"amount": (amount or "")[:MAX_FIELD], "ttl_seconds": (ttl_seconds or "")[:MAX_FIELD]}
    context: dict[str, Any] = {
        "merchant": merchant,
        "form": asked,
        "ttl_choices": [(str(s), QR_TTL_NAMES[s]) for s in QR_TTL_CHOICES],
        "code": None,
    }
    status = 200
    try:
        fixed, ttl = _qr_request(amount, ttl_seconds)
        code = _qr_code(request, p, merchant_id, fixed, ttl)
        lang = session.visitor(request).lang
        title = i18n.translate("{name} 결제 QR 코드", lang, name=merchant["name"])
        context["code"] = {**code, "svg": _svg(code["pay_link"], title)}
        context["form"] = {"amount": "" if fixed is None else f"{fixed:,}", "ttl_seconds": str(ttl)}
    except errors.EumError as exc:
        status = exc.status
        context.update(pages.form_error(request, exc))
    return pages.render(request, "merchant/qr.html", status=status, **context)


@router.get("/shop/qr.svg")
def shop_qr_image(
    request: Request, amount: str | None = None, ttl_seconds: str | None = None
) -> Response:
    """The shop's QR code alone, as an SVG file (to download or print elsewhere)."""
    p, merchant_id = _shop(request)
    fixed, ttl = _qr_request(amount, ttl_seconds)
    code = _qr_code(request, p, merchant_id, fixed, ttl)
    return Response(
        qr.image(code["pay_link"], "svg"),
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="qr-{merchant_id}.svg"',
        },
    )


# --- Benefit Plus -----------------------------------------------------------------------


def _rate_bps(text: str) -> int:
    """A discount rate typed as a percentage ('5', '5%', '2.5') in basis points."""
    found = PERCENT.match(text.replace("%", "").replace(" ", ""))
    if not found:
        raise errors.InvalidRequest("the rate must be a percentage such as 5", field="rate")
    whole, fraction = found.group(1), found.group(2) or ""
    return int(whole) * 100 + int(fraction.ljust(2, "0") or "0")


def _benefit_page(
    request: Request,
    p: Principal,
    merchant_id: str,
    *,
    rate: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    merchant = _db(request).read(lambda c: merchant_views.one(c, p, merchant_id))
    current = merchant["discount_bps"] if merchant["tier"] == "benefit_plus" else 0
    if rate is None:
        rate = pages.percent(current).rstrip("%") if current else ""
    context: dict[str, Any] = {"merchant": merchant, "form": {"rate": rate}, **extra}
    return pages.render(request, "merchant/benefit_plus.html", status=status, **context)


@router.get("/shop/benefit-plus")
def benefit_plus_page(request: Request) -> Response:
    """혜택플러스: 가입, 선할인율 변경(1~7%), 해지."""
    p, merchant_id = _shop(request)
    return _benefit_page(request, p, merchant_id)


@router.post("/shop/benefit-plus")
def benefit_plus(request: Request, form: pages.Posted) -> Response:
    p, merchant_id = _shop(request)
    db = _db(request)
    if form.get("action") not in ("join", "leave"):
        raise errors.InvalidRequest("action must be join or leave", field="action")
    if form.get("action") == "leave":
        db.run(lambda c: merchants.leave_benefit_plus(c, by=p, merchant_id=merchant_id, at=now()))
        return pages.redirect(request, "/shop/benefit-plus", "혜택플러스를 해지했습니다.")
    rate = _text(form, "rate")
    try:
        bps = _rate_bps(rate)
        db.run(
            lambda c: merchants.join_benefit_plus(
                c, by=p, merchant_id=merchant_id, discount_bps=bps, at=now()
            )
        )
    except errors.EumError as exc:
        context = pages.form_error(request, exc)
        if context["error"]["field"] in ("discount_bps", "rate"):
            context["error"]["field"] = "rate"
            hint = i18n.translate(RATE_HINT, session.visitor(request).lang)
            context["error"]["text"] = f"{context['error']['text']} {hint}"
        return _benefit_page(request, p, merchant_id, rate=rate, status=exc.status, **context)
    return pages.redirect(
        request,
        "/shop/benefit-plus",
        "혜택플러스 선할인율을 {rate}로 정했습니다.",
        rate=pages.percent(bps),
    )


# --- coupons ----------------------------------------------------------------------------


def _coupons(conn: Connection, merchant_id: str, today: date) -> list[dict[str, Any]]:
    """The shop's newest coupons with how many were claimed and how many used."""
    rows = list(
        conn.execute(
            select(coupons)
            .where(coupons.c.merchant_id == merchant_id)
            .order_by(coupons.c.created_at.desc(), coupons.c.id.desc())
            .limit(COUPONS_SHOWN)
        )
    )
    used: dict[str, int] = {}
    if rows:
        used = {
            r.coupon_id: int(r.used)
            for r in conn.execute(
                select(coupon_claims.c.coupon_id, func.count().label("used"))
                .where(
                    coupon_claims.c.coupon_id.in_([r.id for r in rows]),
                    coupon_claims.c.used_payment_id.is_not(None),
                )
                .group_by(coupon_claims.c.coupon_id)
            )
        }
    out = []
    for r in rows:
        if r.valid_until is not None and today > r.valid_until:
            state = "ended"
        elif r.valid_from is not None and today < r.valid_from:
            state = "upcoming"
        elif r.quantity is not None and r.claimed >= r.quantity:
            state = "sold_out"
        else:
            state = "open"
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "value": r.value,
                "min_spend": r.min_spend,
                "quantity": r.quantity,
                "claimed": r.claimed,
                "remaining": None if r.quantity is None else max(0, r.quantity - r.claimed),
                "used": used.get(r.id, 0),
                "from": r.valid_from,
                "until": r.valid_until,
                "state": state,
            }
        )
    return out


def _coupons_page(
    request: Request,
    merchant_id: str,
    *,
    form: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    listed = _db(request).read(lambda c: _coupons(c, merchant_id, kst_day(now())))
    typed = ("name", "value", "min_spend", "quantity", "from", "until")
    shown = {k: (form or {}).get(k, "").strip()[:MAX_FIELD] for k in typed}
    return pages.render(
        request,
        "merchant/coupons.html",
        status=status,
        coupons=listed,
        shown_max=COUPONS_SHOWN,
        form=shown,
        key=money.new_key(),
        **extra,
    )


def _quantity(text: str) -> int | None:
    if not text:
        return None
    clean = text.replace(",", "").replace("장", "").strip()
    if not (clean.isascii() and clean.isdigit()) or not 1 <= int(clean) <= MAX_COUPON_QUANTITY:
        raise errors.InvalidRequest("quantity must be 1..1,000,000", field="quantity")
    return int(clean)


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    """A service result with its dates as text (results are stored under their key)."""
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in result.items()}


@router.get("/shop/coupons")
def coupons_page(request: Request) -> Response:
    """쿠폰: 발행(할인액, 최소 결제 금액, 수량, 기간)과 받은·쓴 수."""
    _, merchant_id = _shop(request)
    return _coupons_page(request, merchant_id)


@router.post("/shop/coupons")
def issue_coupon(request: Request, form: pages.Posted) -> Response:
    p, merchant_id = _shop(request)
    try:
        value = pages.amount(form.get("value"), "value")
        min_spend_text = _text(form, "min_spend")
        min_spend = pages.amount(min_spend_text, "min_spend") if min_spend_text else 0
        quantity = _quantity(_text(form, "quantity"))
        name = _text(form, "name") or None
        start, end = _text(form, "from") or None, _text(form, "until") or None
        fields = {
            "merchant": merchant_id,
            "name": name,
            "value": value,
            "min_spend": min_spend,
            "quantity": quantity,
            "from": start,
            "until": end,
        }
        issued = money.once(
            request,
            p,
            form,
            "coupon",
            fields,
            lambda c, at: _jsonable(
                merchants.issue_coupon(
                    c,
                    by=p,
                    merchant_id=merchant_id,
                    value_krw=value,
                    min_spend_krw=min_spend,
                    quantity=quantity,
                    valid_from=start,
                    valid_until=end,
                    name=name,
                    at=at,
                )
            ),
        )
    except errors.EumError as exc:
        return _coupons_page(
            request, merchant_id, form=form, status=exc.status, **pages.form_error(request, exc)
        )
    return pages.redirect(
        request,
        "/shop/coupons",
        "{value} 할인 쿠폰을 발행했습니다.",
        value=pages.won(issued["value"]),
    )


# --- payments and refunds ---------------------------------------------------------------


def _payments_page(
    request: Request, p: Principal, after: str | None, *, status: int = 200, **extra: Any
) -> Response:
    cursor = after or None
    items, last = _db(request).read(
        lambda c: payment_views.visible(c, p, PAYMENTS_PAGE, cursor, p.merchant_id)
    )
    return pages.render(
        request,
        "merchant/payments.html",
        status=status,
        payments=items,
        keys={item["id"]: money.new_key() for item in items},
        after=cursor or "",
        next_after=last,
        payment_status=PAYMENT_STATUS,
        **extra,
    )


@router.get("/shop/payments")
def payments_page(request: Request, after: str | None = None) -> Response:
    """결제 내역(최신순)과 환불(전액 또는 일부)."""
    p, _ = _shop(request)
    return _payments_page(request, p, after)


@router.post("/shop/payments/{payment_id}/refund")
def refund(request: Request, form: pages.Posted, payment_id: str) -> Response:
    p, _ = _shop(request)
    after = _text(form, "after")
    back = "/shop/payments" + (f"?after={after}" if after.isdigit() else "")
    # Only the shop's own payment (others' look missing), exactly as the API checks it.
    _db(request).read(lambda c: payment_views.check_refund_allowed(c, p, payment_id))
    try:
        amount = pages.amount(form.get("amount"), "amount")
        done = money.once(
            request,
            p,
            form,
            "refund",
            {"payment": payment_id, "amount": amount},
            lambda c, at: payments.refund(c, payment_id=payment_id, amount_krw=amount, at=at),
        )
    except errors.EumError as exc:
        return _payments_page(
            request,
            p,
            after if after.isdigit() else None,
            status=exc.status,
            failed={"payment": payment_id, "amount": _text(form, "amount")},
            **pages.form_error(request, exc),
        )
    message = (
        "이미 처리된 환불입니다: {amount}." if done.get("replayed") else "{amount}을 환불했습니다."
    )
    return pages.redirect(request, f"{back}#p-{payment_id}", message, amount=pages.won(amount))


i18n.register(
    {
        # the console's menu
        "가게 메뉴": "Shop menu",
        "매출": "Sales",
        "QR 코드": "QR code",
        "쿠폰": "Coupons",
        "결제·환불": "Payments & refunds",
        # /shop
        "승인 대기": "Awaiting approval",
        "승인됨": "Approved",
        "반려됨": "Rejected",
        "결제 받는 중": "Taking payments",
        "결제 중지": "Not taking payments",
        "등급": "Tier",
        "일반 가맹점": "General",
        "선할인 {rate}": "{rate} discount",
        "관할 구·군의 승인을 기다리고 있습니다. 승인되면 결제를 받을 수 있습니다.": (
            "Waiting for the district's approval; you can take payments once approved."
        ),
        "등록 신청이 반려되었습니다. 관할 구·군에 문의해 주세요.": (
            "The registration was rejected. Please contact your district office."
        ),
        "오늘": "Today",
        "이번 달": "This month",
        "매출액": "Sales",
        "정가 합계 {amount}": "List price {amount}",
        "환불액": "Refunds",
        "수수료": "Fees",
        "수수료 지원": "Fee support",
        "정산 예정액": "Net to receive",
        "결제액 − 환불 − 수수료 + 수수료 지원": "sales − refunds − fees + fee support",
        "정산": "Settlement",
        "정산 완료 (누적)": "Settled (to date)",
        "미정산": "Not yet settled",
        "다음 정산에서 차감됩니다.": "Deducted from the next settlement.",
        "최근 14일 매출 (환불 차감)": "Last 14 days' sales (net of refunds)",
        "최근 14일 동안 결제가 없습니다.": "No payments in the last 14 days.",
        # /shop/qr
        "결제 QR 코드": "Payment QR code",
        "{name} 결제 QR 코드": "Payment QR code of {name}",
        "금액 고정": "Fixed amount",
        "비우면 손님이 금액을 입력합니다.": "Leave empty to let the customer enter it.",
        "유효 시간": "Valid for",
        "5분": "5 minutes",
        "1시간": "1 hour",
        "24시간": "24 hours",
        "QR 만들기": "Make QR code",
        "인쇄": "Print",
        "SVG 파일": "SVG file",
        "결제 금액": "Amount",
        "손님이 입력": "Entered by the customer",
        "{time}까지 유효": "Valid until {time}",
        "휴대폰 카메라로 찍으면 결제 화면이 열립니다.": (
            "Scan with a phone camera to open the payment page."
        ),
        "결제 링크": "Payment link",
        # /shop/benefit-plus
        "혜택플러스에 가입하면 손님이 결제할 때 정한 비율만큼 바로 할인받고, 가맹점 찾기에 "
        "혜택플러스 가게로 표시됩니다.": (
            "With Benefit Plus your customers get your discount the moment they pay, and the "
            "shop finder shows your shop as Benefit Plus."
        ),
        "지금 등급": "Current tier",
        "선할인율 (%)": "Discount rate (%)",
        RATE_HINT: "The discount rate can be from 1% to 7%.",
        "1~7%, 예: 5 또는 2.5": "1 to 7%, e.g. 5 or 2.5",
        "가입하기 / 할인율 바꾸기": "Join / change the rate",
        "혜택플러스 가입": "Join Benefit Plus",
        "할인율 바꾸기": "Change the rate",
        "혜택플러스 해지": "Leave Benefit Plus",
        "해지하면 다음 결제부터 선할인이 없습니다.": (
            "After leaving, payments get no discount from the next one on."
        ),
        "혜택플러스를 해지했습니다.": "You left Benefit Plus.",
        "혜택플러스 선할인율을 {rate}로 정했습니다.": "Benefit Plus discount set to {rate}.",
        "10,000원 결제 시 {off} 할인": "{off} off a 10,000 KRW payment",
        # /shop/coupons
        "쿠폰 발행": "Issue a coupon",
        "쿠폰 이름": "Coupon name",
        "선택": "optional",
        "할인액": "Discount",
        "원, 예: 1,000": "won, e.g. 1,000",
        "최소 결제 금액": "Minimum spend",
        "원, 비우면 제한 없음": "won; empty for none",
        "수량": "Quantity",
        "장, 비우면 무제한": "coupons; empty for unlimited",
        "사용 시작일": "Valid from",
        "사용 종료일": "Valid until",
        "발행하기": "Issue",
        "발행한 쿠폰": "Issued coupons",
        "발행한 쿠폰이 없습니다.": "No coupons issued yet.",
        "{value} 할인 쿠폰을 발행했습니다.": "Issued a coupon for {value} off.",
        "{value} 할인": "{value} off",
        "{amount} 이상 결제 시": "on {amount} or more",
        "받은 수": "Claimed",
        "사용한 수": "Used",
        "남은 수량": "Left",
        "무제한": "Unlimited",
        "기간": "Period",
        "제한 없음": "No limit",
        "진행 중": "Open",
        "시작 전": "Not started",
        "종료": "Ended",
        "소진": "Sold out",
        "최근 {n}개까지 보입니다.": "Shows the newest {n}.",
        # /shop/payments
        "결제 번호": "Payment no.",
        "결제 수단": "Channels",
        "정가": "List price",
        "할인": "Discount",
        "쿠폰 할인": "Coupon",
        "받은 금액": "Received",
        "환불한 금액": "Refunded",
        "결제 완료": "Paid",
        "부분 환불": "Partly refunded",
        "환불 완료": "Refunded",
        "환불 금액": "Refund amount",
        "전액이 채워져 있습니다. 일부만 환불하려면 금액을 바꾸세요.": (
            "Filled with the full amount; change it for a partial refund."
        ),
        "환불하기": "Refund",
        "결제가 없습니다.": "No payments yet.",
        "처음으로 돌아가기": "Back to the newest",
        "{amount}을 환불했습니다.": "Refunded {amount}.",
        "이미 처리된 환불입니다: {amount}.": "This refund was already made: {amount}.",
    }
)
