"""Operations through the API: settlement runs, ledger verification, the audit log and the
area statistics of SPEC 4, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from eum.clock import kst_month, now
from eum.stats.views import months_until
from tests.api_support import Api


@pytest.fixture
def api(engine: Engine) -> Api:
    return Api(engine)


def pay(api: Api, login: str, merchant: str, amount: int) -> dict[str, Any]:
    paid = api.money(login, "/api/v1/payments", {"merchant": merchant, "amount": amount})
    assert paid.status_code == 201, paid.json()
    return paid.json()  # type: ignore[no-any-return]


def a_few_payments(api: Api) -> None:
    """Gyeyang card kim pays in Gyeyang and Bupyeong; Incheon card lee pays in both too;
    the mart then refunds 2,000 of kim's 10,000.

    kim@mart 10,000: cashback 400 (incheon) + 100 (gyeyang), fee 150, no fee support (sales).
    kim@cafe 5,000: 500 of it from cashback; cashback 200 (incheon); fee 40.
    lee@bunsik 1,000: 3% off, charged 970; cashback 38 (incheon); fee 7, Gyeyang supports 4.
    lee@cafe 2,000: cashback 80 (incheon); fee 16.
    refund 2,000 of 10,000: cashback becomes 320 + 80, fee 120.
    """
    api.money("kim", "/api/v1/charges", {"amount": 100_000})
    api.money("lee", "/api/v1/charges", {"amount": 50_000})
    at_mart = pay(api, "kim", "m-mart", 10_000)
    pay(api, "kim", "m-cafe", 5_000)
    pay(api, "lee", "m-bunsik", 1_000)
    pay(api, "lee", "m-cafe", 2_000)
    refunded = api.money(
        "mart", f"/api/v1/payments/{at_mart['payment_id']}/refunds", {"amount": 2_000}
    )
    assert refunded.status_code == 201, refunded.json()


def overview(api: Api, login: str, **params: Any) -> dict[str, Any]:
    got = api.as_(login).get("/api/v1/stats/overview", params=params)
    assert got.status_code == 200, got.json()
    return got.json()  # type: ignore[no-any-return]


FIGURES = (
    "members",
    "active_members",
    "issuance",
    "payment_count",
    "payments",
    "cashback",
    "fee_support",
    "card_payments",
    "own_district_payments",
    "own_district_share_bps",
    "fiscal_leverage",
)


def figures(found: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(found[k] for k in FIGURES)


def test_a_settlement_run_pays_out_positive_receivables_once(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    pay(api, "kim", "m-mart", 10_000)  # receivable 10,000 - fee 150
    pay(api, "kim", "m-bunsik", 1_000)  # 970 - fee 7 + fee support 4
    assert api.money("gyeyang-admin", "/api/v1/settlements", {}).status_code == 403
    run = api.money("operator", "/api/v1/settlements", {}, key="settle-1")
    assert run.status_code == 201
    assert (run.json()["merchants"], run.json()["amount"]) == (2, 9_850 + 967)
    replay = api.money("operator", "/api/v1/settlements", {}, key="settle-1")
    assert replay.json() == run.json() and replay.headers["Idempotent-Replayed"] == "true"
    empty = api.money("operator", "/api/v1/settlements", {})
    assert empty.json() == {"settlement_id": None, "merchants": 0, "amount": 0}
    state = api.platform.state()["merchants"]
    assert state["m-mart"] == {"receivable": 0, "settled": 9_850}
    assert state["m-bunsik"] == {"receivable": 0, "settled": 967}
    listed = api.as_("operator").get("/api/v1/settlements").json()["items"]
    assert [(s["id"], s["amount"]) for s in listed] == [(run.json()["settlement_id"], 10_817)]
    assert listed[0]["lines"] == [
        {"merchant": "m-bunsik", "amount": 967},
        {"merchant": "m-mart", "amount": 9_850},
    ]
    assert api.as_("gyeyang-admin").get("/api/v1/settlements").status_code == 403


def test_the_operator_verifies_the_ledger(api: Api) -> None:
    a_few_payments(api)
    found = api.as_("operator").get("/api/v1/ledger/verify")
    assert found.status_code == 200
    body = found.json()
    assert (body["ok"], body["postings_total"], body["mismatches"]) == (True, 0, [])
    # 2 charges, 4 payments, 1 refund and the 3 budgets opened at set-up
    assert body["entries_checked"] == 10
    assert body["accounts_checked"] > 10
    assert api.as_("incheon-admin").get("/api/v1/ledger/verify").status_code == 403


def test_the_audit_log_is_scoped_and_paged(api: Api) -> None:
    for login, owner in (("gyeyang-admin", "gyeyang"), ("bupyeong-admin", "bupyeong")):
        body = {"id": f"{owner}-extra", "owner": owner, "amount": 100}
        assert api.as_(login).post("/api/v1/budgets", json=body).status_code == 201

    def targets(login: str, **params: Any) -> list[str]:
        items = api.as_(login).get("/api/v1/audit", params=params).json()["items"]
        return [i["target"] for i in items]

    both = ["budget:bupyeong-extra", "budget:gyeyang-extra"]
    assert targets("operator") == both and targets("incheon-admin") == both
    assert targets("gyeyang-admin") == ["budget:gyeyang-extra"]
    assert targets("bupyeong-admin") == ["budget:bupyeong-extra"]
    first = api.as_("operator").get("/api/v1/audit", params={"limit": 1}).json()
    assert [i["target"] for i in first["items"]] == both[:1] and first["next_cursor"]
    second = (
        api.as_("operator")
        .get("/api/v1/audit", params={"limit": 1, "cursor": first["next_cursor"]})
        .json()
    )
    assert [i["target"] for i in second["items"]] == both[1:] and second["next_cursor"] is None
    entry = second["items"][0]
    assert (entry["actor_login"], entry["actor_role"], entry["detail"]["amount"]) == (
        "gyeyang-admin",
        "issuer_admin",
        100,
    )
    assert api.as_("kim").get("/api/v1/audit").status_code == 403
    bad = api.as_("operator").get("/api/v1/audit", params={"cursor": "!!"})
    assert bad.status_code == 422


def test_overview_figures_of_gyeyang_and_of_all_incheon(api: Api) -> None:
    a_few_payments(api)
    gyeyang = overview(api, "gyeyang-admin")
    assert (gyeyang["issuer"], gyeyang["month"]) == ("gyeyang", kst_month(now()))
    # payments in Gyeyang 8,000 + 970; support from Gyeyang budgets 80 + 4;
    # Gyeyang cards paid 13,000, of which 8,000 in Gyeyang
    assert figures(gyeyang) == (1, 1, 100_000, 2, 8_970, 80, 4, 13_000, 8_000, 6_153, 106.79)
    incheon = overview(api, "incheon-admin")
    # cashback 320 + 80 + 200 + 38 + 80; an Incheon card is at home anywhere in Incheon
    assert figures(incheon) == (2, 2, 150_000, 4, 15_970, 718, 4, 15_970, 10_970, 6_869, 22.12)
    assert figures(overview(api, "operator")) == figures(incheon)
    assert figures(overview(api, "operator", issuer="gyeyang")) == figures(gyeyang)
    assert figures(overview(api, "incheon-admin", issuer="gyeyang")) == figures(gyeyang)
    bupyeong = overview(api, "bupyeong-admin")
    assert figures(bupyeong) == (0, 0, 0, 2, 7_000, 0, 0, 0, 0, None, None)


def test_an_admin_sees_no_statistics_outside_its_area(api: Api) -> None:
    hidden = api.as_("gyeyang-admin").get("/api/v1/stats/overview", params={"issuer": "bupyeong"})
    assert (hidden.status_code, hidden.json()["code"]) == (404, "unknown_issuer")
    assert api.as_("kim").get("/api/v1/stats/overview").status_code == 403
    bad = api.as_("operator").get("/api/v1/stats/overview", params={"month": "2026-13"})
    assert bad.status_code == 422


def test_monthly_figures_run_oldest_first_up_to_this_month(api: Api) -> None:
    a_few_payments(api)
    got = api.as_("gyeyang-admin").get("/api/v1/stats/monthly", params={"months": 3})
    assert got.status_code == 200
    months = got.json()["months"]
    assert [m["month"] for m in months] == months_until(kst_month(now()), 3)
    assert [m["payments"] for m in months] == [0, 0, 8_970]
    assert [m["members"] for m in months] == [1, 1, 1]
    assert [m["active_members"] for m in months] == [0, 0, 1]
    assert months_until("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
