"""Scheduled step-downs (and step-ups) of cashback and fee-support rules: a rule carries
rate changes announced in advance; on a payment's KST day it pays the rate of the last
step begun by then. Citizens see a change before it takes effect, admins the schedule
and its history; the API, the scenario files and the rule form all take ``steps``."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from eum import clock, errors
from eum.clock import kst_day, parse_time
from eum.money import rules as money
from eum.money.model import Rule
from eum.policy import service as policy
from tests.api_support import Api
from tests.conftest import GYEYANG, GYEYANG_CITY, INCHEON, Platform
from tests.web_support import Web, web_as

BPS = 10_000


def floor_bps(amount: int, bps: int) -> int:
    """SPEC 3.1/3.7: amount x rate, rounded down, worked out apart from the code."""
    return amount * bps // BPS


# --- the rate on a day, as a pure function ----------------------------------------------


def a_rule(kind: str = "cashback", rate_bps: int = 400, steps: Any = ()) -> Rule:
    return Rule(
        id="r",
        kind=kind,  # type: ignore[arg-type]
        owner_id="incheon",
        budget_id=None,
        rate_bps=rate_bps,
        monthly_cap_krw=None,
        card_issuers=None,
        districts=frozenset({"gyeyang"}),
        card_kinds=None,
        merchant_tiers=None,
        max_annual_sales_krw=None,
        channels=None,
        merchant_group=None,
        valid_from=None,
        valid_until=None,
        steps=tuple(steps),
    )


JUNE, JULY = date(2020, 6, 1), date(2020, 7, 1)


def test_the_rate_is_the_last_step_begun_by_the_day_else_the_rule_s_own() -> None:
    rule = a_rule(steps=[(JUNE, 300), (JULY, 450)])
    assert rule.rate_on(date(2020, 5, 31)) == 400
    assert rule.rate_on(JUNE) == 300
    assert rule.rate_on(date(2020, 6, 30)) == 300
    assert rule.rate_on(JULY) == 450  # a step up is just another step
    assert rule.rate_on(date(2031, 1, 1)) == 450
    assert a_rule().rate_on(JUNE) == 400
    assert rule.steps_after(date(2020, 5, 31)) == ((JUNE, 300), (JULY, 450))
    assert rule.steps_after(JUNE) == ((JULY, 450),)
    assert rule.steps_after(JULY) == ()


def test_cashback_and_fee_support_use_the_rate_of_the_payment_s_day() -> None:
    cashback = a_rule(steps=[(JUNE, 300)])
    before = money.cashback([cashback], 12_345, {}, {}, day=date(2020, 5, 31))
    after = money.cashback([cashback], 12_345, {}, {}, day=JUNE)
    assert (before[0].amount_krw, after[0].amount_krw) == (493, 370)  # 493.8, 370.35
    support = a_rule("fee_support", 50, [(JUNE, 30)])
    assert money.fee_support([support], 12_345, 98, {}, day=date(2020, 5, 31))[0].amount_krw == 61
    assert money.fee_support([support], 12_345, 98, {}, day=JUNE)[0].amount_krw == 37


def test_a_rule_with_steps_cannot_be_applied_without_the_payment_s_day() -> None:
    with pytest.raises(AssertionError, match="day"):
        money.cashback([a_rule(steps=[(JUNE, 300)])], 10_000, {}, {})


# --- payments through the services, on SQLite and PostgreSQL ----------------------------

STEPPED: dict[str, Any] = {
    "issuers": [INCHEON, GYEYANG],
    "budgets": [
        {"id": "base-budget", "owner": "incheon", "amount": 10_000_000},
        {"id": "fee-budget", "owner": "gyeyang", "amount": 1_000_000},
    ],
    "rules": [
        {
            "id": "base",
            "kind": "cashback",
            "owner": "incheon",
            "budget": "base-budget",
            "rate_bps": 400,
            "monthly_cap": 300_000,
            "steps": [
                {"from": "2020-06-01", "rate_bps": 300},
                {"from": "2020-07-01", "rate_bps": 450},
            ],
        },
        {
            "id": "fee",
            "kind": "fee_support",
            "owner": "gyeyang",
            "budget": "fee-budget",
            "rate_bps": 50,
            "steps": [{"from": "2020-06-01", "rate_bps": 30}],
        },
    ],
    "merchants": [
        {"id": "m-shop", "name": "계산동 분식", "district": "gyeyang", "card_fee_bps": 80}
    ],
    "members": [{"id": "u-kim", "card": "gyeyang"}],
}
AMOUNT = 12_345
FEE = floor_bps(AMOUNT, 80)  # 98


@pytest.fixture
def stepped(platform: Platform) -> Platform:
    platform.setup(STEPPED)
    assert platform.event("charge", "2020-05-01T10:00", key="c", member="u-kim", amount=500_000)[
        "ok"
    ]
    return platform


def pay(p: Platform, at: str, key: str) -> dict[str, Any]:
    paid = p.event("pay", at, key=key, member="u-kim", merchant="m-shop", amount=AMOUNT)
    assert paid["ok"], paid
    return paid


@pytest.mark.parametrize(
    ("at", "cashback_bps", "support_bps"),
    [
        ("2020-05-31T23:59:00+09:00", 400, 50),  # the last minute before the step
        ("2020-05-31T14:59:59+00:00", 400, 50),  # the same day in UTC terms
        ("2020-06-01T00:00:00+09:00", 300, 30),  # the step's first minute, KST
        ("2020-05-31T15:00:00+00:00", 300, 30),  # still 1 June in Seoul
        ("2020-06-30T23:59:59+09:00", 300, 30),
        ("2020-07-01T00:00:00+09:00", 450, 30),  # a step up; fee support has no July step
    ],
)
def test_a_payment_earns_the_rate_of_its_kst_day(
    stepped: Platform, at: str, cashback_bps: int, support_bps: int
) -> None:
    paid = pay(stepped, at, "p")
    assert paid["cashback"] == {"base": floor_bps(AMOUNT, cashback_bps)}
    assert paid["fee"] == FEE
    assert paid["fee_support"] == {"fee": min(FEE, floor_bps(AMOUNT, support_bps))}


def test_the_step_changes_the_rate_exactly_at_kst_midnight(stepped: Platform) -> None:
    before = pay(stepped, "2020-05-31T23:59:00+09:00", "p-before")
    after = pay(stepped, "2020-06-01T00:00:00+09:00", "p-after")
    # SPEC 3.7 floor(12,345 x 4%) = floor(493.8); floor(12,345 x 3%) = floor(370.35)
    assert (before["cashback"]["base"], after["cashback"]["base"]) == (493, 370)
    # SPEC 3.8 min(fee 98, floor(12,345 x 0.5%) = 61), then min(98, floor(37.035))
    assert (before["fee_support"]["fee"], after["fee_support"]["fee"]) == (61, 37)
    state = stepped.state()
    assert state["budgets"]["base-budget"]["remaining"] == 10_000_000 - 493 - 370
    assert state["budgets"]["fee-budget"]["remaining"] == 1_000_000 - 61 - 37


def test_a_refund_after_the_step_claws_back_what_the_payment_earned_then(
    stepped: Platform,
) -> None:
    pay(stepped, "2020-05-31T12:00", "may")
    refunded = stepped.event("refund", "2020-06-02T12:00", key="r", payment="may", amount=AMOUNT)
    assert refunded["ok"], refunded
    state = stepped.state()
    assert state["budgets"]["base-budget"]["remaining"] == 10_000_000  # 493 back, not 370
    assert state["budgets"]["fee-budget"]["remaining"] == 1_000_000
    assert state["members"]["u-kim"]["cashback"] == 0


def test_the_catalog_holds_the_steps_in_day_order(stepped: Platform) -> None:
    cat = stepped.read(policy.catalog)
    assert cat.cashback_rules[0].steps == ((JUNE, 300), (JULY, 450))
    assert cat.fee_support_rules[0].steps == ((JUNE, 30),)


# --- what the service accepts -------------------------------------------------------------


def rule_spec(**extra: Any) -> dict[str, Any]:
    return {"id": "new", "kind": "cashback", "owner": "gyeyang", "rate_bps": 100, **extra}


BAD_STEPS: dict[str, tuple[Any, str]] = {
    "unsorted": (
        [{"from": date(2020, 7, 1), "rate_bps": 300}, {"from": date(2020, 6, 1), "rate_bps": 200}],
        "steps[1].from",
    ),
    "the same day twice": (
        [{"from": date(2020, 7, 1), "rate_bps": 300}, {"from": date(2020, 7, 1), "rate_bps": 200}],
        "steps[1].from",
    ),
    "rate above 100%": ([{"from": date(2020, 7, 1), "rate_bps": 10_001}], "steps[0].rate_bps"),
    "negative rate": ([{"from": date(2020, 7, 1), "rate_bps": -1}], "steps[0].rate_bps"),
    "rate not an integer": ([{"from": date(2020, 7, 1), "rate_bps": 2.5}], "steps[0].rate_bps"),
    "rate a boolean": ([{"from": date(2020, 7, 1), "rate_bps": True}], "steps[0].rate_bps"),
    "rate missing": ([{"from": date(2020, 7, 1)}], "steps[0].rate_bps"),
    "text for a date": ([{"from": "2020-13-01", "rate_bps": 300}], "steps[0].from"),
    "date missing": (
        [{"from": date(2020, 6, 1), "rate_bps": 1}, {"rate_bps": 300}],
        "steps[1].from",
    ),
    "unknown field": ([{"from": date(2020, 7, 1), "rate_bps": 1, "until": 2}], "steps[0]"),
    "not a mapping": ([[date(2020, 7, 1), 300]], "steps[0]"),
    "not a list": ({"from": date(2020, 7, 1), "rate_bps": 1}, "steps"),
    "too many": (
        [{"from": date(2020, 1, 1) + timedelta(days=i), "rate_bps": 1} for i in range(25)],
        "steps",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_STEPS))
def test_the_service_refuses_bad_steps_naming_the_field(platform: Platform, case: str) -> None:
    platform.setup(GYEYANG_CITY)
    steps, field = BAD_STEPS[case]
    at = parse_time("2020-05-01T09:00")
    with pytest.raises(errors.InvalidRequest) as created:
        platform.run(policy.create_rule, rule_spec(steps=steps), at=at)
    assert (created.value.code, created.value.field) == ("invalid_request", field)
    with pytest.raises(errors.InvalidRequest) as changed:
        platform.run(policy.change_rule, "gyeyang-launch", {"steps": steps}, at=at)
    assert changed.value.field == field
    history = platform.read(lambda c: policy.rule_history(c, "gyeyang-launch"))
    assert [v["version"] for v in history] == [1]  # nothing written


def test_twenty_four_steps_are_accepted_and_an_empty_list_is_no_schedule(
    platform: Platform,
) -> None:
    platform.setup(GYEYANG_CITY)
    many = [{"from": date(2020, 1, 1) + timedelta(days=i), "rate_bps": i} for i in range(24)]
    at = parse_time("2020-05-01T09:00")
    platform.run(policy.create_rule, rule_spec(steps=many), at=at)
    platform.run(policy.create_rule, rule_spec(id="none", steps=[]), at=at)
    specs = {r.id: r.steps for r in platform.read(policy.catalog).cashback_rules}
    assert len(specs["new"]) == 24 and specs["new"][-1] == (date(2020, 1, 24), 23)
    assert specs["none"] == ()


def test_the_history_records_a_change_of_steps_and_clearing_them(stepped: Platform) -> None:
    at = parse_time("2020-06-15T09:00")
    wanted = [{"from": date(2020, 8, 1), "rate_bps": 200}]
    assert stepped.run(policy.change_rule, "base", {"steps": wanted}, at=at) == 2
    assert stepped.run(policy.change_rule, "base", {"steps": None}, at=at) == 3
    history = stepped.read(lambda c: policy.rule_history(c, "base"))
    assert [v["spec"]["steps"] for v in history] == [
        [{"from": "2020-06-01", "rate_bps": 300}, {"from": "2020-07-01", "rate_bps": 450}],
        [{"from": "2020-08-01", "rate_bps": 200}],
        [],
    ]
    assert [v["spec"]["rate_bps"] for v in history] == [400, 400, 400]
    # cleared: August pays the rule's own 4% again
    assert pay(stepped, "2020-08-03T12:00", "aug")["cashback"] == {"base": floor_bps(AMOUNT, 400)}


# --- the API ------------------------------------------------------------------------------


def test_the_api_takes_steps_gives_them_back_and_keeps_their_history(engine: Engine) -> None:
    api = Api(engine)
    admin = api.as_("gyeyang-admin")
    body: dict[str, Any] = {
        "id": "gy-step",
        "kind": "cashback",
        "owner": "gyeyang",
        "rate_bps": 300,
        "steps": [{"from": "2030-12-01", "rate_bps": 200}, {"from": "2031-01-01", "rate_bps": 0}],
    }
    made = admin.post("/api/v1/rules", json=body)
    assert made.status_code == 201, made.json()
    assert made.json()["steps"] == body["steps"]
    got = admin.get("/api/v1/rules/gy-step").json()
    assert got["steps"] == body["steps"] and got["history"][0]["spec"]["steps"] == body["steps"]
    assert api.as_("kim").get("/api/v1/rules/gy-step").json()["steps"] == body["steps"]

    changed = admin.patch("/api/v1/rules/gy-step", json={"steps": [body["steps"][1]]})
    assert changed.status_code == 200, changed.json()
    history = changed.json()["history"]
    assert [v["spec"]["steps"] for v in history] == [body["steps"], [body["steps"][1]]]
    audit = api.as_("gyeyang-admin").get("/api/v1/audit", params={"limit": 5}).json()["items"]
    change = next(i for i in audit if i["action"] == "rule.change")
    assert change["detail"]["changed"] == ["steps"]
    cleared = admin.patch("/api/v1/rules/gy-step", json={"steps": None}).json()
    assert cleared["steps"] == [] and len(cleared["history"]) == 3
    plain = admin.get("/api/v1/rules/gyeyang-launch").json()
    assert plain["steps"] == []


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        (
            [{"from": "2030-12-01", "rate_bps": 200}, {"from": "2030-11-01", "rate_bps": 100}],
            "steps[1].from",
        ),
        ([{"from": "2030-02-30", "rate_bps": 200}], "steps[0].from"),
        ([{"from": "soon", "rate_bps": 200}], "steps.0.from"),
        ([{"from": "2030-12-01", "rate_bps": 10_001}], "steps.0.rate_bps"),
        ([{"from": "2030-12-01", "rate_bps": "200"}], "steps.0.rate_bps"),
        ([{"from": "2030-12-01"}], "steps.0.rate_bps"),
        ([{"from": "2030-12-01", "rate_bps": 1, "until": "2031-01-01"}], "steps.0.until"),
        ([{"from": f"2030-01-{d:02d}", "rate_bps": 1} for d in range(1, 26)], "steps"),
    ],
)
def test_the_api_refuses_bad_steps_as_it_refuses_bad_rules(
    engine: Engine, steps: list[Any], field: str
) -> None:
    api = Api(engine)
    admin = api.as_("gyeyang-admin")
    body = {"id": "gy-bad", "kind": "cashback", "owner": "gyeyang", "rate_bps": 300, "steps": steps}
    refused = admin.post("/api/v1/rules", json=body)
    assert refused.status_code == 422, refused.json()
    assert (refused.json()["code"], refused.json()["field"]) == ("invalid_request", field)
    patched = admin.patch("/api/v1/rules/gyeyang-launch", json={"steps": steps})
    assert (patched.status_code, patched.json()["field"]) == (422, field)
    assert admin.get("/api/v1/rules/gy-bad").status_code == 404


def test_the_openapi_document_describes_steps(sqlite_engine: Engine) -> None:
    doc = Api(sqlite_engine).anonymous.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    steps = schemas["RuleIn"]["properties"]["steps"]
    assert "예정된 비율 변경" in steps["description"]
    step = schemas["RuleStepIn"]
    assert step["required"] == ["from", "rate_bps"]
    assert step["properties"]["rate_bps"]["maximum"] == 10_000
    assert "steps" in schemas["RuleChangeIn"]["properties"]


# --- scenario files ---------------------------------------------------------------------

SCENARIO_HEAD = """\
issuers:
  - {id: ic, name: 인천, districts: [jung]}
