"""The issuer's side of the API: issuers, rules with their history, budgets and fundings,
each scoped to the admin's area, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from eum.clock import now
from eum.merchants import service as merchants
from tests.api_support import Api


@pytest.fixture
def api(engine: Engine) -> Api:
    return Api(engine)


def promo_rule(**extra: Any) -> dict[str, Any]:
    return {
        "id": "gy-spring",
        "kind": "cashback",
        "owner": "gyeyang",
        "budget": "gy-spring",
        "rate_bps": 1000,
        "monthly_cap": 100_000,
        "name": "계양 봄맞이",
        **extra,
    }


def open_promo(api: Api, amount: int = 300) -> None:
    admin = api.as_("gyeyang-admin")
    budget = {"id": "gy-spring", "owner": "gyeyang", "amount": amount, "name": "봄맞이 예산"}
    assert admin.post("/api/v1/budgets", json=budget).status_code == 201
    assert admin.post("/api/v1/rules", json=promo_rule()).status_code == 201


def kim_pays(api: Api, merchant: str, amount: int, charge: int = 0) -> dict[str, Any]:
    if charge:
        assert api.money("kim", "/api/v1/charges", {"amount": charge}).status_code == 201
    paid = api.money("kim", "/api/v1/payments", {"merchant": merchant, "amount": amount})
    assert paid.status_code == 201, paid.json()
    return paid.json()  # type: ignore[no-any-return]


def audit_actions(api: Api, login: str) -> list[tuple[str, str, str | None]]:
    items = api.as_(login).get("/api/v1/audit", params={"limit": 100}).json()["items"]
    return [(i["action"], i["actor_login"], i["issuer_id"]) for i in items]


def test_anyone_logged_in_sees_the_issuer_tree(api: Api) -> None:
    got = api.as_("kim").get("/api/v1/issuers")
    assert got.status_code == 200
    by_id = {i["id"]: i for i in got.json()["items"]}
    assert by_id["gyeyang"] == {
        "id": "gyeyang",
        "name": "계양e음",
        "parent": "incheon",
        "districts": ["gyeyang"],
        "covers": ["gyeyang"],
    }
    assert by_id["incheon"]["parent"] is None and len(by_id["incheon"]["covers"]) == 10
    assert api.anonymous.get("/api/v1/issuers").status_code == 401


def test_an_operator_adds_an_issuer_and_the_audit_log_says_so(api: Api) -> None:
    body = {"id": "yeonsu", "name": "연수e음", "districts": ["yeonsu"], "parent": "incheon"}
    assert api.as_("incheon-admin").post("/api/v1/issuers", json=body).json()["code"] == "forbidden"
    made = api.as_("operator").post("/api/v1/issuers", json=body)
    assert made.status_code == 201
    assert made.json() == {**body, "covers": ["yeonsu"]}
    again = api.as_("operator").post("/api/v1/issuers", json=body)
    assert (again.status_code, again.json()["code"]) == (409, "already_exists")
    assert audit_actions(api, "operator")[0] == ("issuer.create", "operator", "yeonsu")


def test_a_gyeyang_rule_pays_cashback_until_its_budget_runs_out(api: Api) -> None:
    open_promo(api, amount=300)
    paid = kim_pays(api, "m-mart", 5_000, charge=100_000)
    # 10% of 5,000 is 500, but the budget holds 300 (SPEC 3.7: min(raw, budget remaining))
    assert paid["cashback"] == {"incheon-base": 200, "gyeyang-launch": 50, "gy-spring": 300}
    again = kim_pays(api, "m-mart", 5_000)
    assert again["cashback"]["gy-spring"] == 0  # listed, with nothing left to pay
    budget = api.as_("gyeyang-admin").get("/api/v1/budgets/gy-spring").json()
    assert (budget["funded"], budget["spent"], budget["remaining"]) == (300, 300, 0)
    assert budget["owner"] == "gyeyang" and budget["name"] == "봄맞이 예산"


def test_a_rule_keeps_every_condition_it_was_given(api: Api) -> None:
    spec = {
        "id": "gy-market",
        "kind": "fee_support",
        "owner": "gyeyang",
        "budget": "gyeyang-fee",
        "rate_bps": 30,
        "monthly_cap": 50_000,
        "cards": "gyeyang",
        "districts": ["gyeyang"],
        "card_kinds": ["business", "personal"],
        "merchant_tiers": ["benefit_plus"],
        "max_annual_sales": 500_000_000,
        "channels": ["card", "qr"],
        "merchant_group": None,
        "from": "2026-03-01",
        "until": "2026-12-31",
        "name": "전통시장 수수료 지원",
    }
    made = api.as_("gyeyang-admin").post("/api/v1/rules", json=spec)
    assert made.status_code == 201, made.json()
    got = made.json()
    assert {k: got[k] for k in spec} == spec
    assert got["active"] is True and got["seq"] == 4
    assert [h["change"] for h in got["history"]] == ["created"]
    assert got["history"][0]["changed_by"] == "gyeyang-admin"
    assert got["history"][0]["spec"]["until"] == "2026-12-31"


def test_history_shows_create_change_and_close_and_the_audit_log_shows_who(api: Api) -> None:
    open_promo(api, amount=10_000)
    admin = api.as_("gyeyang-admin")
    changed = admin.patch("/api/v1/rules/gy-spring", json={"rate_bps": 500, "monthly_cap": None})
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["rate_bps"], changed.json()["monthly_cap"]) == (500, None)
    assert kim_pays(api, "m-mart", 2_000, charge=10_000)["cashback"]["gy-spring"] == 100
    closed = admin.post("/api/v1/rules/gy-spring/close")
    assert closed.status_code == 200 and closed.json()["active"] is False
    assert "gy-spring" not in kim_pays(api, "m-mart", 2_000)["cashback"]
    history = admin.get("/api/v1/rules/gy-spring").json()["history"]
    assert [(h["version"], h["change"], h["changed_by"]) for h in history] == [
        (1, "created", "gyeyang-admin"),
        (2, "changed", "gyeyang-admin"),
        (3, "closed", "gyeyang-admin"),
    ]
    assert (history[0]["spec"]["rate_bps"], history[1]["spec"]["rate_bps"]) == (1000, 500)
    assert history[2]["spec"]["active"] is False
    twice = admin.post("/api/v1/rules/gy-spring/close")
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_state")
    assert audit_actions(api, "incheon-admin")[:4] == [
        ("rule.close", "gyeyang-admin", "gyeyang"),
        ("rule.change", "gyeyang-admin", "gyeyang"),
        ("rule.create", "gyeyang-admin", "gyeyang"),
        ("budget.create", "gyeyang-admin", "gyeyang"),
    ]


def test_bupyeong_admin_neither_sees_nor_changes_a_gyeyang_rule(api: Api) -> None:
    open_promo(api)
    other = api.as_("bupyeong-admin")
    missing = other.get("/api/v1/rules/gy-spring")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_rule")
    assert other.get("/api/v1/rules").json()["items"] == []
    patched = other.patch("/api/v1/rules/gy-spring", json={"rate_bps": 9000})
    assert (patched.status_code, patched.json()["code"]) == (403, "forbidden")
    assert other.post("/api/v1/rules/gy-spring/close").status_code == 403
    stolen = other.post("/api/v1/rules", json=promo_rule(id="theirs"))
    assert (stolen.status_code, stolen.json()["field"]) == (403, "owner")
    assert api.as_("incheon-admin").get("/api/v1/rules/gy-spring").json()["rate_bps"] == 1000
    assert audit_actions(api, "bupyeong-admin") == []


def test_an_admin_targets_only_districts_of_its_area_and_of_the_owner(api: Api) -> None:
    outside = api.as_("gyeyang-admin").post(
        "/api/v1/rules", json=promo_rule(budget=None, districts=["bupyeong"])
    )
    assert (outside.status_code, outside.json()["field"]) == (403, "districts")
    not_owner = api.as_("incheon-admin").post(
        "/api/v1/rules", json=promo_rule(budget=None, districts=["bupyeong"])
    )
    assert (not_owner.status_code, not_owner.json()["code"]) == (422, "invalid_request")
    foreign_budget = api.as_("gyeyang-admin").post(
        "/api/v1/rules", json=promo_rule(budget="incheon-cashback")
    )
    assert (foreign_budget.status_code, foreign_budget.json()["field"]) == (403, "budget")
    assert api.as_("kim").post("/api/v1/rules", json=promo_rule()).status_code == 403


def test_members_see_the_rules_that_apply_to_their_card(api: Api) -> None:
    kim = [r["id"] for r in api.as_("kim").get("/api/v1/rules").json()["items"]]
    lee = [r["id"] for r in api.as_("lee").get("/api/v1/rules").json()["items"]]
    assert (kim, lee) == (["incheon-base", "gyeyang-launch"], ["incheon-base"])
    assert api.as_("lee").get("/api/v1/rules/gyeyang-launch").status_code == 404
    seen = api.as_("kim").get("/api/v1/rules/gyeyang-launch").json()
    assert seen["rate_bps"] == 100 and "history" not in seen
    everything = api.as_("operator").get("/api/v1/rules").json()["items"]
    assert [r["id"] for r in everything] == ["incheon-base", "gyeyang-launch", "gyeyang-fee"]


def test_budgets_are_listed_for_the_admins_area_only(api: Api) -> None:
    def ids(login: str) -> list[str]:
        return [b["id"] for b in api.as_(login).get("/api/v1/budgets").json()["items"]]

    assert ids("gyeyang-admin") == ["gyeyang-event", "gyeyang-fee"]
    assert ids("incheon-admin") == ["gyeyang-event", "gyeyang-fee", "incheon-cashback"]
    assert ids("bupyeong-admin") == []
    hidden = api.as_("bupyeong-admin").get("/api/v1/budgets/gyeyang-event")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "unknown_budget")
    assert api.as_("kim").get("/api/v1/budgets").status_code == 403
    kim_pays(api, "m-mart", 10_000, charge=20_000)
    event = api.as_("gyeyang-admin").get("/api/v1/budgets/gyeyang-event").json()
    assert (event["funded"], event["spent"], event["remaining"]) == (1_000, 100, 900)


def test_a_market_street_budget_belongs_to_the_admins_of_its_merchants(api: Api) -> None:
    api.platform.run(
        lambda c: merchants.create_merchant_group(
            c, id="gyesan-street", name="계산 상점가", merchant_ids=["m-bunsik", "m-mart"], at=now()
        )
    )
    body = {"id": "street-promo", "owner": "gyesan-street", "amount": 5_000}
    assert api.as_("bupyeong-admin").post("/api/v1/budgets", json=body).status_code == 403
    made = api.as_("gyeyang-admin").post("/api/v1/budgets", json=body)
    assert made.status_code == 201
    assert (made.json()["owner_kind"], made.json()["remaining"]) == ("merchant_group", 5_000)
    assert "street-promo" not in [
        b["id"] for b in api.as_("bupyeong-admin").get("/api/v1/budgets").json()["items"]
    ]
    assert audit_actions(api, "gyeyang-admin")[0] == ("budget.create", "gyeyang-admin", "gyeyang")


def test_a_funding_replayed_with_its_key_funds_once(api: Api) -> None:
    path = "/api/v1/budgets/gyeyang-event/fundings"
    first = api.money("gyeyang-admin", path, {"amount": 500}, key="fund-1")
    again = api.money("gyeyang-admin", path, {"amount": 500}, key="fund-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json() and first.json()["amount"] == 500
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.money("gyeyang-admin", path, {"amount": 700}, key="fund-1")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    budget = api.as_("gyeyang-admin").get("/api/v1/budgets/gyeyang-event").json()
    assert (budget["funded"], budget["remaining"]) == (1_500, 1_500)
    funds = [a for a in audit_actions(api, "gyeyang-admin") if a[0] == "budget.fund"]
    assert funds == [("budget.fund", "gyeyang-admin", "gyeyang")]
    foreign = api.money("bupyeong-admin", path, {"amount": 500})
    assert (foreign.status_code, foreign.json()["code"]) == (403, "forbidden")
    bad = api.money("gyeyang-admin", path, {"amount": 500.0})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_amount")
    missing = api.money("operator", "/api/v1/budgets/nope/fundings", {"amount": 5})
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_budget")


def test_a_closed_budget_gives_back_what_is_left_and_pays_no_more(engine: Engine) -> None:
    api = Api(engine)
    gyeyang = api.as_("gyeyang-admin")
    renamed = gyeyang.patch("/api/v1/budgets/gyeyang-event", json={"name": "계양 출시 이벤트"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "계양 출시 이벤트"
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000})  # launch: 100
    assert api.as_("bupyeong-admin").post(
        "/api/v1/budgets/gyeyang-event/close", headers={"Idempotency-Key": "x"}
    ).status_code in (403, 404)
    closed = api.money("gyeyang-admin", "/api/v1/budgets/gyeyang-event/close", {}, key="close-1")
    assert closed.status_code == 200 and closed.json()["returned"] == 1_000 - 100
    view = gyeyang.get("/api/v1/budgets/gyeyang-event").json()
    assert (view["remaining"], view["funded"], view["spent"]) == (0, 100, 100)
    assert [h["kind"] for h in view["history"]] == ["budget_open", "budget_close"]
    assert [h["amount"] for h in view["history"]] == [1_000, -900]
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).json()
    assert paid["cashback"]["gyeyang-launch"] == 0 and paid["cashback"]["incheon-base"] == 400
    again = api.money("gyeyang-admin", "/api/v1/budgets/gyeyang-event/close", {}, key="close-2")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    refused = api.money("gyeyang-admin", "/api/v1/budgets/gyeyang-event/fundings", {"amount": 5})
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_state"
    actions = [e["action"] for e in gyeyang.get("/api/v1/audit").json()["items"]]
    assert actions[:2] == ["budget.close", "budget.change"]
