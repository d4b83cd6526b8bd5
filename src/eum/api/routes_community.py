"""Donation campaigns and user groups: members donate cashback, pool it in groups, and a
group's owner pays or donates from the pool (SPEC 3.13, 3.14). Each handler parses,
checks the role, and calls one service; money requests carry an Idempotency-Key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eum.api.deps import DB, MONEY, Admin, Caller, IdemKey, Member, money_call
from eum.api.schemas import AmountIn, CampaignIn, GroupDonationIn, GroupIn, GroupPaymentIn
from eum.clock import now
from eum.community import service as community
from eum.community import views
from eum.payments import service as payments

router = APIRouter(prefix="/api/v1", tags=["community"])


@router.get("/campaigns")
def list_campaigns(db: DB, me: Caller) -> dict[str, Any]:
    """기부 캠페인과 모금액."""
    return {"items": db.read(lambda c: views.campaign_list(c, me))}


@router.post("/campaigns", status_code=201, responses={403: {"description": "outside your area"}})
def create_campaign(body: CampaignIn, db: DB, admin: Admin) -> dict[str, Any]:
    """기부 캠페인 개설 (관할 발행처 이름으로, 감사 기록)."""

    def unit(c: Any) -> dict[str, Any]:
        community.create_campaign_as(
            c, id=body.id, name=body.name, owner=body.owner, by=admin, at=now()
        )
        return next(x for x in views.campaign_list(c, admin) if x["id"] == body.id)

    return db.run(unit)


@router.post("/campaigns/{campaign_id}/donations", status_code=201, responses=MONEY)
def donate(
    campaign_id: str, body: AmountIn, request: Request, db: DB, me: Member, key: IdemKey
) -> JSONResponse:
    """적립금(캐시백)으로 기부 — 충전금은 기부할 수 없습니다 (SPEC 3.13)."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: community.donate(
            c, member_id=me.member_id, campaign_id=campaign_id, amount_krw=body.amount, at=at
        ),
    )


@router.get("/groups")
def my_groups(db: DB, me: Member) -> dict[str, Any]:
    """내가 속한 모임: 공동 적립금(pool)과 회원."""
    return {"items": db.read(lambda c: views.my_groups(c, me.member_id))}


@router.get("/groups/{group_id}")
def get_group(group_id: str, db: DB, me: Member) -> dict[str, Any]:
    """내가 속한 모임 하나."""
    return db.read(lambda c: views.group(c, me.member_id, group_id))


@router.post("/groups", status_code=201)
def create_group(body: GroupIn, db: DB, me: Member) -> dict[str, Any]:
    """모임 만들기: 만든 회원이 대표가 됩니다 (SPEC 3.14)."""

    def unit(c: Any) -> dict[str, Any]:
        group = community.start_group(
            c, id=body.id, name=body.name, owner=me.member_id or "", members=body.members, at=now()
        )
        return views.group(c, me.member_id, group.id)

    return db.run(unit)


@router.post("/groups/{group_id}/members")
def join_group(group_id: str, db: DB, me: Member) -> dict[str, Any]:
    """모임 가입 (본인)."""

    def unit(c: Any) -> dict[str, Any]:
        community.join_group(c, group_id=group_id, member_id=me.member_id or "")
        return views.group(c, me.member_id, group_id)

    return db.run(unit)


@router.post("/groups/{group_id}/contributions", status_code=201, responses=MONEY)
def contribute(
    group_id: str, body: AmountIn, request: Request, db: DB, me: Member, key: IdemKey
) -> JSONResponse:
    """내 적립금을 모임의 공동 적립금으로 (모임 회원만)."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: community.contribute(
            c, member_id=me.member_id, group_id=group_id, amount_krw=body.amount, at=at
        ),
    )


@router.post("/groups/{group_id}/payments", status_code=201, responses=MONEY)
def group_pay(
    group_id: str, body: GroupPaymentIn, request: Request, db: DB, me: Member, key: IdemKey
) -> JSONResponse:
    """모임 대표가 공동 적립금으로 결제 (쿠폰·캐시백 없음, SPEC 3.14)."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: payments.group_pay(
            c,
            group_id=group_id,
            by_member_id=me.member_id,
            merchant_id=body.merchant,
            amount_krw=body.amount,
            channel=body.channel,
            at=at,
        ),
    )


@router.post("/groups/{group_id}/donations", status_code=201, responses=MONEY)
def group_donate(
    group_id: str, body: GroupDonationIn, request: Request, db: DB, me: Member, key: IdemKey
) -> JSONResponse:
    """모임 대표가 공동 적립금을 모임 이름으로 기부."""
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: community.group_donate(
            c,
            group_id=group_id,
            by_member_id=me.member_id,
            campaign_id=body.campaign,
            amount_krw=body.amount,
            at=at,
        ),
    )
