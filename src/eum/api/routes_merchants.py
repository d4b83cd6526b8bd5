"""Merchants: the public directory, registration approval, Benefit Plus, QR codes, sales,
coupons and claims, merchant groups. Each handler parses, checks who may act, and calls
one service (the services decide who may act on which merchant)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from eum.api.deps import (
    DB,
    MAX_PAGE,
    Admin,
    Caller,
    Member,
    MerchantOwner,
    Page,
    bearer,
    decode_cursor,
    encode_cursor,
    principal,
)
from eum.api.schemas import ApprovalIn, BenefitPlusIn, CouponIn, MerchantGroupIn
from eum.auth.model import Principal
from eum.clock import now
from eum.config import settings
from eum.merchants import service as merchants
from eum.merchants import views
from eum.payments import qr
from eum.wallets.views import iso

router = APIRouter(prefix="/api/v1", tags=["merchants"])

MerchantId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]
Short = Annotated[str | None, Query(max_length=64)]
IMAGE_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


async def viewer(
    db: DB,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller of a public endpoint: anonymous, or whoever the token says (a bad token
    is still refused)."""
    return None if creds is None else await principal(db, creds)


Viewer = Annotated[Principal | None, Depends(viewer)]


def _page(items: list[dict[str, Any]], last: str | None) -> Page:
    return Page(items=items, next_cursor=None if last is None else encode_cursor(last))


@router.get("/merchants", response_model=Page)
def search_merchants(
    db: DB,
    q: Annotated[str | None, Query(max_length=100)] = None,
    district: Short = None,
    category: Short = None,
    benefit_plus: bool | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    """가맹점 찾기: 이름, 구·군, 업종, 혜택플러스 여부로 (승인된 가맹점만)."""
    after = decode_cursor(cursor)
    items, last = db.read(
        lambda c: views.search(
            c,
            q=q,
            district=district,
            category=category,
            benefit_plus=benefit_plus,
            limit=limit,
            after=after,
        )
    )
    return _page(items, last)


@router.get("/merchants/{merchant_id}")
def get_merchant(merchant_id: MerchantId, db: DB, me: Viewer) -> dict[str, Any]:
    """가맹점 정보. 본인·관할 관리자·운영자는 심사 중인 가맹점과 매출 규모·수수료율도 봅니다."""
    return db.read(lambda c: views.one(c, me, merchant_id))


@router.post("/merchants/{merchant_id}/approval")
def decide_registration(
    merchant_id: MerchantId, body: ApprovalIn, db: DB, admin: Admin
) -> dict[str, Any]:
    """가맹점 등록 신청 승인 또는 반려 (관할 발행처 관리자·운영자, 감사 기록)."""
    return db.run(
        lambda c: merchants.decide_registration(
            c, by=admin, merchant_id=merchant_id, approve=body.approve, note=body.note, at=now()
        )
    )


@router.put("/merchants/{merchant_id}/benefit-plus")
def join_benefit_plus(
    merchant_id: MerchantId, body: BenefitPlusIn, db: DB, me: Caller
) -> dict[str, Any]:
    """혜택플러스 가입 또는 선할인율 변경 (1~7%)."""
    return db.run(
        lambda c: merchants.join_benefit_plus(
            c, by=me, merchant_id=merchant_id, discount_bps=body.discount_bps, at=now()
        )
    )


@router.delete("/merchants/{merchant_id}/benefit-plus")
def leave_benefit_plus(merchant_id: MerchantId, db: DB, me: Caller) -> dict[str, Any]:
    """혜택플러스 해지: 일반 가맹점으로 돌아갑니다."""
    return db.run(
        lambda c: merchants.leave_benefit_plus(c, by=me, merchant_id=merchant_id, at=now())
    )


@router.get(
    "/merchants/{merchant_id}/qr",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "image/svg+xml": {}, "image/png": {}}}},
)
def merchant_qr(
    merchant_id: MerchantId,
    db: DB,
    me: MerchantOwner,
    amount: Annotated[int | None, Query(ge=1, le=1_000_000_000)] = None,
    ttl_seconds: Annotated[int | None, Query(ge=1, le=merchants.MAX_QR_TTL_SECONDS)] = None,
    kind: Annotated[Literal["json", "svg", "png"], Query(alias="format")] = "json",
) -> dict[str, Any] | Response:
    """결제용 QR 코드 (서명된 값, 금액 고정 가능, 유효 시간 포함): JSON, SVG 또는 PNG."""
    cfg = settings()
    code: dict[str, Any] = db.read(
        lambda c: merchants.qr_code(
            c,
            by=me,
            merchant_id=merchant_id,
            amount_krw=amount,
            at=now(),
            key=cfg.signing_key(),
            ttl_seconds=cfg.qr_ttl_seconds if ttl_seconds is None else ttl_seconds,
        )
    )
    if kind != "json":
        return Response(
            qr.image(code["payload"], kind),
            media_type=IMAGE_TYPES[kind],
            headers={"Cache-Control": "no-store"},
        )
    return {**code, "expires_at": iso(code["expires_at"])}


