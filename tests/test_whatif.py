"""What-if replay: recorded payments under a draft rule set in a sandbox database.

A replay under the live rules gives back the live cashback to the won; a draft with a
smaller budget runs it out on the day the burn forecast names; the live database is
never written; bad drafts are refused with the field named (exit 2 from the CLI).
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from eum.cli import app
from eum.clock import KST
from eum.money.refunds import current
from eum.scenario import ScenarioError
from eum.stats import foresight, rollups
from eum.whatif.replay import Draft, Period, draft_from_doc, live_rules
from eum.whatif.run import whatif
from tests.conftest import GYEYANG_CITY, Platform

APRIL = Period(date(2020, 4, 1), date(2020, 4, 30))
SHOPS = ["m-bunsik", "m-mart", "m-cafe"]


def _city(budget: int = 5_000) -> dict[str, Any]:
    """GYEYANG_CITY with a launch budget that runs out in April, a coupon, and no
    charge limits (the stream charges a lot)."""
    city = json.loads(json.dumps(GYEYANG_CITY))
    city["platform"] = {}
    for b in city["budgets"]:
        if b["id"] == "gyeyang-event":
            b["amount"] = budget
    city["coupons"] = [{"id": "k1", "merchant": "m-bunsik", "value": 2_000, "min_spend": 5_000}]
    return city


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), KST).isoformat()


def _month_of_payments(platform: Platform, seed: int = 11) -> list[str]:
    """March's last week and all of April: member payments at three shops (caps hit,
    the launch budget drained), a coupon, group payments, partial and full refunds
    (some after April), a budget topped up mid-April."""
    rng = random.Random(seed)
    for member in ("u-kim", "u-lee"):
        platform.event("charge", at="2020-03-20T09:00", key=f"c-{member}", member=member,
                       amount=30_000_000)  # fmt: skip
    keys: list[str] = []
    day = date(2020, 3, 25)
    n = 0
    while day <= date(2020, 5, 3):
        for _ in range(rng.randint(2, 5)):
            n += 1
            key = f"p{n}"
            at = _at(day, rng.randint(8, 21), rng.randint(0, 59))
            if n % 11 == 5:
                gave = platform.event("contribute", at=at, key=f"g{n}", member="u-kim",
                                      group="club", amount=100)  # fmt: skip
                if gave["ok"]:
                    done = platform.event("group_pay", at=at, key=key, group="club", by="u-kim",
                                          merchant=rng.choice(SHOPS), amount=80)  # fmt: skip
                    assert done["ok"], done
                    keys.append(key)
                continue
            fields: dict[str, Any] = {
                "member": rng.choice(["u-kim", "u-lee"]),
                "merchant": rng.choice(SHOPS),
                "amount": rng.choice([4_000, 12_000, 35_000, 180_000, 900_000]),
            }
            if n == 20:
                platform.event("claim", at=at, member="u-lee", coupon="k1")
                fields.update(member="u-lee", merchant="m-bunsik", coupon="k1", amount=9_000)
            if n % 7 == 0:
                fields["channel"] = "online"
            done = platform.event("pay", at=at, key=key, **fields)
            assert done["ok"], done
            keys.append(key)
            if n % 6 == 0:
                target = rng.choice(keys[-10:])
                later = _at(day + timedelta(days=rng.randint(0, 2)), 22)
                platform.event("refund", at=later, key=f"r{n}", payment=target,
                               amount=rng.choice([1, 500, 3_000]))  # fmt: skip
        if day == date(2020, 4, 12):
            platform.event("fund", at=_at(day, 23), key="f1", budget="gyeyang-event",
                           amount=20_000)  # fmt: skip
        day += timedelta(days=1)
    return keys


def _live_per_rule(state: dict[str, Any], platform: Platform, period: Period) -> dict[str, int]:
    """Cashback and fee support per rule of the period's payments, at their value after
    the refunds made before the period's end: computed from the payment rows and the
    refund events, not by the report's code."""
    from sqlalchemy import select

    from eum.payments.store import payment_lines, payments, refunds

    def read(conn: Any) -> dict[str, int]:
        refunded: dict[int, int] = {}
        for r in conn.execute(select(refunds).where(refunds.c.at < period.end)):
            refunded[r.payment_id] = refunded.get(r.payment_id, 0) + int(r.amount)
        out: dict[str, int] = {}
        for p in conn.execute(
            select(payments).where(payments.c.at >= period.start, payments.c.at < period.end)
        ):
            for ln in conn.execute(select(payment_lines).where(payment_lines.c.payment_id == p.id)):
                won = current(int(ln.amount), int(p.charged), refunded.get(p.id, 0))
                out[ln.rule_id] = out.get(ln.rule_id, 0) + won
        return out

    return platform.read(read)


