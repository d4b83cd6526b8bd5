"""The citizen's pages (phone first): wallet, charge and withdraw, paying a shop (by its
code or the merchant's QR link) with a confirmation that shows the discount, coupon and
expected cashback before any money moves, receipts, history, coupons, donations and
user groups.

Every money form carries an idempotency key drawn with the page (``money.new_key``), so
a double tap or a resent form books once and shows the first result. A form shown again
after an error gets a fresh key: the error is stored under the old one, and a corrected
amount under the old key would be an ``idempotency_conflict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from eum import errors
from eum.auth.model import Principal
from eum.clock import now
from eum.community import service as community
from eum.community import views as community_views
from eum.config import settings
from eum.merchants import service as merchants
from eum.merchants import views as merchant_views
from eum.payments import qr, quote
from eum.payments import service as payments
from eum.payments import views as payment_views
from eum.policy import service as policy
from eum.wallets import service as wallets
from eum.wallets import views as wallet_views
from eum.web import i18n, money, pages

router = APIRouter(include_in_schema=False)

HISTORY_PAGE = 20
COUPON_PAGE = 20
MAX_CODE_LENGTH = 64  # a shop code, group id or campaign id typed or posted in a form
MAX_CURSOR_LENGTH = 20
STATUSES = {"paid": "결제 완료", "partially_refunded": "부분 환불", "refunded": "환불됨"}


_db = pages.database


_member = pages.member


def _code(value: str | None) -> str:
    return (value or "").strip()[:MAX_CODE_LENGTH]


def _rule_names(conn: Connection, me: Principal) -> dict[str, str]:
    """Names of the cashback rules of this member's card (the rule id when unnamed)."""
    rules = wallet_views.overview(conn, me.member_id, now())["rules"]
    return {r["rule"]: r["name"] or r["rule"] for r in rules}


# --- wallet, charge, withdraw ------------------------------------------------------------


@router.get("/wallet")
def wallet(request: Request) -> Response:
    """잔액 (충전금·캐시백), 이번 달 규칙별 캐시백과 남은 한도."""
    me = _member(request)
    data = _db(request).read(lambda c: wallet_views.overview(c, me.member_id, now()))
    return pages.render(request, "citizen/wallet.html", wallet=data)


def _move_page(
    request: Request, me: Principal, what: str, *, status: int = 200, **context: Any
) -> Response:
    """The charge or withdrawal form, with the wallet and the limits that apply."""

    def read(conn: Connection) -> dict[str, Any]:
        member = wallets.find_member(conn, me.member_id)
        platform = policy.catalog(conn).platform
        return {
            "wallet": wallet_views.overview(conn, member.id, now()),
            "member": member,
            "limits": platform.limits_for(member.card_kind),
            "withdraw_min_used_bps": platform.withdraw_min_used_bps,
        }

    context.setdefault("form", {})
    return pages.render(
        request,
        f"citizen/{what}.html",
        status=status,
        key=money.new_key(),
        **_db(request).read(read),
        **context,
    )


def _move(request: Request, form: dict[str, str], what: str, done: str) -> Response:
    """Charge or withdraw the posted amount once, then back to the wallet."""
    me = _member(request)
    action = wallets.charge if what == "charge" else wallets.withdraw
    member_id = me.member_id
    try:
        amount = pages.amount(form.get("amount"))
        money.once(
            request,
            me,
            form,
            what,
            {"amount": amount},
            lambda c, at: action(c, member_id=member_id, amount_krw=amount, at=at),
        )
    except errors.EumError as exc:
        return _move_page(
            request,
            me,
            what,
            status=exc.status,
            form={"amount": form.get("amount", "")},
            **pages.form_error(request, exc),
        )
    return pages.redirect(request, "/wallet", done, amount=pages.won(amount))


@router.get("/wallet/charge")
def charge_page(request: Request) -> Response:
    return _move_page(request, _member(request), "charge")