budgets:
  - {id: b, owner: ic, amount: 1000000}
merchants:
  - {id: m, name: 가게, district: jung}
members:
  - {id: u, card: ic}
rules:
"""


def _eum(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eum.cli", *args], capture_output=True, text=True, timeout=120
    )


BAD_SCENARIO_STEPS = {
    "unsorted": (
        "steps: [{from: 2020-07-01, rate_bps: 300}, {from: 2020-06-01, rate_bps: 200}]",
        "rules[0].steps[1].from",
    ),
    "rate out of range": (
        "steps: [{from: 2020-06-01, rate_bps: 10001}]",
        "rules[0].steps[0].rate_bps",
    ),
    "impossible date": ("steps: [{from: 2020-02-30, rate_bps: 300}]", "rules[0].steps[0].from"),
    "not a date": ("steps: [{from: soon, rate_bps: 300}]", "rules[0].steps[0].from"),
    "missing rate": ("steps: [{from: 2020-06-01}]", "rules[0].steps[0]: missing field 'rate_bps'"),
    "unknown field": ("steps: [{from: 2020-06-01, rate_bps: 1, to: 2}]", "rules[0].steps[0].to"),
    "not a list": ("steps: {from: 2020-06-01, rate_bps: 1}", "rules[0].steps"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIO_STEPS))
def test_a_scenario_with_bad_steps_exits_2_naming_the_field(case: str, tmp_path: Path) -> None:
    steps, needle = BAD_SCENARIO_STEPS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(
        SCENARIO_HEAD
        + f"  - {{id: r, kind: cashback, owner: ic, budget: b, rate_bps: 400, {steps}}}\n",
        encoding="utf-8",
    )
    done = _eum("scenario", "run", str(path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert needle in done.stderr


def test_a_scenario_file_with_steps_runs_and_pays_the_stepped_rate(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text(
        SCENARIO_HEAD
        + "  - {id: r, kind: cashback, owner: ic, budget: b, rate_bps: 400,\n"
        + "     steps: [{from: 2020-06-01, rate_bps: 300}]}\n"
        + "events:\n"
        + "  - {op: charge, at: '2020-05-01T09:00', key: c, member: u, amount: 100000}\n"
        + "  - {op: pay, at: '2020-05-31T23:59', key: p1, member: u, merchant: m, amount: 10001}\n"
        + "  - {op: pay, at: '2020-06-01T00:00', key: p2, member: u, merchant: m, amount: 10001}\n"
        + "expect:\n"
        # floor(10,001 x 4%) = 400 and floor(10,001 x 3%) = 300; the second payment spends
        # the first one's 400 of cashback first (SPEC 3.4): 100,000 - 10,001 - 9,601 charged
        + "  budgets: {b: {remaining: 999300}}\n"
        + "  members: {u: {cashback: 300, charged: 80398}}\n",
        encoding="utf-8",
    )
    done = _eum("scenario", "run", str(path))
    assert done.returncode == 0, (done.stdout, done.stderr)


# --- what citizens see --------------------------------------------------------------------

REAL_NOW = clock.now


def travel(monkeypatch: pytest.MonkeyPatch, ahead: timedelta) -> None:
    """Make every entry point's clock read ``ahead`` of the real time (from now on)."""

    def later() -> Any:
        return REAL_NOW() + ahead

    later.travelled = True  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        found = getattr(module, "now", None)
        if name.startswith("eum.") and (found is REAL_NOW or hasattr(found, "travelled")):
            monkeypatch.setattr(module, "now", later)


