"""Budget burn, forecasts with alerts, and statistics per day (issue: Budget foresight).

Reads only: every figure comes from the day counters. An issuer admin sees its own
area's budgets and figures; another area's budget answers 404 like a missing one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from eum import errors
from eum.api.deps import DB, Admin
from eum.clock import kst_day, now, parse_date
from eum.policy import views as policy_views
from eum.stats import daily as daily_stats
from eum.stats import foresight
from eum.stats import views as stats

router = APIRouter(prefix="/api/v1", tags=["foresight"])

DAY = r"^\d{4}-\d{2}-\d{2}$"
AlertDays = Annotated[
    int | None,
    Query(
        ge=1,
        le=foresight.MAX_ALERT_DAYS,
        description="이 일수 안에 소진이 예측되면 경보 (기본값 EUM_BUDGET_ALERT_DAYS 또는 7)",
    ),
]


def _day(value: str | None, field: str, default: date) -> date:
    if value is None:
        return default
    try:
        return parse_date(value)
    except ValueError:
        raise errors.InvalidRequest(f"{field} is not a date", field=field) from None


@router.get("/budget-forecasts")
def budget_forecasts(db: DB, admin: Admin, alert_days: AlertDays = None) -> dict[str, Any]:
    """관할 예산별 소진 예측과 경보: 최근 7일 집행 속도로 계산한 소진 예상일, 지난 4주 중 가장
    빠른·느린 주의 속도로 계산한 범위, 경보 기준일 안이면 alert=true."""
    horizon = alert_days or foresight.alert_days_default()
    today = kst_day(now())

    def read(c: Any) -> dict[str, Any]:
        views = policy_views.budget_list(c, admin)
        found = foresight.forecasts(c, views, today, horizon)
        items = []
        for v in views:
            fc = found[v["id"]]
            items.append(
                {
                    "budget": v["id"],
                    "name": v.get("name"),
                    "owner": v.get("owner"),
                    "closed": bool(v.get("closed_at")),
                    **fc.as_dict(),
                }
            )
        alerts = [i["budget"] for i in items if i["alert"] and not i["closed"]]
        return {"today": today.isoformat(), "alert_days": horizon, "items": items, "alerts": alerts}

    return db.read(read)


@router.get("/budgets/{budget_id}/burn")
def budget_burn(
    budget_id: str,
    db: DB,
    admin: Admin,
    days: Annotated[int, Query(ge=1, le=366, description="최근 며칠")] = 30,
    alert_days: AlertDays = None,
) -> dict[str, Any]:
    """예산의 일별 집행과 소진 예측.

    충전(funded), 지급(spent: 환불로 돌아온 금액 차감), 그날 끝의 잔액(remaining)."""
    horizon = alert_days or foresight.alert_days_default()
    today = kst_day(now())

    def read(c: Any) -> dict[str, Any]:
        policy_views.budget(c, admin, budget_id)  # 404 outside the caller's area
        burn = foresight.burns(c, [budget_id], today, days, horizon)[budget_id]
        return {
            "budget": budget_id,
            "today": today.isoformat(),
            "days": burn.days,
            "forecast": burn.forecast.as_dict(),
        }

    return db.read(read)


@router.get("/stats/daily")
def stats_daily(
    db: DB,
    admin: Admin,
    from_: Annotated[
        str | None, Query(alias="from", pattern=DAY, description="첫날 (기본: 29일 전)")
    ] = None,
    to: Annotated[str | None, Query(pattern=DAY, description="마지막 날 (기본: 오늘)")] = None,
    issuer: Annotated[str | None, Query(max_length=64, description="발행처 (관할 안에서)")] = None,
    split: Annotated[
        str | None, Query(pattern="^(district|category)$", description="결제를 구·업종별로 나눔")
    ] = None,
) -> dict[str, Any]:
    """일별 통계 (SPEC 4): 가입, 그달 첫 결제 회원, 발행액, 결제액, 캐시백, 수수료 지원, 기부,
    역내 결제 비중, 재정 승수. 결제는 구(district) 또는 업종(category)별로 나눌 수 있습니다."""
    last = _day(to, "to", kst_day(now()))
    first = _day(from_, "from", last - timedelta(days=29))
    if first > last:
        raise errors.InvalidRequest("from is after to", field="from")
    if (last - first).days + 1 > daily_stats.MAX_DAYS:
        raise errors.InvalidRequest(f"at most {daily_stats.MAX_DAYS} days", field="from")
    return db.read(
        lambda c: daily_stats.daily(c, stats.area_for(c, admin, issuer), first, last, split)
    )
