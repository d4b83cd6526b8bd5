"""Budget burn and forecasts from the day counters, their alerts in the API, and the
statistics per day: arithmetic by hand, the API against sums of the events' results."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from eum.clock import KST, kst_day, now, parse_time
from eum.policy import service as policy
from eum.stats import foresight
from tests.api_support import Api


def test_forecast_arithmetic() -> None:
    day = date(2026, 11, 30)
    week = [100] * 7
    assert foresight.forecast(700, week, day).runs_out == day + timedelta(days=7)
    assert foresight.forecast(701, week, day).days_left == 8  # the day it runs out counts
    assert foresight.forecast(0, week, day).state == "empty"
    assert foresight.forecast(500, [0] * 7, day).state == "idle"
    assert foresight.forecast(100, week, day).state == "soon"
    # 300 / 100 a day = 3 days left: an alert within a 3-day horizon, not a 2-day one
    assert foresight.forecast(300, week, day, alert_days=2).state == "ok"
    assert foresight.forecast(300, week, day, alert_days=3).alert
    # a fast week (1,400) and a slow one (350) three weeks ago give the range
    days = [50] * 7 + [200] * 7 + [100] * 7 + [100] * 7
    fc = foresight.forecast(1_400, days, day)
    assert (fc.days_left, fc.runs_out) == (14, day + timedelta(days=14))
    assert fc.earliest == day + timedelta(days=7)  # 1,400 / 200 a day
    assert fc.latest == day + timedelta(days=28)  # 1,400 / 50 a day
    # days before the budget paid anything are not a slow week
    fc = foresight.forecast(700, [0] * 21 + [100] * 7, day)
    assert fc.earliest == fc.latest == fc.runs_out
    # a week of nothing since it started paying: no latest day
    assert foresight.forecast(700, [100] + [0] * 7 + [100] * 7, day).latest is None
    assert foresight.forecast(10**18, [1] * 7, day).runs_out == date.max


def test_forecast_alert_days_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EUM_BUDGET_ALERT_DAYS", "30")
    assert foresight.alert_days_default() == 30
    monkeypatch.setenv("EUM_BUDGET_ALERT_DAYS", "0")
    assert foresight.alert_days_default() == foresight.DEFAULT_ALERT_DAYS
    monkeypatch.setenv("EUM_BUDGET_ALERT_DAYS", "soon")
    assert foresight.alert_days_default() == foresight.DEFAULT_ALERT_DAYS


def _noon(days_ago: int) -> str:
    day = kst_day(now()) - timedelta(days=days_ago)
    return datetime.combine(day, time(12), KST).isoformat()


def _burning(engine: Engine) -> Api:
    """A Gyeyang budget of 20,000원 opened ten days ago paying 10% of payments at the
    mart: 1,000원 eight days ago and on each of the last three days; a refund of half of
    yesterday's payment gives 500원 back today; 5,000원 more was funded two days ago."""
    api = Api(engine)
    platform = api.platform
    platform.run(
        policy.create_budget, id="gy-burn", owner="gyeyang", amount_krw=20_000,
        at=parse_time(_noon(10)),
    )  # fmt: skip
    platform.run(
        policy.create_rule,
        {"id": "gy-burn-10", "kind": "cashback", "owner": "gyeyang", "budget": "gy-burn",
         "rate_bps": 1_000},
        at=parse_time(_noon(10)),
    )  # fmt: skip
    assert platform.event("charge", at=_noon(9), key="c1", member="u-kim", amount=500_000)["ok"]
    for n, days_ago in enumerate((8, 3, 2, 1)):
        paid = platform.event(
            "pay", at=_noon(days_ago), key=f"p{n}", member="u-kim", merchant="m-mart",
            amount=10_000,
        )  # fmt: skip
        assert paid["cashback"]["gy-burn-10"] == 1_000
    assert platform.event("fund", at=_noon(2), key="f1", budget="gy-burn", amount=5_000)["ok"]
    back = platform.event("refund", at=now().isoformat(), key="r1", payment="p3", amount=5_000)
    assert back["ok"], back
    return api


