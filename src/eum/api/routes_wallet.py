"""Members' money: wallet, history, charges, payments (by merchant id or QR), refunds,
withdrawals. Each handler parses, checks who may act, and calls one service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from eum import errors
from eum.api.deps import (
    DB,
    MONEY,
    MONEY_QUEUED,
    Caller,
    IdemKey,
    Member,
    Page,
    money_call,
    money_response,
    request_fingerprint,
)
from eum.api.schemas import ChargeIn, PayIn, RefundIn, WithdrawIn
from eum.clock import now
from eum.config import settings
from eum.payments import qr
from eum.payments import service as payments
from eum.payments import views as payment_views
from eum.payments.engine import PaymentEngine, PayRequest
from eum.wallets import service as wallets
from eum.wallets import views as wallet_views

router = APIRouter(prefix="/api/v1", tags=["wallet"])


@router.get("/me/wallet")
def my_wallet(db: DB, me: Member) -> dict[str, Any]:
    """충전금과 캐시백 잔액, 이번 달 규칙별 캐시백과 남은 한도."""
    return db.read(lambda c: wallet_views.overview(c, me.member_id, now()))


@router.get("/me/history", response_model=Page)
def my_history(
    db: DB, me: Member, limit: int = Query(20, ge=1, le=100), cursor: str | None = None
) -> Page:
    """충전·결제·환불·출금·기부 내역 (최근 순)."""
    items, nxt = db.read(lambda c: wallet_views.history(c, me.member_id, limit, cursor))
    return Page(items=items, next_cursor=nxt)


@router.post("/charges", status_code=201, responses=MONEY)
def charge(body: ChargeIn, request: Request, db: DB, me: Member, key: IdemKey) -> JSONResponse:
    """은행 계좌에서 충전 (SPEC 3.5)."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: wallets.charge(c, member_id=me.member_id, amount_krw=body.amount, at=at),
    )


@router.post("/withdrawals", status_code=201, responses=MONEY)
def withdraw(body: WithdrawIn, request: Request, db: DB, me: Member, key: IdemKey) -> JSONResponse:
    """충전금을 은행 계좌로 환불 (60% 이상 사용 후, SPEC 3.11)."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: wallets.withdraw(c, member_id=me.member_id, amount_krw=body.amount, at=at),
    )


def _target(body: PayIn) -> tuple[str, int]:
    """The merchant and amount of a payment, from its id or from a verified QR payload."""
    if body.qr is None:
        if body.merchant is None:
            raise errors.InvalidRequest("give merchant or qr", field="merchant")
        if body.amount is None:
            raise errors.InvalidAmount(field="amount")
        return body.merchant, body.amount
    claim = qr.verify(settings().signing_key(), body.qr, now())
    if body.merchant is not None and body.merchant != claim.merchant_id:
        raise errors.QrInvalid("the QR payload names another merchant", field="merchant")
    if claim.amount_krw is not None and body.amount not in (None, claim.amount_krw):
        raise errors.QrAmountMismatch(field="amount")
    amount = claim.amount_krw if claim.amount_krw is not None else body.amount
    if amount is None:
        raise errors.InvalidAmount(field="amount")
    return claim.merchant_id, amount


@router.post("/payments", status_code=201, responses=MONEY_QUEUED)
async def pay(body: PayIn, request: Request, me: Member, key: IdemKey) -> JSONResponse:
    """가맹점에 결제: 혜택플러스 할인, 쿠폰, 캐시백, 수수료 (SPEC 3.6).

    결제는 결제 엔진의 대기열을 거쳐 다른 결제와 함께 한 번에 기록되며, 기록이 끝난
    뒤에 응답합니다. 대기열이 가득 차면 429와 Retry-After로 답합니다.
    """
    merchant_id, amount = _target(body)
    engine: PaymentEngine = request.app.state.payments
    outcome = await engine.pay_async(
        PayRequest(
            member_id=me.member_id,
            merchant_id=merchant_id,
            amount_krw=amount,
            at=now(),
            channel="qr" if body.qr is not None and body.channel == "card" else body.channel,
            coupon_id=body.coupon,
            invoice=body.invoice,
            scope=me.scope,
            key=key,
            fingerprint=request_fingerprint(request, body),
        ),
    )
    return money_response(outcome)


@router.get("/payments", response_model=Page)
def list_payments(
    db: DB,
    me: Caller,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = None,
    merchant: str | None = None,
) -> Page:
    """내 결제 (회원), 우리 가게 매출 (가맹점), 관할 지역 결제 (발행처 관리자)."""
    items, nxt = db.read(lambda c: payment_views.visible(c, me, limit, cursor, merchant))
    return Page(items=items, next_cursor=nxt)


@router.get("/payments/{payment_id}")
def get_payment(payment_id: str, db: DB, me: Caller) -> dict[str, Any]:
    return db.read(lambda c: payment_views.one(c, me, payment_id))


@router.post("/payments/{payment_id}/refunds", status_code=201, responses=MONEY)
def refund(
    payment_id: str, body: RefundIn, request: Request, db: DB, me: Caller, key: IdemKey
) -> JSONResponse:
    """결제의 전부 또는 일부 환불 — 가맹점이 자기 결제에 대해 (SPEC 3.9)."""
    db.read(lambda c: payment_views.check_refund_allowed(c, me, payment_id))
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: payments.refund(c, payment_id=payment_id, amount_krw=body.amount, at=at),
    )
