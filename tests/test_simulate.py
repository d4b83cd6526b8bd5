"""``eum simulate``: a synthetic city run through the engine.

The same seed makes the same city; the city has a city's shape (card kinds, weekends,
paydays, lunch and dinner); every payment of a small city is booked in the sandbox,
and its cashback per rule is what the rules' arithmetic gives on the generated
payments; the command refuses bad input with exit 2.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from eum.cli import app
from eum.money.refunds import current
from eum.scenario import ScenarioError
from eum.web import names
from eum.whatif.replay import Draft
from eum.whatif.simulate import (
    Simulated,
    demo_city,
    generate,
    simulate,
    with_draft,
)
from tests.conftest import GYEYANG_CITY, PG_URL, Platform

JUNE = date(2020, 6, 1)  # a Monday
# card fee by annual sales (millions of won): up to the sales, the bps
FEES = ((300, 80), (500, 130), (1_000, 140), (3_000, 160))


def _pays(recorded: Simulated) -> list[tuple[Any, dict[str, Any]]]:
    return [(at, f) for at, _order, op, f in recorded.events if op == "pay"]


def test_the_same_seed_makes_the_same_city() -> None:
    one = generate(demo_city(), 400, 10, 5, JUNE)
    two = generate(demo_city(), 400, 10, 5, JUNE)
    other = generate(demo_city(), 400, 10, 6, JUNE)
    assert one.events == two.events and len(one.events) > 1_000
    assert (one.setup, one.top_ups, one.homes) == (two.setup, two.top_ups, two.homes)
    assert one.events != other.events
    assert one.setup["members"] != other.setup["members"]


@pytest.fixture(scope="module")
def city() -> Simulated:
    """Four thousand members over June 2020 (two paydays, four weekends)."""
    return generate(demo_city(), 4_000, 30, 7, JUNE)


def test_the_city_has_the_members_a_city_has(city: Simulated) -> None:
    people = city.setup["members"]
    kinds = Counter(p["kind"] for p in people)
    # 93 / 6 / 1 %: bounds of more than four standard deviations on 4,000 members
    assert 0.91 <= kinds["personal"] / 4_000 <= 0.95
    assert 0.045 <= kinds["business"] / 4_000 <= 0.075
    assert 0.004 <= kinds["corporate"] / 4_000 <= 0.017
    brand = sum(1 for p in people if p["card"] == city.homes[p["id"]])  # 계양e음 in gyeyang
    metro = sum(1 for p in people if p["card"] == "incheon")
    assert brand + metro == 4_000
    assert 0.67 <= brand / 4_000 <= 0.73
    homes = Counter(city.homes.values())
    assert homes["seo"] > homes["jung"] > homes["ongjin"]  # weights 19, 6, 1
    shops = city.setup["merchants"]
    assert len(shops) == 4_000 // 50
    assert {m["category"] for m in shops} <= set(names.CATEGORIES)
    for m in shops:
        sales, fee = m["annual_sales"], m["card_fee_bps"]
        tier = next((bps for top, bps in FEES if sales <= top * 1_000_000), 200)
        assert fee == tier
        if m.get("tier") == "benefit_plus":
            assert m["discount_bps"] in range(100, 701, 100)


def test_payments_have_the_shape_of_a_city(city: Simulated) -> None:
    pays = _pays(city)
    assert 0.28 <= len(pays) / (4_000 * 30) <= 0.32  # about 0.3 per member and day
    per_day = Counter(at.date() for at, _f in pays)
    assert len(per_day) == 30

    def mean(days: list[date]) -> float:
        return sum(per_day[d] for d in days) / len(days)

    june = [JUNE + timedelta(days=k) for k in range(30)]
    quiet = [d for d in june if d.day not in (10, 11, 12, 25, 26, 27)]
    weekdays = mean([d for d in quiet if d.weekday() < 4])  # Monday .. Thursday
    weekend = mean([d for d in quiet if d.weekday() >= 5])
    assert weekend > 1.15 * weekdays  # weights 1.0-1.05 against 1.35 and 1.2
    # a payday against the same weekday of the other weeks: the 10th is a Wednesday,
    # the 25th a Thursday (a 1.3 boost; a day's count spreads by about 3%)
    assert per_day[date(2020, 6, 10)] > 1.15 * mean([date(2020, 6, d) for d in (3, 17, 24)])
    assert per_day[date(2020, 6, 25)] > 1.15 * mean([date(2020, 6, d) for d in (4, 18)])
    hours = Counter(at.hour for at, _f in pays)
    night = hours[3] + hours[4] + hours[5]
    assert hours[12] > 10 * max(night, 1) and hours[19] > 10 * max(night, 1)
    assert hours[12] > 1.2 * hours[15] and hours[19] > 1.2 * hours[15]  # lunch, dinner peaks
    shops = {m["id"]: m for m in city.setup["merchants"]}
    local = sum(1 for _at, f in pays if shops[f["merchant"]]["district"] == city.homes[f["member"]])
    assert 0.78 <= local / len(pays) <= 0.9  # 80% at home, and some "elsewhere" is home
    kind = {p["id"]: p["kind"] for p in city.setup["members"]}
    tickets: dict[str, list[int]] = defaultdict(list)
    online: Counter[str] = Counter()
    for _at, f in pays:
        assert f["amount"] % 100 == 0 and f["amount"] >= 100
        category = shops[f["merchant"]]["category"]
        if kind[f["member"]] == "personal":
            tickets[category].append(f["amount"])
        online[category] += f["channel"] == "online"
    assert 20_000 <= median(tickets["restaurant"]) <= 26_000  # sqrt(8,000 x 60,000) = 21,909
    assert 5_000 <= median(tickets["cafe"]) <= 8_000  # sqrt(3,000 x 15,000) = 6,708
    assert median(tickets["academy"]) > 20 * median(tickets["cafe"])
    assert online["academy"] / len(tickets["academy"]) > online["cafe"] / len(tickets["cafe"])


def test_refunds_follow_their_payments_and_top_ups_cover_every_charge(city: Simulated) -> None:
    events = city.events
    assert [(at, order) for at, order, _op, _f in events] == sorted(
        (at, order) for at, order, _op, _f in events
    )
    discount = {m["id"]: m.get("discount_bps", 0) for m in city.setup["merchants"]}
    paid: dict[str, tuple[Any, int]] = {}
    charged_by: dict[str, int] = defaultdict(int)
    refunds = 0
    for at, _order, op, f in events:
        if op == "pay":
            charged = f["amount"] - f["amount"] * discount[f["merchant"]] // 10_000
            paid[f["key"]] = (at, charged)
            charged_by[f["member"]] += charged
        else:
            assert op == "refund"
            refunds += 1
            when, charged = paid[f["payment"]]  # a payment made before
            assert timedelta(hours=1) <= at - when <= timedelta(hours=72)
            assert 100 <= f["amount"] <= charged
    assert city.top_ups == dict(charged_by)
    assert (city.payments, city.refunds) == (len(paid), refunds)
    assert 0.01 <= refunds / len(paid) <= 0.02  # 1.5%, less those after June


# A draft whose payouts can be worked out by hand: 2% back on personal cards, 1% more
# on Gyeyang's in Gyeyang, no caps, budgets that never run out; 0.5% fee support on
# card payments.
DRAFT = Draft(
    "flat",
    [
        {"id": "flat", "kind": "cashback", "owner": "incheon", "budget": "b-flat", "rate_bps": 200},
        {"id": "gy", "kind": "cashback", "owner": "gyeyang", "budget": "b-gy", "rate_bps": 100},
        {
            "id": "fee",
            "kind": "fee_support",
            "owner": "incheon",
            "budget": "b-fee",
            "rate_bps": 50,
            "channels": ["card"],
        },
    ],
    [
        {"id": "b-flat", "owner": "incheon", "amount": 10**12},
        {"id": "b-gy", "owner": "gyeyang", "amount": 10**12},
        {"id": "b-fee", "owner": "incheon", "amount": 10**12},
    ],
)


def _by_hand(recorded: Simulated) -> dict[str, int]:
    """Each rule's payout at its value once the refunds are taken back (SPEC 3.9), from
    the generated payments: floors of SPEC 3.1, cashback on personal cards of the
    owner's tree (3.7), the fee of 3.8."""
    shops = {m["id"]: m for m in recorded.setup["merchants"]}
    people = {p["id"]: p for p in recorded.setup["members"]}
    refunded: dict[str, int] = defaultdict(int)
    for _at, _order, op, f in recorded.events:
        if op == "refund":
            refunded[f["payment"]] += f["amount"]
    out = {"flat": 0, "gy": 0, "fee": 0}
    for _at, f in _pays(recorded):
        shop = shops[f["merchant"]]
        charged = f["amount"] - f["amount"] * shop.get("discount_bps", 0) // 10_000
        back = refunded[f["key"]]
        member = people[f["member"]]
        if member["kind"] == "personal":  # every card is 인천e음's or below it
            out["flat"] += current(charged * 200 // 10_000, charged, back)
            if shop["district"] == "gyeyang" and member["card"] == "gyeyang":
                out["gy"] += current(charged * 100 // 10_000, charged, back)
        if f["channel"] == "card":
            fee = charged * shop["card_fee_bps"] // 10_000
            out["fee"] += current(min(fee, charged * 50 // 10_000), charged, back)
    return out


def test_a_small_city_is_booked_in_full_and_pays_what_its_rules_say(backend: str) -> None:
    city = with_draft(demo_city(), DRAFT)
    said: list[str] = []
    report = simulate(
        city,
        members=300,
        days=7,
        seed=3,
        first=date(2020, 6, 8),
        merchants=60,
        sandbox_url=None if backend == "sqlite" else PG_URL,
        progress=said.append,
    )
    recorded = generate(city, 300, 7, 3, date(2020, 6, 8), 60)
    assert report["payments"] == {
        "recorded": recorded.payments,
        "replayed": recorded.payments,
        "refused": {},
    }
    assert recorded.payments > 500 and report["refunds"] == recorded.refunds > 0
    expected = _by_hand(recorded)
    assert expected["gy"] > 0 and expected["fee"] > 0
    rows = {r["rule"]: r for r in report["rules"]}
    assert {r: rows[r]["paid"] for r in expected} == expected
    personal = {p["id"] for p in recorded.setup["members"] if p["kind"] == "personal"}
    payers = {f["member"] for _at, f in _pays(recorded)}
    assert rows["flat"]["reached"] == len(payers & personal)
    totals = report["totals"]
    assert totals["cashback"] == rows["flat"]["paid"] + rows["gy"]["paid"]
    assert totals["fee_support"] == rows["fee"]["paid"]
    spent = {b["budget"]: b["spent"] for b in report["budgets"]}
    assert spent == {"b-flat": expected["flat"], "b-gy": expected["gy"], "b-fee": expected["fee"]}
    assert report["compared"] is False and report["draft"] == "flat"
    shape = report["city"]
    assert shape["members"]["total"] == 300 and shape["merchants"]["total"] == 60
    assert shape["payments"]["total"] == recorded.payments == sum(shape["payments"]["by_hour"])
    assert sum(shape["payments"]["by_weekday"].values()) == recorded.payments
    assert any("set up 300 members and 60 merchants" in s for s in said)
    assert said[-1].startswith(f"simulated {recorded.payments:,} payments of 300 members")


def test_a_draft_drawing_on_an_unknown_budget_is_refused_before_generating() -> None:
    draft = Draft("x", [{"id": "r", "kind": "cashback", "owner": "incheon", "budget": "nope",
                         "rate_bps": 100}])  # fmt: skip
    with pytest.raises(ScenarioError, match=r"^rules\[0\]\.budget"):
        with_draft(demo_city(), draft)
    # a budget of the city the draft does not list comes from the city
    draft = Draft("y", [{"id": "r", "kind": "cashback", "owner": "gyeyang",
                         "budget": "gyeyang-launch", "rate_bps": 100}])  # fmt: skip
    budgets = with_draft(demo_city(), draft).draft.budgets
    assert [(b["id"], b["amount"]) for b in budgets] == [("gyeyang-launch", 1_500_000)]


@pytest.mark.parametrize(
    "args",
    [
        ["--members", "0", "--days", "7"],
        ["--members", "10", "--days", "0"],
        ["--members", "10", "--days", "367"],
        ["--members", "10", "--days", "7", "--merchants", "0"],
        ["--members", "10", "--days", "7", "--from", "2020-13-01"],
    ],
)
def test_the_cli_refuses_bad_numbers(args: list[str]) -> None:
    done = CliRunner().invoke(app, ["simulate", *args])
    assert done.exit_code == 2, done.output


def test_the_cli_simulates_a_draft_and_refuses_a_bad_one(tmp_path: Path) -> None:
    runner = CliRunner()
    draft = tmp_path / "draft.yaml"
    draft.write_text("rules: [{id: r, kind: cashback}]", encoding="utf-8")
    bad = runner.invoke(app, ["simulate", "--members", "10", "--days", "2", "--rules", str(draft)])
    assert bad.exit_code == 2 and "rules[0]" in bad.output
    draft.write_text(
        "rules: [{id: r, kind: cashback, owner: incheon, budget: nope, rate_bps: 100}]",
        encoding="utf-8",
    )
    bad = runner.invoke(app, ["simulate", "--members", "10", "--days", "2", "--rules", str(draft)])
    assert bad.exit_code == 2 and "rules[0].budget" in bad.output

    draft.write_text(
        "name: double\nrules: [{id: base2, kind: cashback, owner: incheon, "
        "budget: incheon-cashback, rate_bps: 800}]",
        encoding="utf-8",
    )
    out = tmp_path / "report.json"
    done = runner.invoke(
        app,
        [
            "simulate",
            "--members",
            "150",
            "--days",
            "3",
            "--seed",
            "2",
            "--from",
            "2020-06-01",
            "--rules",
            str(draft),
            "--json",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["draft"] == "double" and [r["rule"] for r in report["rules"]] == ["base2"]
    assert report["payments"]["refused"] == {}
    assert report["payments"]["replayed"] == report["city"]["payments"]["total"] > 50
    assert [b["budget"] for b in report["budgets"]] == ["incheon-cashback"]
    assert "가상 도시: 회원 150명" in done.stdout and "정책 시뮬레이션" in done.stdout
    assert f"{report['rules'][0]['paid']:,}원" in done.stdout
    assert "set up 150 members" in done.stderr


def test_the_cli_simulates_a_live_databases_issuers_and_rules(sqlite_engine: Engine) -> None:
    platform = Platform(sqlite_engine).setup(json.loads(json.dumps(GYEYANG_CITY)))
    before = platform.state()
    done = CliRunner().invoke(
        app,
        [
            "simulate",
            "--members",
            "120",
            "--days",
            "2",
            "--from",
            "2020-04-01",
            "--database",
            str(sqlite_engine.url),
        ],
    )
    assert done.exit_code == 0, done.output
    assert platform.state() == before  # only read
    for rule in ("incheon-base", "gyeyang-launch", "gyeyang-fee"):
        assert rule in done.stdout
    assert "refused" not in done.stdout and "거절" not in done.stdout