def test_the_burn_and_forecast_api_follows_the_budget_account(engine: Engine) -> None:
    api = _burning(engine)
    today = kst_day(now())
    got = api.as_("gyeyang-admin").get("/api/v1/budgets/gy-burn/burn?days=11")
    assert got.status_code == 200, got.text
    body = got.json()
    by_day = {d["day"]: d for d in body["days"]}
    assert len(body["days"]) == 11 and body["days"][0]["day"] == (today - timedelta(10)).isoformat()
    assert by_day[(today - timedelta(10)).isoformat()] == {
        "day": (today - timedelta(10)).isoformat(), "funded": 20_000, "spent": 0,
        "remaining": 20_000,
    }  # fmt: skip
    assert by_day[(today - timedelta(2)).isoformat()]["funded"] == 5_000
    assert by_day[today.isoformat()]["spent"] == -500  # the refund gave 500원 back today
    remaining = 20_000 + 5_000 - 4 * 1_000 + 500
    assert by_day[today.isoformat()]["remaining"] == remaining == 21_500
    recent = 3 * 1_000 - 500  # the last seven days, net of the claw-back
    fc = body["forecast"]
    assert (fc["remaining"], fc["spent_last_days"], fc["daily_burn"]) == (remaining, recent, 357)
    days_left = -(-remaining * 7 // recent)
    assert fc["days_left"] == days_left == 61
    assert fc["runs_out"] == (today + timedelta(days=days_left)).isoformat()
    assert (fc["state"], fc["alert"], fc["alert_days"]) == ("ok", False, 7)
    # a longer horizon raises the alert
    fc = api.as_("gyeyang-admin").get("/api/v1/budgets/gy-burn/burn?alert_days=90").json()
    assert (fc["forecast"]["state"], fc["forecast"]["alert"]) == ("soon", True)
    listed = api.as_("gyeyang-admin").get("/api/v1/budget-forecasts?alert_days=90").json()
    assert "gy-burn" in listed["alerts"] and listed["alert_days"] == 90
    item = next(i for i in listed["items"] if i["budget"] == "gy-burn")
    assert item["runs_out"] == (today + timedelta(days=days_left)).isoformat()
    listed = api.as_("gyeyang-admin").get("/api/v1/budget-forecasts").json()
    assert "gy-burn" not in listed["alerts"]
    # another district's admin: as if it did not exist; a member: not allowed
    assert api.as_("bupyeong-admin").get("/api/v1/budgets/gy-burn/burn").status_code == 404
    other = api.as_("bupyeong-admin").get("/api/v1/budget-forecasts").json()
    assert all(i["budget"] != "gy-burn" for i in other["items"])
    assert api.as_("kim").get("/api/v1/budget-forecasts").status_code == 403
    assert api.as_("gyeyang-admin").get("/api/v1/budgets/gy-burn/burn?days=0").status_code in (
        400,
        422,
    )


def test_daily_statistics_add_up_to_the_events(engine: Engine) -> None:
    api = _burning(engine)
    platform = api.platform
    today = kst_day(now())
    assert platform.event("charge", at=_noon(1), key="c2", member="u-lee", amount=30_000)["ok"]
    paid = platform.event(
        "pay", at=_noon(1), key="cafe", member="u-lee", merchant="m-cafe", amount=20_000
    )
    assert paid["ok"]
    gave = platform.event("donate", at=_noon(1), key="d1", member="u-kim", campaign="nanum",
                          amount=300)  # fmt: skip
    assert gave["ok"], gave

    def get(login: str, query: str) -> dict[str, Any]:
        r = api.as_(login).get(f"/api/v1/stats/daily?{query}")
        assert r.status_code == 200, r.text
        return r.json()

    frm, to = (today - timedelta(days=9)).isoformat(), today.isoformat()
    city = get("incheon-admin", f"from={frm}&to={to}")
    assert len(city["days"]) == 10
    yesterday = next(d for d in city["days"] if d["day"] == (today - timedelta(1)).isoformat())
    # the mart's 10,000 (half refunded today: counted on the payment's day) and the cafe's
    assert yesterday["payment_count"] == 2
    assert yesterday["payments"] == 5_000 + paid["charged"]
    assert yesterday["donations"] == 300
    mart_now = platform.state()["payments"]["p3"]["cashback"]  # after the half refund
    assert mart_now["gy-burn-10"] == 500
    cashback = sum(mart_now.values()) + sum(paid["cashback"].values())
    assert yesterday["cashback"] == cashback
    issued = next(d for d in city["days"] if d["day"] == (today - timedelta(9)).isoformat())
    assert issued["issuance"] == 500_000
    assert yesterday["issuance"] == 30_000
    total_paid = sum(d["payments"] for d in city["days"])
    assert total_paid == 4 * 10_000 - 5_000 + paid["charged"]
    assert sum(d["new_active"] for d in city["days"]) >= 1
    gyeyang = get("gyeyang-admin", f"from={frm}&to={to}&split=district")
    y = next(d for d in gyeyang["days"] if d["day"] == yesterday["day"])
    assert y["payments"] == 5_000  # the cafe is in Bupyeong
    assert y["by_district"] == [{"district": "gyeyang", "count": 1, "payments": 5_000}]
    assert api.as_("bupyeong-admin").get("/api/v1/stats/daily?issuer=gyeyang").status_code == 404
    bad = api.as_("incheon-admin").get(f"/api/v1/stats/daily?from={to}&to={frm}")
    assert bad.status_code in (400, 422)