@router.post("/wallet/charge")
def charge(request: Request, form: pages.Posted) -> Response:
    """은행 계좌에서 충전 (월 충전 한도, 보유 한도)."""
    return _move(request, form, "charge", "{amount}을 충전했습니다.")


@router.get("/wallet/withdraw")
def withdraw_page(request: Request) -> Response:
    return _move_page(request, _member(request), "withdraw")


@router.post("/wallet/withdraw")
def withdraw(request: Request, form: pages.Posted) -> Response:
    """충전금을 은행 계좌로 환불 (충전한 금액의 60% 이상을 쓴 뒤)."""
    return _move(request, form, "withdraw", "{amount}을 계좌로 환불했습니다.")


# --- paying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """What the member asked to pay: amount, channel, coupon and the QR it came from."""

    amount_krw: int
    channel: str
    coupon_id: str | None
    qr: str | None


def _claim(merchant_id: str | None, payload: str | None) -> qr.QrClaim | None:
    """The verified claim of a posted QR payload (None without one); a payload for
    another shop than the page's is ``qr_invalid``."""
    if not payload:
        return None
    claim = qr.verify(settings().signing_key(), payload, now())
    if merchant_id is not None and claim.merchant_id != merchant_id:
        raise errors.QrInvalid("the QR payload names another merchant", field="qr")
    return claim


def _order(form: dict[str, str], claim: qr.QrClaim | None) -> _Order:
    """The amount typed, or the one fixed in the QR (another typed amount is refused)."""
    coupon = _code(form.get("coupon")) or None
    if claim is None:
        return _Order(pages.amount(form.get("amount")), "card", coupon, None)
    amount = claim.amount_krw
    if amount is None:
        amount = pages.amount(form.get("amount"))
    elif form.get("amount") and pages.amount(form.get("amount")) != amount:
        raise errors.QrAmountMismatch(field="amount")
    return _Order(amount, "qr", coupon, form.get("qr"))


def _start_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    context.setdefault("code", "")
    return pages.render(request, "citizen/pay_start.html", status=status, **context)


@router.get("/pay")
def pay_start(
    request: Request,
    payload: str | None = Query(None, alias="qr", max_length=qr.MAX_PAYLOAD_LENGTH),
    merchant: str | None = Query(None, max_length=200),
) -> Response:
    """가맹점 코드를 입력하거나 가맹점의 QR 링크로 결제 시작."""
    me = _member(request)
    if payload:
        try:
            claim = _claim(None, payload)
        except errors.EumError as exc:
            return _start_page(request, status=exc.status, **pages.form_error(request, exc))
        assert claim is not None
        return _amount_page(request, me, claim.merchant_id, claim=claim, payload=payload)
    code = _code(merchant)
    if not code:
        return _start_page(request)
    try:
        _db(request).read(lambda c: merchant_views.one(c, me, code))
    except errors.EumError as exc:
        return _start_page(request, status=exc.status, code=code, **pages.form_error(request, exc))
    return pages.redirect(request, f"/pay/{urlquote(code, safe='')}")


def _amount_page(
    request: Request,
    me: Principal,
    merchant_id: str,
    *,
    claim: qr.QrClaim | None = None,
    payload: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    **context: Any,
) -> Response:
    """The amount (and coupon) form for a shop; a QR's fixed amount is shown locked."""
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        shop = merchant_views.one(conn, me, merchant_id)
        member = wallets.find_member(conn, me.member_id)
        rates = quote.shop_rates(
            conn,
            member,
            [merchants.find_merchant(conn, shop["id"])],
            at,
            channel="qr" if claim else "card",
        )
        coupons = merchant_views.claimed_coupons(
            conn, member.id, at, merchant_id=shop["id"], unused_only=True
        )
        return {
            "shop": shop,
            "rate": rates.get(shop["id"]),
            "coupons": [c for c in coupons if c["usable"]],
            "wallet": wallets.wallet(conn, member.id),
        }

    return pages.render(
        request,
        "citizen/pay_amount.html",
        status=status,
        qr=payload if claim else None,
        fixed=claim.amount_krw if claim else None,
        form=form or {},
        **_db(request).read(read),
        **context,
    )


