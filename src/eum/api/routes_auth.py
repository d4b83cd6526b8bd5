"""Sign-up, login, logout and who-am-I; operators create staff accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from eum import errors
from eum.api.deps import DB, Caller, Operator, bearer
from eum.api.schemas import LoginIn, SignupMemberIn, SignupMerchantIn, StaffIn
from eum.audit import service as audit
from eum.auth import service as auth
from eum.auth import throttle
from eum.clock import now
from eum.wallets.views import iso

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])


@router.post("/signup/member", status_code=201)
def signup_member(body: SignupMemberIn, db: DB) -> dict[str, Any]:
    """시민 회원 가입: 카드 브랜드(인천e음 또는 구·군)와 종류를 고릅니다."""
    return db.run(
        lambda c: auth.signup_member(
            c,
            login=body.login,
            password=body.password,
            name=body.name,
            card_issuer_id=body.card,
            card_kind=body.kind,
            home_district=body.home_district,
            at=now(),
        )
    )


@router.post("/signup/merchant", status_code=201)
def signup_merchant(body: SignupMerchantIn, db: DB) -> dict[str, Any]:
    """가맹점 등록 신청: 관할 구·군 관리자가 승인하면 결제를 받을 수 있습니다."""
    return db.run(
        lambda c: auth.signup_merchant(
            c,
            login=body.login,
            password=body.password,
            at=now(),
            merchant=body.merchant.model_dump(),
        )
    )


@router.post(
    "/login",
    responses={
        401: {"description": "unauthorized: wrong login or password"},
        423: {"description": "account_locked: too many failures for this login"},
        429: {"description": "too_many_attempts: too many sign-ins from this address"},
    },
)
def login(body: LoginIn, db: DB, request: Request) -> dict[str, Any]:
    """로그인: Bearer 토큰을 받습니다 (만료 시각 포함). 한 주소에서 1분에 20번까지 (429)."""
    throttle.logins.attempt(request.client.host if request.client else None)
    out: dict[str, Any] | None = db.run(
        lambda c: auth.login(c, login=body.login, password=body.password, at=now())
    )
    if out is None:  # the failure is committed; now say so
        raise errors.Unauthorized(field="login")
    return {**out, "expires_at": iso(out["expires_at"])}


@router.post("/logout", status_code=204)
def logout(
    db: DB, _me: Caller, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> None:
    """토큰을 즉시 폐기합니다."""
    if creds is not None:
        db.run(lambda c: auth.logout(c, token=creds.credentials, at=now()))


@router.get("/me")
def me(p: Caller) -> dict[str, Any]:
    return {
        "user_id": p.user_id,
        "login": p.login,
        "role": p.role,
        "member_id": p.member_id,
        "merchant_id": p.merchant_id,
        "issuer_id": p.issuer_id,
    }


@router.post("/staff", status_code=201)
def create_staff(body: StaffIn, db: DB, op: Operator) -> dict[str, Any]:
    """운영자가 발행처 관리자·지원활동가·운영자 계정을 만듭니다 (감사 기록)."""

    def unit(c: Any) -> dict[str, Any]:
        at = now()
        user_id = auth.create_staff(
            c,
            login=body.login,
            password=body.password,
            role=body.role,
            issuer_id=body.issuer_id,
            display_name=body.display_name,
            at=at,
        )
        audit.record(
            c,
            at=at,
            actor_id=op.user_id,
            actor_role=op.role,
            action="staff.create",
            target=user_id,
            issuer_id=body.issuer_id,
            detail={"login": body.login, "role": body.role},
        )
        return {"user_id": user_id}

    return db.run(unit)
