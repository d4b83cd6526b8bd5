"""Running the platform: settlement runs, ledger verification, the audit log and the
statistics of an area (SPEC 3.10, 3.17, 4). Each handler parses, checks the role, and
calls one service or view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from eum import errors
from eum.api.deps import (
    DB,
    DEFAULT_PAGE,
    MAX_PAGE,
    Admin,
    IdemKey,
    Operator,
    Page,
    decode_cursor,
    encode_cursor,
    money_call,
)
from eum.clock import kst_month, now
from eum.ledger import service as ledger
from eum.payments import service as payments
from eum.stats import views as stats

router = APIRouter(prefix="/api/v1", tags=["operations"])
MONTH = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"  # 1900-01..2099-12: months a city reports on
Month = Annotated[str | None, Query(pattern=MONTH, description="KST 월 (YYYY-MM), 기본값: 이번 달")]
Issuer = Annotated[str | None, Query(max_length=64, description="발행처 (관할 안에서)")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _before(cursor: str | None) -> int | None:
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 20:
        raise errors.InvalidRequest("bad cursor", field="cursor")
    return int(raw)


def _page(found: tuple[list[dict[str, Any]], int | None]) -> Page:
    items, last = found
    return Page(items=items, next_cursor=None if last is None else encode_cursor(last))


@router.post(
    "/settlements", status_code=201, responses={409: {"description": "idempotency_conflict"}}
)
def settle(request: Request, db: DB, op: Operator, key: IdemKey) -> JSONResponse:
    """정산: 가맹점의 양(+)의 미수금을 은행으로 지급합니다. 음(-)은 이월 (SPEC 3.10)."""
    return money_call(db, op, key, request, None, lambda c, at: payments.settle(c, at=at))


@router.get("/settlements", response_model=Page)
def list_settlements(
    db: DB, _op: Operator, limit: Limit = DEFAULT_PAGE, cursor: str | None = None
) -> Page:
    """정산 내역 (최근 순), 가맹점별 지급액."""
    before = _before(cursor)
    return _page(db.read(lambda c: stats.settlement_runs(c, limit, before)))


@router.get("/ledger/verify")
def verify_ledger(db: DB, _op: Operator) -> dict[str, Any]:
    """원장 검증: 모든 잔액을 분개에서 다시 계산하고 합이 0인지 확인합니다 (SPEC 3.17)."""
    found = db.read(ledger.verify)
    return {
        "ok": found.ok,
        "accounts_checked": found.accounts_checked,
        "entries_checked": found.entries_checked,
        "postings_total": found.postings_total_krw,
        "mismatches": found.mismatches,
    }


@router.get("/audit", response_model=Page)
def audit_log(db: DB, admin: Admin, limit: Limit = DEFAULT_PAGE, cursor: str | None = None) -> Page:
    """감사 기록 (최근 순): 운영자는 전체, 발행처 관리자는 관할 발행처의 기록."""
    before = _before(cursor)
    return _page(db.read(lambda c: stats.audit_page(c, admin, limit, before)))


@router.get("/stats/overview")
def stats_overview(
    db: DB, admin: Admin, month: Month = None, issuer: Issuer = None
) -> dict[str, Any]:
    """관할 지역 통계 (SPEC 4).

    회원, 활성 회원, 발행액, 결제액, 캐시백·수수료 지원, 역내 결제 비중, 재정 승수.
    """
    at_month = month or kst_month(now())
    return db.read(lambda c: stats.overview(c, stats.area_for(c, admin, issuer), at_month))


@router.get("/stats/monthly")
def stats_monthly(
    db: DB,
    admin: Admin,
    months: Annotated[int, Query(ge=1, le=stats.MAX_MONTHS)] = 6,
    until: Month = None,
    issuer: Issuer = None,
) -> dict[str, Any]:
    """월별 통계 (그래프용): 최근 months개월, 오래된 달부터."""
    last = until or kst_month(now())

    def read(c: Any) -> dict[str, Any]:
        area = stats.area_for(c, admin, issuer)
        return {"issuer": area.issuer_id, "months": stats.monthly(c, area, last, months)}

    return db.read(read)