@router.get("/pay/{merchant_id}")
def pay_amount(request: Request, merchant_id: str) -> Response:
    """결제 금액과 쿠폰 입력."""
    return _amount_page(request, _member(request), _code(merchant_id))


def _posted_order(
    request: Request, form: dict[str, str], merchant_id: str
) -> tuple[Principal, qr.QrClaim | None]:
    me = _member(request)
    return me, _claim(merchant_id, form.get("qr"))


def _qr_refused(request: Request, exc: errors.EumError) -> Response:
    """A QR that fails verification on a later step: scan again."""
    return _start_page(request, status=exc.status, **pages.form_error(request, exc))


@router.post("/pay/{merchant_id}/confirm")
def pay_confirm(request: Request, form: pages.Posted, merchant_id: str) -> Response:
    """결제 전 확인: 선할인, 쿠폰, 지갑에서 나갈 금액, 예상 캐시백 (아무것도 기록하지 않음)."""
    merchant_id = _code(merchant_id)
    try:
        me, claim = _posted_order(request, form, merchant_id)
    except (errors.QrInvalid, errors.QrExpired) as exc:
        return _qr_refused(request, exc)
    try:
        order = _order(form, claim)

        def read(conn: Connection) -> dict[str, Any]:
            result = quote.quote(
                conn,
                member_id=me.member_id or "",
                merchant_id=merchant_id,
                amount_krw=order.amount_krw,
                at=now(),
                channel=order.channel,
                coupon_id=order.coupon_id,
            )
            coupon = None
            if order.coupon_id:
                coupon = merchants.find_coupon(conn, order.coupon_id)
            return {
                "quote": result,
                "shop": merchant_views.one(conn, me, merchant_id),
                "rule_names": _rule_names(conn, me),
                "coupon": coupon,
                "wallet": wallets.wallet(conn, me.member_id or ""),
            }

        seen = _db(request).read(read)
    except errors.EumError as exc:
        return _amount_page(
            request,
            me,
            merchant_id,
            claim=claim,
            payload=form.get("qr"),
            form=form,
            status=exc.status,
            **pages.form_error(request, exc),
        )
    return pages.render(
        request, "citizen/pay_confirm.html", order=order, key=money.new_key(), **seen
    )


@router.post("/pay/{merchant_id}")
def pay(request: Request, form: pages.Posted, merchant_id: str) -> Response:
    """결제 (확인 화면의 멱등 키로 한 번만), 그다음 영수증."""
    merchant_id = _code(merchant_id)
    try:
        me, claim = _posted_order(request, form, merchant_id)
    except (errors.QrInvalid, errors.QrExpired) as exc:
        return _qr_refused(request, exc)
    try:
        order = _order(form, claim)
        result = money.pay(
            request,
            me,
            form,
            merchant_id=merchant_id,
            amount_krw=order.amount_krw,
            channel=order.channel,
            coupon_id=order.coupon_id,
        )
    except errors.EumError as exc:
        return _amount_page(
            request,
            me,
            merchant_id,
            claim=claim,
            payload=form.get("qr"),
            form=form,
            status=exc.status,
            **pages.form_error(request, exc),
        )
    done = "이미 처리된 결제입니다." if result.get("replayed") else "결제했습니다."
    return pages.redirect(request, f"/payments/{result['payment_id']}", done)


@router.get("/payments/{payment_id}")
def receipt(request: Request, payment_id: str) -> Response:
    """영수증: 기록된 결제 (선할인, 쿠폰, 결제액, 캐시백, 환불)."""
    me = _member(request)
    payment_id = payment_id[:MAX_CURSOR_LENGTH]

    def read(conn: Connection) -> dict[str, Any]:
        paid = payment_views.one(conn, me, payment_id)
        return {
            "payment": paid,
            "shop_name": merchant_views.names_of(conn, [paid["merchant"]]).get(paid["merchant"]),
            "rule_names": _rule_names(conn, me),
        }

    return pages.render(
        request, "citizen/receipt.html", statuses=STATUSES, **_db(request).read(read)
    )