def test_a_replay_under_the_live_rules_reproduces_the_live_cashback(engine: Engine) -> None:
    platform = Platform(engine).setup(_city())
    _month_of_payments(platform)
    before_counters = platform.read(rollups.stored)
    before_state = platform.state()
    draft = draft_from_doc(platform.read(live_rules), "live")
    assert [r["id"] for r in draft.rules] == ["incheon-base", "gyeyang-launch", "gyeyang-fee"]

    report = whatif(engine, draft, APRIL)

    expected = _live_per_rule(before_state, platform, APRIL)
    by_rule = {r["rule"]: r for r in report["rules"]}
    assert set(by_rule) == set(expected)
    for rule_id, won in expected.items():
        row = by_rule[rule_id]
        assert (row["paid"], row["live"]["paid"], row["difference"]) == (won, won, 0), rule_id
        assert row["live"]["qualifying"] == row["qualifying"] > 0
        assert row["live"]["reached"] == row["reached"] > 0
    assert report["totals"]["difference"] == 0
    assert report["payments"]["replayed"] == report["payments"]["recorded"] > 60
    assert report["payments"]["refused"] == {}
    assert report["refunds"] > 5
    launch = next(b for b in report["budgets"] if b["budget"] == "gyeyang-event")
    assert launch["ran_out"] is not None  # it ran dry in April, live and replayed alike
    assert launch["live"] == {k: launch[k] for k in ("start", "funded", "spent", "end", "ran_out")}
    assert launch["funded"] == 20_000
    # the live database was only read
    assert platform.read(rollups.stored) == before_counters
    assert platform.state() == before_state