def city_with_steps(*steps: tuple[date, int]) -> dict[str, Any]:
    """GYEYANG_CITY whose base cashback (4%) carries ``steps``."""
    city = copy.deepcopy(GYEYANG_CITY)
    base = next(r for r in city["rules"] if r["id"] == "incheon-base")
    base["steps"] = [{"from": day.isoformat(), "rate_bps": bps} for day, bps in steps]
    return city


def shop_item(html: str, merchant: str) -> str:
    return html.split(f'data-merchant="{merchant}"', 1)[1].split("</li>", 1)[0]


def wallet_row(html: str, rule: str) -> str:
    return html.split(f'data-rule="{rule}"', 1)[1].split("</tr>", 1)[0]


def changes_in(html: str) -> list[tuple[str, str]]:
    """(day, text) of each announced rate change in a piece of a page."""
    found = re.findall(r'class="[^"]*rate-change" data-day="([^"]+)">(.*?)</(?:div|p)>', html, re.S)
    return [(day, " ".join(re.sub(r"<[^>]+>", " ", text).split())) for day, text in found]


def reader(engine: Engine, api: Api) -> Callable[[str], str]:
    """kim, signed in (now), reading pages."""
    web = web_as(engine, "kim", api)

    def read(path: str) -> str:
        page = web.get(path)
        assert page.status_code == 200, page.text
        return str(page.text)

    return read