@router.get("/merchants/{merchant_id}/sales")
def merchant_sales(merchant_id: MerchantId, db: DB, me: Caller) -> dict[str, Any]:
    """오늘과 이번 달 매출·환불·수수료·수수료 지원, 정산액과 미정산액 (가맹점·관할 관리자)."""
    return db.read(lambda c: views.sales(c, me, merchant_id, now()))


@router.post("/merchants/{merchant_id}/coupons", status_code=201)
def issue_coupon(
    merchant_id: MerchantId, body: CouponIn, db: DB, me: MerchantOwner
) -> dict[str, Any]:
    """쿠폰 발행 (가맹점 본인): 할인액, 최소 결제 금액, 수량, 사용 기간."""
    return db.run(
        lambda c: merchants.issue_coupon(
            c,
            by=me,
            merchant_id=merchant_id,
            value_krw=body.value,
            min_spend_krw=body.min_spend,
            quantity=body.quantity,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            name=body.name,
            at=now(),
        )
    )


@router.get("/merchants/{merchant_id}/coupons", response_model=Page)
def list_coupons(
    merchant_id: MerchantId, db: DB, me: Viewer, limit: Limit = 20, cursor: Cursor = None
) -> Page:
    """지금 받을 수 있는 쿠폰 (사용 기간 안, 남은 수량 있음)."""
    after = decode_cursor(cursor)
    items, last = db.read(lambda c: views.coupons_of(c, me, merchant_id, now(), limit, after))
    return _page(items, last)


@router.post("/coupons/{coupon_id}/claims", status_code=201)
def claim_coupon(
    coupon_id: Annotated[str, Path(min_length=1, max_length=64)], db: DB, me: Member
) -> dict[str, Any]:
    """쿠폰 받기: 한 사람이 한 장, 기간 안에, 수량이 남아 있을 때 (SPEC 3.12)."""
    at = now()
    claimed: dict[str, Any] = db.run(
        lambda c: merchants.claim_coupon(c, member_id=me.member_id, coupon_id=coupon_id, at=at)
    )
    return {**claimed, "claimed_at": iso(at)}


@router.post("/merchant-groups", status_code=201)
def form_merchant_group(body: MerchantGroupIn, db: DB, admin: Admin) -> dict[str, Any]:
    """상인 모임 만들기 (시장·상점가 공동 마케팅): 관할 지역 가맹점만, 감사 기록."""
    return db.run(
        lambda c: merchants.form_merchant_group(
            c, by=admin, id=body.id, name=body.name, merchant_ids=body.merchants, at=now()
        )
    )


@router.get("/merchant-groups", response_model=Page)
def list_merchant_groups(
    db: DB, district: Short = None, limit: Limit = 20, cursor: Cursor = None
) -> Page:
    """상인 모임과 소속 가맹점 (구·군으로 거를 수 있음)."""
    after = decode_cursor(cursor)
    items, last = db.read(
        lambda c: views.merchant_groups_list(c, district=district, limit=limit, after=after)
    )
    return _page(items, last)