# --- history -----------------------------------------------------------------------------


@router.get("/history")
def history(request: Request, cursor: str | None = Query(None, max_length=200)) -> Response:
    """충전·결제(환불 포함)·출금·기부·모임 적립 내역, 최근 순."""
    me = _member(request)
    after = (cursor or "")[:MAX_CURSOR_LENGTH] or None

    def read(conn: Connection) -> dict[str, Any]:
        items, nxt = wallet_views.history(conn, me.member_id, HISTORY_PAGE, after)
        shops = [i["merchant_id"] for i in items if i.get("merchant_id")]
        return {
            "items": items,
            "next_cursor": nxt,
            "shop_names": merchant_views.names_of(conn, shops),
            "campaign_names": {c["id"]: c["name"] for c in community_views.campaign_list(conn, me)},
            "group_names": {
                g["id"]: g["name"] for g in community_views.my_groups(conn, me.member_id)
            },
        }

    return pages.render(
        request,
        "citizen/history.html",
        statuses=STATUSES,
        first_page=after is None,
        **_db(request).read(read),
    )


# --- coupons -----------------------------------------------------------------------------


def _coupons_page(
    request: Request, me: Principal, merchant: str, *, status: int = 200, **context: Any
) -> Response:
    """My coupons, and the coupons a shop gives today (when a shop code was typed)."""
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        mine = merchant_views.claimed_coupons(conn, me.member_id, at)
        out: dict[str, Any] = {"mine": mine, "claimed": {c["id"] for c in mine}}
        if merchant:
            try:
                out["shop"] = merchant_views.one(conn, me, merchant)
                out["offers"], _ = merchant_views.coupons_of(
                    conn, me, merchant, at, COUPON_PAGE, None
                )
            except errors.UnknownMerchant as exc:
                out.update(pages.form_error(request, exc))
        return out

    found = _db(request).read(read)
    if "error" in found and "error" not in context:
        status = errors.UnknownMerchant.status
    return pages.render(
        request, "citizen/coupons.html", status=status, merchant=merchant, **{**found, **context}
    )


@router.get("/coupons")
def coupons(request: Request, merchant: str | None = Query(None, max_length=200)) -> Response:
    """내 쿠폰, 그리고 가게 코드로 그 가게의 쿠폰 받기."""
    return _coupons_page(request, _member(request), _code(merchant))


@router.post("/coupons/{coupon_id}/claim")
def claim_coupon(request: Request, form: pages.Posted, coupon_id: str) -> Response:
    """쿠폰 받기 (한 사람에 한 장)."""
    me = _member(request)
    shop = _code(form.get("merchant"))
    coupon_id = _code(coupon_id)
    try:
        _db(request).run(
            lambda c: merchants.claim_coupon(
                c, member_id=me.member_id, coupon_id=coupon_id, at=now()
            )
        )
    except errors.EumError as exc:
        return _coupons_page(request, me, shop, status=exc.status, **pages.form_error(request, exc))
    back = f"/coupons?merchant={urlquote(shop, safe='')}" if shop else "/coupons"
    return pages.redirect(request, back, "쿠폰을 받았습니다. 결제할 때 고르세요.")


# --- donations ---------------------------------------------------------------------------


def _donate_page(request: Request, me: Principal, *, status: int = 200, **context: Any) -> Response:
    def read(conn: Connection) -> dict[str, Any]:
        return {
            "campaigns": community_views.campaign_list(conn, me),
            "wallet": wallets.wallet(conn, me.member_id or ""),
        }

    context.setdefault("form", {})
    return pages.render(
        request,
        "citizen/donate.html",
        status=status,
        key=money.new_key(),
        **_db(request).read(read),
        **context,
    )


@router.get("/donate")
def donate_page(request: Request, campaign: str | None = Query(None, max_length=200)) -> Response:
    """캐시백으로 기부 캠페인에 기부."""
    return _donate_page(request, _member(request), form={"campaign": _code(campaign)})