def test_citizens_see_a_change_announced_before_it_takes_effect_and_not_after(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = kst_day(clock.now())
    soon, later = today + timedelta(days=10), today + timedelta(days=45)
    api = Api(engine, city_with_steps((soon, 300), (later, 200)))
    kim = reader(engine, api)

    shops = kim("/shops")
    # kim's Gyeyang card at a Gyeyang shop: base 4% + Gyeyang launch 1%; after: 3% + 1%
    mart = shop_item(shops, "m-mart")
    assert '<strong class="rate">5%</strong>' in mart
    assert changes_in(mart) == [
        (soon.isoformat(), f"변경 예정 {soon.month}월 {soon.day}일부터 캐시백 5% → 4%")
    ]
    cafe = shop_item(shops, "m-cafe")  # a Bupyeong shop: the base rule alone
    assert changes_in(cafe) == [
        (soon.isoformat(), f"변경 예정 {soon.month}월 {soon.day}일부터 캐시백 4% → 3%")
    ]
    # the second step is more than 30 days away: not announced at the shops yet ...
    assert later.isoformat() not in shops
    # ... but the wallet lists every change to come of each rule
    base = wallet_row(kim("/wallet"), "incheon-base")
    assert re.search(r'<td class="num">4%', base)
    assert [(d, re.sub(r" \(\d{4}\)$", "", t)) for d, t in changes_in(base)] == [
        (soon.isoformat(), f"변경 예정: {soon.month}월 {soon.day}일부터 4% → 3%"),
        (later.isoformat(), f"변경 예정: {later.month}월 {later.day}일부터 3% → 2%"),
    ]
    assert changes_in(wallet_row(kim("/wallet"), "gyeyang-launch")) == []
    paying = kim("/pay/m-mart")
    assert 'id="rate">5%<' in paying
    assert [d for d, _ in changes_in(paying)] == [soon.isoformat()]

    travel(monkeypatch, timedelta(days=10))  # the step's day has come
    kim = reader(engine, api)  # signed in again: yesterday's session has expired
    shops = kim("/shops")
    mart = shop_item(shops, "m-mart")
    assert '<strong class="rate">4%</strong>' in mart and changes_in(mart) == []
    assert "rate-change" not in shops
    base = wallet_row(kim("/wallet"), "incheon-base")
    assert re.search(r'<td class="num">3%', base)
    assert [d for d, _ in changes_in(base)] == [later.isoformat()]
    assert 'id="rate">4%<' in kim("/pay/m-mart")


def test_a_payment_on_the_step_day_earns_the_new_rate_through_the_api(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = kst_day(clock.now())
    api = Api(engine, city_with_steps((today + timedelta(days=1), 300)))
    assert api.money("lee", "/api/v1/charges", {"amount": 100_000}).status_code == 201
    body = {"merchant": "m-cafe", "amount": AMOUNT}
    assert api.money("lee", "/api/v1/payments", body).json()["cashback"] == {
        "incheon-base": floor_bps(AMOUNT, 400)
    }
    travel(monkeypatch, timedelta(days=1))
    api._clients.clear()  # sign in again on the new day
    assert api.money("lee", "/api/v1/payments", body).json()["cashback"] == {
        "incheon-base": floor_bps(AMOUNT, 300)
    }


def test_the_announcement_reads_in_english_too(sqlite_engine: Engine) -> None:
    soon = kst_day(clock.now()) + timedelta(days=3)
    api = Api(sqlite_engine, city_with_steps((soon, 350)))
    kim = web_as(sqlite_engine, "kim", api)
    kim.get("/lang/en?back=/shops")
    cafe = shop_item(kim.get("/shops").text, "m-cafe")
    assert changes_in(cafe) == [
        (soon.isoformat(), f"Scheduled change From {soon.month}/{soon.day}: cashback 4% → 3.5%")
    ]


# --- the admin's rule form and page ----------------------------------------------------------


def rule_form(rule_id: str, **extra: str) -> dict[str, str]:
    return {
        "id": rule_id,
        "kind": "cashback",
        "owner": "gyeyang",
        "name": "계양 단계 캐시백",
        "rate": "2",
        "budget": "gyeyang-event",
        **extra,
    }


def schedule_rows(html: str) -> list[tuple[str, str, str]]:
    body = html.split('<table id="schedule">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-state="([^"]+)" data-from="([^"]*)">(.*?)</tr>', body, re.S)
    out = []
    for state, day, cells in rows:
        rate = re.findall(r'<td class="num">([^<]+)</td>', cells)[0]
        out.append((state, day, rate))
    return out


def test_an_admin_schedules_steps_on_the_rule_form_and_sees_them_and_their_history(
    engine: Engine,
) -> None:
    today = kst_day(clock.now())
    first, second = today + timedelta(days=5), today + timedelta(days=20)
    admin: Web = web_as(engine, "gyeyang-admin")
    page = admin.get("/admin/rules/new")
    assert 'name="steps[4].from"' in page.text and 'name="steps[5].from"' not in page.text
    steps = {  # a blank row between two filled ones is left out
        "steps[0].from": first.isoformat(),
        "steps[0].rate": "1.5",
        "steps[2].from": second.isoformat(),
        "steps[2].rate": "1",
    }
    made = admin.post("/admin/rules/new", rule_form("gy-steps", **steps))
    assert made.status_code == 303, made.text
    page = admin.get("/admin/rules/gy-steps").text
    assert schedule_rows(page) == [
        ("current", "", "2%"),
        ("upcoming", first.isoformat(), "1.5%"),
        ("upcoming", second.isoformat(), "1%"),
    ]
    assert f"{first.isoformat()}부터 1.5%, {second.isoformat()}부터 1%" in page
    # the edit form shows the schedule as rows 0 and 1
    assert f'name="steps[1].from" id="f-steps[1].from" value="{second.isoformat()}"' in page

    changed = admin.post(
        "/admin/rules/gy-steps",
        rule_form("gy-steps", **{"steps[0].from": second.isoformat(), "steps[0].rate": "0.5"}),
    )
    assert changed.status_code == 303, changed.text
    page = admin.get("/admin/rules/gy-steps").text
    newest = page.split('data-version="2"', 1)[1].split("</li>", 1)[0]
    assert (
        f"비율 변경 예정: {first.isoformat()}부터 1.5%, {second.isoformat()}부터 1% → "
        f"{second.isoformat()}부터 0.5%"
    ) in newest
    assert "이름" not in newest and "비율:" not in newest  # nothing else changed
    assert schedule_rows(page)[1:] == [("upcoming", second.isoformat(), "0.5%")]


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        (
            {
                "steps[0].from": "2030-07-01",
                "steps[0].rate": "1",
                "steps[3].from": "2030-06-01",
                "steps[3].rate": "1",
            },
            "steps[1].from",
        ),
        ({"steps[2].from": "2030-07-01", "steps[2].rate": "150"}, "steps[0].rate"),
        ({"steps[0].from": "2030-07-01", "steps[0].rate": "반"}, "steps[0].rate"),
        ({"steps[0].from": "내년", "steps[0].rate": "1"}, "steps[0].from"),
        ({"steps[1].rate": "1"}, "steps[0].from"),
    ],
)
def test_bad_steps_on_the_rule_form_are_named_next_to_their_row(
    sqlite_engine: Engine, steps: dict[str, str], field: str
) -> None:
    admin = web_as(sqlite_engine, "gyeyang-admin")
    admin.get("/admin/rules/new")
    refused = admin.post("/admin/rules/new", rule_form("gy-bad", **steps))
    assert refused.status_code == 422
    assert 'data-code="invalid_request"' in refused.text
    assert f'id="err-{field}"' in refused.text
    assert admin.get("/admin/rules/gy-bad").status_code == 404
