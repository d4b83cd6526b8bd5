"""Issuers, cashback and fee-support rules with their history, budgets and fundings.

Each handler parses, checks the role, and calls one service; the services check the
area (an issuer admin acts on its issuer's subtree only) and write the audit log in the
same transaction as the change. Reads outside the caller's area look like missing ids.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eum import errors
from eum.api.deps import DB, MONEY, Admin, Caller, IdemKey, Operator, money_call
from eum.api.schemas import AmountIn, BudgetChangeIn, BudgetIn, IssuerIn, RuleChangeIn, RuleIn
from eum.clock import now, parse_date
from eum.policy import service as policy
from eum.policy import views

router = APIRouter(prefix="/api/v1", tags=["policy"])
NOT_YOURS: dict[int | str, dict[str, Any]] = {403: {"description": "forbidden: outside your area"}}


def _date(value: str, field: str) -> date:
    try:
        return parse_date(value)
    except ValueError:
        raise errors.InvalidRequest(f"{field} is not a date", field=field) from None


def _spec(body: RuleChangeIn) -> dict[str, Any]:
    """The fields as given, in SPEC 3.7 words, with dates as dates."""
    spec = body.model_dump(by_alias=True, exclude_unset=True)
    for name in ("from", "until"):
        if spec.get(name) is not None:
            spec[name] = _date(spec[name], name)
    if spec.get("steps") is not None:
        spec["steps"] = [
            {**step, "from": _date(step["from"], f"steps[{i}].from")}
            for i, step in enumerate(spec["steps"])
        ]
    return spec


@router.get("/issuers")
def list_issuers(db: DB, _me: Caller) -> dict[str, Any]:
    """발행처 목록: 상위 발행처와 담당 구·군."""
    return {"items": db.read(views.issuer_list)}


@router.post("/issuers", status_code=201)
def create_issuer(body: IssuerIn, db: DB, op: Operator) -> dict[str, Any]:
    """발행처 추가 (운영자, 감사 기록)."""

    def unit(c: Any) -> dict[str, Any]:
        policy.create_issuer_as(
            c,
            id=body.id,
            name=body.name,
            districts=body.districts,
            parent=body.parent,
            by=op,
            at=now(),
        )
        return next(i for i in views.issuer_list(c) if i["id"] == body.id)

    return db.run(unit)


@router.get("/rules")
def list_rules(db: DB, me: Caller, active: bool | None = None) -> dict[str, Any]:
    """캐시백·수수료 지원 규칙 (정의 순서).

    관리자는 관할 발행처의 규칙, 회원은 내 카드에 적용되는 규칙을 봅니다.
    """
    return {"items": db.read(lambda c: views.rule_list(c, me, active))}


@router.get("/rules/{rule_id}")
def get_rule(rule_id: str, db: DB, me: Caller) -> dict[str, Any]:
    """규칙 하나와 변경 이력 (누가, 언제, 무엇을)."""
    return db.read(lambda c: views.rule(c, me, rule_id))


@router.post("/rules", status_code=201, responses=NOT_YOURS)
def create_rule(body: RuleIn, db: DB, admin: Admin) -> dict[str, Any]:
    """규칙 정의 (SPEC 3.7).

    조건: 카드, 지역, 카드 종류, 가맹점 등급, 매출, 채널, 상인 모임, 기간, 그리고 예산.
    steps로 비율 변경을 미리 예약합니다 (예: 12월 1일부터 4% → 3%); 시민에게 미리 보입니다.
    """
    spec = _spec(body)

    def unit(c: Any) -> dict[str, Any]:
        policy.create_rule_as(c, spec, by=admin, at=now())
        return views.rule(c, admin, body.id)

    return db.run(unit)


@router.patch("/rules/{rule_id}", responses=NOT_YOURS)
def change_rule(rule_id: str, body: RuleChangeIn, db: DB, admin: Admin) -> dict[str, Any]:
    """규칙 조건 변경: 새 버전이 이력에 남고, 다음 결제부터 적용됩니다."""
    spec = _spec(body)

    def unit(c: Any) -> dict[str, Any]:
        policy.change_rule_as(c, rule_id, spec, by=admin, at=now())
        return views.rule(c, admin, rule_id)

    return db.run(unit)


@router.post("/rules/{rule_id}/close", responses=NOT_YOURS)
def close_rule(rule_id: str, db: DB, admin: Admin) -> dict[str, Any]:
    """규칙 종료: 더 이상 결제에 적용되지 않습니다 (지급된 캐시백은 그대로)."""

    def unit(c: Any) -> dict[str, Any]:
        policy.close_rule_as(c, rule_id, by=admin, at=now())
        return views.rule(c, admin, rule_id)

    return db.run(unit)


@router.get("/budgets")
def list_budgets(db: DB, admin: Admin) -> dict[str, Any]:
    """관할 예산: 잔액(remaining), 누적 편성액(funded), 집행액(spent, 환수 차감)."""
    return {"items": db.read(lambda c: views.budget_list(c, admin))}


@router.get("/budgets/{budget_id}")
def get_budget(budget_id: str, db: DB, admin: Admin) -> dict[str, Any]:
    """예산 하나의 잔액과 집행액."""
    return db.read(lambda c: views.budget(c, admin, budget_id))


@router.post("/budgets", status_code=201, responses=NOT_YOURS)
def create_budget(body: BudgetIn, db: DB, admin: Admin) -> dict[str, Any]:
    """예산 편성: 발행처(또는 상인 모임)의 재원에서 amount만큼 넣어 엽니다 (감사 기록)."""

    def unit(c: Any) -> dict[str, Any]:
        policy.create_budget_as(
            c,
            id=body.id,
            owner=body.owner,
            amount_krw=body.amount,
            name=body.name,
            by=admin,
            at=now(),
        )
        return views.budget(c, admin, body.id)

    return db.run(unit)


@router.post("/budgets/{budget_id}/fundings", status_code=201, responses={**MONEY, **NOT_YOURS})
def fund_budget(
    budget_id: str, body: AmountIn, request: Request, db: DB, admin: Admin, key: IdemKey
) -> JSONResponse:
    """예산 추가 편성 (Idempotency-Key 필요, 감사 기록)."""
    return money_call(
        db,
        admin,
        key,
        request,
        body,
        lambda c, at: policy.fund_budget_as(
            c, budget_id=budget_id, amount_krw=body.amount, by=admin, at=at
        ),
    )


@router.patch("/budgets/{budget_id}", responses=NOT_YOURS)
def change_budget(budget_id: str, body: BudgetChangeIn, db: DB, admin: Admin) -> dict[str, Any]:
    """예산 이름 변경 (감사 기록). 금액은 추가 편성(fundings)이나 종료(close)로 바꿉니다."""

    def unit(c: Any) -> dict[str, Any]:
        policy.rename_budget_as(c, budget_id=budget_id, name=body.name, by=admin, at=now())
        return views.budget(c, admin, budget_id)

    return db.run(unit)


@router.post("/budgets/{budget_id}/close", responses={**MONEY, **NOT_YOURS})
def close_budget(
    budget_id: str, request: Request, db: DB, admin: Admin, key: IdemKey
) -> JSONResponse:
    """예산 종료: 남은 금액을 재원으로 돌려놓고, 이 예산을 쓰는 규칙은 더 지급하지 않습니다."""
    return money_call(
        db,
        admin,
        key,
        request,
        None,
        lambda c, at: policy.close_budget_as(c, budget_id=budget_id, by=admin, at=at),
        status=200,
    )