@router.post("/donate")
def donate(request: Request, form: pages.Posted) -> Response:
    me = _member(request)
    campaign = _code(form.get("campaign"))
    member_id = me.member_id
    try:
        amount = pages.amount(form.get("amount"))
        money.once(
            request,
            me,
            form,
            "donate",
            {"campaign": campaign, "amount": amount},
            lambda c, at: community.donate(
                c, member_id=member_id, campaign_id=campaign, amount_krw=amount, at=at
            ),
        )
    except errors.EumError as exc:
        return _donate_page(
            request,
            me,
            status=exc.status,
            form={"campaign": campaign, "amount": form.get("amount", "")},
            **pages.form_error(request, exc),
        )
    return pages.redirect(
        request, "/donate", "캐시백 {amount}을 기부했습니다. 고맙습니다.", amount=pages.won(amount)
    )


# --- user groups -------------------------------------------------------------------------


def _groups_page(request: Request, me: Principal, *, status: int = 200, **context: Any) -> Response:
    mine = _db(request).read(lambda c: community_views.my_groups(c, me.member_id))
    context.setdefault("form", {})
    return pages.render(request, "citizen/groups.html", status=status, groups=mine, **context)


@router.get("/groups")
def groups(request: Request) -> Response:
    """내 모임, 모임 만들기, 모임 번호로 가입."""
    return _groups_page(request, _member(request))


@router.post("/groups")
def create_group(request: Request, form: pages.Posted) -> Response:
    me = _member(request)
    name = (form.get("name") or "").strip()
    try:
        group = _db(request).run(
            lambda c: community.start_group(
                c, owner=me.member_id or "", name=name, members=[], at=now()
            )
        )
    except errors.EumError as exc:
        return _groups_page(
            request,
            me,
            status=exc.status,
            failed="create",
            form={"name": name},
            **pages.form_error(request, exc),
        )
    return pages.redirect(
        request, f"/groups/{group.id}", "모임을 만들었습니다. 모임 번호를 알려 회원을 모으세요."
    )


@router.post("/groups/join")
def join_group(request: Request, form: pages.Posted) -> Response:
    me = _member(request)
    group_id = _code(form.get("group"))
    try:
        _db(request).run(
            lambda c: community.join_group(c, group_id=group_id, member_id=me.member_id or "")
        )
    except errors.EumError as exc:
        return _groups_page(
            request,
            me,
            status=exc.status,
            failed="join",
            form={"group": group_id},
            **pages.form_error(request, exc),
        )
    return pages.redirect(request, f"/groups/{urlquote(group_id, safe='')}", "모임에 가입했습니다.")


def _group_page(
    request: Request, me: Principal, group_id: str, *, status: int = 200, **context: Any
) -> Response:
    """A group of mine: its pool and members; its owner also pays and donates from it."""

    def read(conn: Connection) -> dict[str, Any]:
        return {
            "group": community_views.group(conn, me.member_id, group_id),
            "campaigns": community_views.campaign_list(conn, me),
            "wallet": wallets.wallet(conn, me.member_id or ""),
        }

    found = _db(request).read(read)
    context.setdefault("form", {})
    return pages.render(
        request,
        "citizen/group.html",
        status=status,
        keys={what: money.new_key() for what in ("contribute", "pay", "donate")},
        is_owner=found["group"]["owner"] == me.member_id,
        **found,
        **context,
    )


@router.get("/groups/{group_id}")
def group(request: Request, group_id: str) -> Response:
    """모임: 공동 적립금과 회원, 적립하기; 대표는 결제와 기부."""
    return _group_page(request, _member(request), _code(group_id))