def test_a_smaller_budget_runs_out_on_the_day_the_forecast_names(sqlite_engine: Engine) -> None:
    """Three weeks of the same day: ten payments of 10,000원 earning 1% from a budget
    (1,000원 a day). From the week before the period, the forecast says a 4,600원 budget
    lasts ceil(4,600 / 1,000) = 5 days; the replay of that draft runs it out on that day."""
    city = _city(budget=10_000_000)
    city["rules"] = [r for r in city["rules"] if r["id"] == "gyeyang-launch"]
    del city["rules"][0]["monthly_cap"]
    platform = Platform(sqlite_engine).setup(city)
    platform.event("charge", at="2020-03-01T08:00", key="c", member="u-kim", amount=3_000_000)
    first = date(2020, 3, 8)
    for k in range(21):
        day = first + timedelta(days=k)
        for i in range(10):
            done = platform.event("pay", at=_at(day, 9 + i), key=f"p{k}-{i}", member="u-kim",
                                  merchant="m-mart", amount=10_000)  # fmt: skip
            assert done["cashback"]["gyeyang-launch"] == 100
    period = Period(date(2020, 3, 15), date(2020, 3, 28))
    today = period.first - timedelta(days=1)
    burn = platform.read(
        lambda c: foresight.burns(c, ["gyeyang-event"], today, foresight.RANGE_DAYS)
    )["gyeyang-event"]
    assert burn.forecast.daily == 1_000
    said = foresight.forecast(4_600, [d["spent"] for d in burn.days], today)
    assert said.runs_out == date(2020, 3, 19) == today + timedelta(days=5)
    assert said.earliest == said.latest == said.runs_out  # every week burned alike

    draft = Draft(
        "small",
        [
            {
                "id": "small-launch",
                "kind": "cashback",
                "owner": "gyeyang",
                "budget": "small",
                "rate_bps": 100,
            }
        ],
        [{"id": "small", "owner": "gyeyang", "amount": 4_600}],
    )
    report = whatif(sqlite_engine, draft, period)
    small = next(b for b in report["budgets"] if b["budget"] == "small")
    assert small["ran_out"] == said.runs_out.isoformat()
    assert (small["start"], small["spent"], small["end"]) == (4_600, 4_600, 0)
    rule = next(r for r in report["rules"] if r["rule"] == "small-launch")
    assert rule["paid"] == 4_600
    assert rule["qualifying"] == 140 * 10_000  # every payment qualified; the budget cut it
    live = next(r for r in report["rules"] if r["rule"] == "gyeyang-launch")
    assert (live["in_draft"], live["paid"], live["live"]["paid"]) == (False, 0, 14_000)
    assert report["totals"]["difference"] == 4_600 - 14_000


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        (
            {"rules": [{"id": "r", "kind": "cashback", "owner": "incheon"}]},
            "rules[0]: missing field 'rate_bps'",
        ),
        ({"rules": []}, "rules"),
        ({"rules": [{"id": "r", "kind": "x", "owner": "i", "rate_bps": 1}]}, "rules[0].kind"),
        ({"members": [], "rules": [{"id": "r"}]}, "members"),
        ([1, 2], "file"),
    ],
)
def test_a_bad_draft_names_its_field(doc: Any, where: str) -> None:
    with pytest.raises(ScenarioError, match=rf"^{re.escape(where)}"):
        draft_from_doc(doc)


def test_the_cli_exports_the_live_rules_and_replays_a_draft(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    platform = Platform(sqlite_engine).setup(_city(budget=1_000_000))
    _month_of_payments(platform)
    url = str(sqlite_engine.url)
    runner = CliRunner()
    exported = runner.invoke(app, ["policy", "rules", "--database", url])
    assert exported.exit_code == 0, exported.output
    doc = yaml.safe_load(exported.stdout)
    draft = tmp_path / "draft.yaml"
    doc["rules"][1]["rate_bps"] = 200  # the launch rule at 2%
    draft.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "report.json"
    done = runner.invoke(
        app,
        [
            "policy",
            "whatif",
            "--rules",
            str(draft),
            "--from",
            "2020-04-01",
            "--to",
            "2020-04-30",
            "--database",
            url,
            "--json",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text(encoding="utf-8"))
    launch = next(r for r in report["rules"] if r["rule"] == "gyeyang-launch")
    assert launch["qualifying"] == launch["live"]["qualifying"]  # the same cap, twice the rate
    assert launch["paid"] > launch["live"]["paid"] > 0
    assert "gyeyang-launch" in done.stdout and "정책 시뮬레이션" in done.stdout
    assert f"{launch['difference']:+,}원" in done.stdout

    draft.write_text("rules: [{id: r, kind: cashback}]", encoding="utf-8")
    bad = runner.invoke(app, ["policy", "whatif", "--rules", str(draft), "--database", url])
    assert bad.exit_code == 2
    assert "rules[0]" in bad.output
    bad = runner.invoke(
        app, ["policy", "whatif", "--rules", str(draft), "--from", "2020-13-01", "--database", url]
    )
    assert bad.exit_code == 2


def test_an_impossible_date_in_a_draft_file_is_named(tmp_path: Path) -> None:
    from eum.whatif.replay import load_draft

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules: [{id: r, kind: cashback, owner: incheon, rate_bps: 1, from: 2020-02-30}]",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"^rules\[0\]\.from"):
        load_draft(bad)
