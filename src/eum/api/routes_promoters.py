"""Field promoters (지원활동가): a promoter records visits, the shops it signed up and
stickers in its own area, and reads its shops and activity; an issuer admin reads the
promoters of its area with their counts, one promoter's activity, and the sticker
coverage per neighbourhood. Each handler parses, checks the role, and calls one service
or view (which decide what lies in the caller's area)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from eum.api.deps import (
    DB,
    DEFAULT_PAGE,
    MAX_PAGE,
    Admin,
    Page,
    decode_cursor,
    encode_cursor,
    role,
)
from eum.api.schemas_promoters import SignupIn, StickerIn, VisitIn
from eum.auth.model import Principal
from eum.clock import now, parse_date
from eum.errors import InvalidRequest
from eum.promoters import service as promoters
from eum.promoters import views
from eum.stats import views as stats
from eum.wallets.views import iso

router = APIRouter(prefix="/api/v1", tags=["promoters"])

Promoter = Annotated[Principal, Depends(role("promoter"))]
MerchantId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=300)]
DAY = r"^\d{4}-\d{2}-\d{2}$"
Issuer = Annotated[str | None, Query(max_length=64, description="발행처 (관할 안에서)")]
From = Annotated[str | None, Query(alias="from", pattern=DAY, description="첫날 (기본: 29일 전)")]
To = Annotated[str | None, Query(pattern=DAY, description="마지막 날 (기본: 오늘)")]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "already_exists: another promoter (or you) signed the shop up"}
}


def _times(result: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in result.items()}


def _page(found: tuple[list[dict[str, Any]], str | None]) -> Page:
    items, last = found
    return Page(items=items, next_cursor=None if last is None else encode_cursor(last))


def _period(first: str | None, last: str | None) -> promoters.Period:
    def day(value: str | None, field: str) -> Any:
        try:
            return None if value is None else parse_date(value)
        except ValueError:
            raise InvalidRequest(f"{field} is not a date", field=field) from None

    return promoters.period(day(first, "from"), day(last, "to"), now())


# --- the promoter's own work ------------------------------------------------------------


@router.post("/me/visits", status_code=201)
def record_visit(body: VisitIn, db: DB, me: Promoter) -> dict[str, Any]:
    """가맹점 방문 기록 (관할 구·군의 가맹점, 시각과 메모)."""
    return _times(
        db.run(
            lambda c: promoters.record_visit(
                c,
                by=me,
                merchant_id=body.merchant,
                visited_at=body.visited_at,
                note=body.note,
                at=now(),
            )
        )
    )


@router.post("/me/signups", status_code=201, responses=CONFLICT)
def sign_up(body: SignupIn, db: DB, me: Promoter) -> dict[str, Any]:
    """가맹점 유치 기록: 가게 하나에 지원활동가 한 명 (두 번째는 409, 감사 기록)."""
    return _times(
        db.run(lambda c: promoters.sign_up(c, by=me, merchant_id=body.merchant, at=now()))
    )


@router.put("/me/stickers/{merchant_id}")
def set_sticker(merchant_id: MerchantId, body: StickerIn, db: DB, me: Promoter) -> dict[str, Any]:
    """가맹점 스티커 상태: 없음·신청·부착 (감사 기록)."""
    return _times(
        db.run(
            lambda c: promoters.set_sticker(
                c, by=me, merchant_id=merchant_id, status=body.status, at=now()
            )
        )
    )


@router.get("/me/activity", response_model=Page)
def my_activity(db: DB, me: Promoter, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None) -> Page:
    """내 활동: 방문, 유치, 스티커 (최근 순)."""
    after = decode_cursor(cursor)
    return _page(db.read(lambda c: views.activity(c, me.user_id, limit, after)))


@router.get("/me/shops")
def my_shops(
    db: DB,
    me: Promoter,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=views.MAX_SHOPS)] = 20,
) -> dict[str, Any]:
    """관할 가맹점 찾기 (이름 또는 ID): 심사 중·승인된 가게, 스티커와 유치 여부."""
    return {"items": db.read(lambda c: views.shops(c, me, q, limit))}


@router.get("/me/shops/{merchant_id}")
def my_shop(merchant_id: MerchantId, db: DB, me: Promoter) -> dict[str, Any]:
    """관할 가맹점 하나: 스티커, 유치 여부, 내 최근 방문 (관할 밖은 404)."""
    return db.read(lambda c: views.shop(c, me, merchant_id))


# --- what an issuer admin sees ------------------------------------------------------------


@router.get("/promoters")
def list_promoters(
    db: DB, admin: Admin, issuer: Issuer = None, from_: From = None, to: To = None
) -> dict[str, Any]:
    """관할 지원활동가와 기간 중 방문·방문 가게·유치·스티커 부착 수 (기본: 최근 30일)."""
    span = _period(from_, to)

    def read(c: Any) -> dict[str, Any]:
        area = stats.area_for(c, admin, issuer)
        return {
            "issuer": area.issuer_id,
            "from": span.first.isoformat(),
            "to": span.last.isoformat(),
            "items": views.promoter_list(c, area, span),
        }

    return db.read(read)


@router.get("/promoters/{promoter_id}/activity", response_model=Page)
def promoter_activity(
    promoter_id: Annotated[str, Path(min_length=1, max_length=64)],
    db: DB,
    admin: Admin,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> Page:
    """관할 지원활동가 한 명의 활동 (최근 순; 관할 밖은 404)."""
    after = decode_cursor(cursor)

    def read(c: Any) -> tuple[list[dict[str, Any]], str | None]:
        found = views.promoter_of(c, admin, promoter_id)
        return views.activity(c, found["id"], limit, after)

    return _page(db.read(read))


@router.get("/sticker-coverage")
def sticker_coverage(db: DB, admin: Admin, issuer: Issuer = None) -> dict[str, Any]:
    """가맹점 스티커 부착률: 구·군과 동별 가게 수, 부착, 신청, 부착률 (동 미지정은 null)."""
    return db.read(lambda c: views.coverage(c, stats.area_for(c, admin, issuer)))