def _group_money(
    request: Request,
    form: dict[str, str],
    group_id: str,
    what: str,
    done: str,
    call: Any,
) -> Response:
    """A money form of the group page, once per key: ``call(conn, at, me, amount, form)``
    books it; its result fills the message ``done``."""
    me = _member(request)
    group_id = _code(group_id)
    fields = {"group": group_id, **{k: _code(form.get(k)) for k in ("merchant", "campaign")}}
    try:
        amount = pages.amount(form.get("amount"))
        result = money.once(
            request,
            me,
            form,
            f"group_{what}",
            {**fields, "amount": amount},
            lambda c, at: call(c, at, me, group_id, amount, fields),
        )
    except errors.EumError as exc:
        return _group_page(
            request,
            me,
            group_id,
            status=exc.status,
            failed=what,
            form={**fields, "amount": form.get("amount", "")},
            **pages.form_error(request, exc),
        )
    values = {
        k: pages.won(v) for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    return pages.redirect(request, f"/groups/{urlquote(group_id, safe='')}", done, **values)


@router.post("/groups/{group_id}/contribute")
def contribute(request: Request, form: pages.Posted, group_id: str) -> Response:
    """내 캐시백을 모임의 공동 적립금으로."""

    def call(c: Connection, at: Any, me: Principal, gid: str, amount: int, f: Any) -> Any:
        return community.contribute(
            c, member_id=me.member_id, group_id=gid, amount_krw=amount, at=at
        )

    return _group_money(
        request, form, group_id, "contribute", "캐시백 {amount}을 모임에 적립했습니다.", call
    )


@router.post("/groups/{group_id}/pay")
def group_pay(request: Request, form: pages.Posted, group_id: str) -> Response:
    """모임 대표가 공동 적립금으로 결제 (쿠폰·캐시백 없음)."""

    def call(c: Connection, at: Any, me: Principal, gid: str, amount: int, f: Any) -> Any:
        return payments.group_pay(
            c,
            group_id=gid,
            by_member_id=me.member_id,
            merchant_id=f["merchant"],
            amount_krw=amount,
            channel="card",
            at=at,
        )

    return _group_money(
        request,
        form,
        group_id,
        "pay",
        "모임 적립금으로 {charged}을 결제했습니다 (선할인 {discount}).",
        call,
    )


@router.post("/groups/{group_id}/donate")
def group_donate(request: Request, form: pages.Posted, group_id: str) -> Response:
    """모임 대표가 공동 적립금을 모임 이름으로 기부."""

    def call(c: Connection, at: Any, me: Principal, gid: str, amount: int, f: Any) -> Any:
        return community.group_donate(
            c,
            group_id=gid,
            by_member_id=me.member_id,
            campaign_id=f["campaign"],
            amount_krw=amount,
            at=at,
        )

    return _group_money(
        request, form, group_id, "donate", "모임 이름으로 {amount}을 기부했습니다.", call
    )


i18n.register(
    {
        # menu, wallet
        "지갑 메뉴": "Wallet menu",
        "충전하기": "Charge",
        "충전": "Charge",
        "결제": "Pay",
        "내역": "History",
        "쿠폰": "Coupons",
        "기부": "Donate",
        "모임": "Groups",
        "잔액": "Balance",
        "충전금": "Charged money",
        "결제할 때는 캐시백이 먼저 쓰이고, 환불(출금)은 충전금만 됩니다.": (
            "Payments use cashback first; only charged money can be withdrawn."
        ),
        "이용 내역": "History",
        "내 쿠폰": "My coupons",
        "캐시백 기부": "Donate cashback",
        "충전금 환불": "Withdraw charged money",
        "이번 달 캐시백": "Cashback this month",
        "이번 달 받은 캐시백": "Cashback earned this month",
        "혜택별 캐시백과 남은 한도": "Cashback and cap left per benefit",
        "혜택": "Benefit",
        "비율": "Rate",
        "이번 달": "This month",
        "남은 한도": "Cap left",
        "한도 없음": "No cap",
        "결제 {cap}까지": "on payments up to {cap}",
        "한도 사용 {used}": "{used} of the cap used",
        "남은 한도는 이번 달 캐시백을 받을 수 있는 결제 금액입니다. "
        "예산이 다 쓰이면 그 혜택은 끝납니다.": (
            "The cap left is how much more you can pay this month with cashback. "
            "A benefit ends when its budget runs out."
        ),
        "이 카드에 적용되는 캐시백 혜택이 없습니다.": "No cashback benefit applies to this card.",
        # charge, withdraw
        "지금 잔액": "Balance now",
        "충전할 금액": "Amount to charge",
        "원, 예: 50,000": "won, e.g. 50,000",
        "원, 예: 12,000": "won, e.g. 12,000",
        "원": "won",
        "은행 계좌에서 충전": "Charge from my bank account",
        "빠른 충전": "Quick charge",
        "한 달 충전 한도": "Monthly charge limit",
        "보유 한도 (충전금 + 캐시백)": "Maximum balance (charged + cashback)",
        "{amount}을 충전했습니다.": "Charged {amount}.",
        "환불할 수 있는 충전금": "Charged money you can withdraw",
        "충전한 금액의 {share} 이상을 쓴 뒤에 남은 충전금을 은행 계좌로 돌려받을 수 있습니다. "
        "캐시백은 환불되지 않습니다.": (
            "Once you have spent {share} of what you charged, you can take the rest back "
            "to your bank account. Cashback cannot be withdrawn."
        ),
        "지금까지 충전": "Charged so far",
        "사용": "spent",
        "환불받을 금액": "Amount to withdraw",
        "은행 계좌로 환불": "Withdraw to my bank account",
        "{amount}을 계좌로 환불했습니다.": "Withdrew {amount} to your bank account.",
        # paying
        "가게 코드": "Shop code",
        "가게에 붙은 스티커나 QR 아래에 있습니다": "on the shop's sticker or under its QR code",
        "가게의 QR 코드를 휴대폰 카메라로 찍으면 바로 이 화면으로 옵니다.": (
            "Scan the shop's QR code with your phone's camera to come straight here."
        ),
        "가게에 QR 코드를 다시 보여 달라고 하거나, 가게 코드를 직접 입력하세요.": (
            "Ask the shop to show its QR code again, or type the shop code."
        ),
        "내 카드로 받는 캐시백": "Cashback with your card",
        "가게의 QR 코드로 결제합니다.": "Paying with the shop's QR code.",
        "결제 금액": "Amount",
        "가게가 정한 금액입니다": "set by the shop",
        "쿠폰 안 씀": "No coupon",
        "할인": "Discount",
        "{amount} 이상": "from {amount}",
        "이 가게에서 쓸 수 있는 쿠폰이 없습니다.": "You hold no coupon for this shop.",
        "쿠폰 받기": "Get coupons",
        "쓸 수 있는 잔액": "Available balance",
        "결제 금액 확인": "Review payment",
        "결제 확인": "Confirm payment",
        "결제 내용": "Payment",
        "혜택플러스 선할인": "Benefit Plus discount",
        "지갑에서 나갈 금액": "Paid from your wallet",
        "그중 캐시백에서": "of which from cashback",
        "그중 충전금에서": "of which from charged money",
        "받을 캐시백 (예상)": "Expected cashback",
        "캐시백 합계": "Total cashback",
        "이 결제에는 캐시백이 없습니다.": "This payment earns no cashback.",
        "결제 뒤 잔액": "Balance after paying",
        "다른 결제가 먼저 기록되면 한도와 예산에 따라 캐시백이 달라질 수 있습니다.": (
            "If another payment is booked first, caps and budgets may change the cashback."
        ),
        "{amount} 결제하기": "Pay {amount}",
        "금액 고치기": "Change the amount",
        "결제했습니다.": "Paid.",
        "이미 처리된 결제입니다.": "This payment was already made; it was booked once.",
        # receipt, history
        "영수증": "Receipt",
        "결제 번호": "Payment no.",
        "지갑에서 나간 금액": "Paid from your wallet",
        "환불된 금액": "Refunded",
        "받은 캐시백": "Cashback earned",
        "환불된 만큼 캐시백도 줄었습니다.": "Cashback shrank with the refund.",
        "결제 완료": "Paid",
        "부분 환불": "Partly refunded",
        "환불됨": "Refunded",
        "QR": "QR",
        "충전금 환불 (계좌로)": "Withdrawal to bank",
        "결제 취소 환불": "Refund of a payment",
        "모임 적립": "To group pool",
        "캐시백 사용": "cashback used",
        "이전 내역 더 보기": "Older entries",
        "아직 내역이 없습니다.": "Nothing here yet.",
        # coupons
        "가게 쿠폰 받기": "Get a shop's coupons",
        "쿠폰 보기": "Show coupons",
        "받음": "Claimed",
        "받기": "Get",
        "{amount} 이상 결제 시": "on {amount} or more",
        "{day}까지": "until {day}",
        "남은 수량 {n}장": "{n} left",
        "지금 받을 수 있는 쿠폰이 없습니다.": "No coupons to claim right now.",
        "사용함": "Used",
        "이 가게에서 쓰기": "Use at this shop",
        "사용 기간 아님": "Not valid today",
        "받은 날": "claimed",
        "받은 쿠폰이 없습니다. 가게 코드로 쿠폰을 찾아 보세요.": (
            "You have no coupons. Look a shop up by its code."
        ),
        "쿠폰을 받았습니다. 결제할 때 고르세요.": "Coupon claimed. Choose it when you pay.",
        # donations
        "기부할 수 있는 캐시백": "Cashback you can donate",
        "기부는 캐시백으로만 할 수 있습니다. 충전금은 기부되지 않습니다.": (
            "Donations come from cashback only, never from charged money."
        ),
        "캠페인": "Campaign",
        "기부할 금액": "Amount to donate",
        "기부하기": "Donate",
        "모금액": "Raised",
        "지금 진행 중인 기부 캠페인이 없습니다.": "No donation campaigns right now.",
        "캐시백 {amount}을 기부했습니다. 고맙습니다.": (
            "You donated {amount} of cashback. Thank you!"
        ),
        # groups
        "동호회나 단체가 회원의 캐시백을 모아 함께 쓰거나 모임 이름으로 기부합니다.": (
            "Clubs and associations pool their members' cashback to spend together "
            "or donate in the group's name."
        ),
        "공동 적립금": "Pool",
        "회원 {n}명": "{n} members",
        "{n}명": "{n}",
        "아직 속한 모임이 없습니다.": "You are in no group yet.",
        "모임 만들기": "Start a group",
        "모임 이름": "Group name",
        "만들기": "Start",
        "모임 가입": "Join a group",
        "모임 번호": "Group number",
        "모임 대표에게 받은 번호": "ask the group's owner",
        "이 번호를 알려 주면 회원이 가입할 수 있습니다.": "Share this number so others can join.",
        "대표": "Owner",
        "나": "Me",
        "캐시백 적립하기": "Add cashback",
        "내 캐시백": "My cashback",
        "캐시백만 모임에 적립할 수 있습니다.": "Only cashback can go into a group's pool.",
        "적립할 금액": "Amount to add",
        "적립하기": "Add",
        "공동 적립금으로 결제": "Pay from the pool",
        "혜택플러스 선할인은 받고, 쿠폰과 캐시백은 없습니다.": (
            "Benefit Plus discounts apply; no coupons and no cashback."
        ),
        "모임 적립금으로 결제": "Pay from the pool",
        "모임 이름으로 기부": "Donate in the group's name",
        "모임을 만들었습니다. 모임 번호를 알려 회원을 모으세요.": (
            "Group started. Share its number to gather members."
        ),
        "모임에 가입했습니다.": "You joined the group.",
        "캐시백 {amount}을 모임에 적립했습니다.": "Added {amount} of cashback to the pool.",
        "모임 적립금으로 {charged}을 결제했습니다 (선할인 {discount}).": (
            "Paid {charged} from the pool (discount {discount})."
        ),
        "모임 이름으로 {amount}을 기부했습니다.": "Donated {amount} in the group's name.",
    }
)
