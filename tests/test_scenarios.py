"""Conformance: every scenario file, on SQLite and PostgreSQL, through the real runner.

The files are this repository's copies in tests/scenarios plus whatever
../shared/scenarios holds when that folder exists (a shared file of the same name
replaces the local copy), so files added there are picked up without code changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eum.scenario import ScenarioError, differences, execute, load, validate
from tests.conftest import BACKENDS, engine_for

HERE = Path(__file__).parent
LOCAL = HERE / "scenarios"
SHARED = HERE.parent.parent / "shared" / "scenarios"


def scenario_files() -> list[Path]:
    found = {p.name: p for p in sorted(LOCAL.glob("*.yaml"))}
    if SHARED.is_dir():
        found.update({p.name: p for p in sorted(SHARED.glob("*.yaml"))})
    return [found[name] for name in sorted(found)]


FILES = scenario_files()


def test_there_are_scenarios_to_run() -> None:
    assert len(FILES) >= 5


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_matches_its_expected_state(path: Path, backend_name: str) -> None:
    if backend_name == "postgres":
        pytest.importorskip("psycopg")
    scenario = load(path)
    with engine_for(backend_name) as engine:
        state = execute(scenario, engine)
    assert state["ledger"] == {"balanced": True}
    assert len(state["results"]) == len(scenario.events)
    if scenario.expect is not None:
        assert differences(scenario.expect, state) == []


def _eum(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eum.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_the_state_and_exits_0_when_it_matches() -> None:
    done = _eum("scenario", "run", str(LOCAL / "01-gyeyang-launch.yaml"))
    assert done.returncode == 0, done.stderr
    assert '"gyeyang-event": {\n      "remaining": 0\n    }' in done.stdout


def test_cli_exits_1_naming_each_path_that_differs(tmp_path: Path) -> None:
    text = (LOCAL / "01-gyeyang-launch.yaml").read_text(encoding="utf-8")
    wrong = text.replace("gyeyang-bplus: {remaining: 995344}", "gyeyang-bplus: {remaining: 995345}")
    assert wrong != text
    path = tmp_path / "wrong.yaml"
    path.write_text(wrong, encoding="utf-8")
    done = _eum("scenario", "run", str(path))
    assert done.returncode == 1
    assert "budgets.gyeyang-bplus.remaining: expected 995345, got 995344" in done.stderr


INVALID = {
    "unknown op": ("events:\n  - {op: teleport, at: '2020-01-01T00:00'}\n", "event 1: unknown op"),
    "missing at": (
        "events:\n  - {op: settle, at: '2020-01-01T00:00'}\n"
        "  - {op: charge, key: a, member: u, amount: 1}\n",
        "event 2: missing 'at'",
    ),
    "bad channel": (
        "events:\n  - {op: pay, at: '2020-01-01', key: k, member: u, merchant: m, amount: 1,"
        " channel: cash}\n",
        "event 1.channel",
    ),
    "benefit plus without discount": (
        "merchants:\n  - {id: m1, name: 가게, district: jung, tier: benefit_plus}\n",
        "merchants[0].discount_bps",
    ),
    "benefit plus discount out of range": (
        "merchants:\n  - {id: m1, name: 가게, district: jung, tier: benefit_plus,"
        " discount_bps: 800}\n",
        "merchants[0].discount_bps",
    ),
    "mistyped set-up field": (
        "issuers:\n  - {id: incheon, name: 인천, districts: jung}\n",
        "issuers[0].districts",
    ),
    "missing set-up field": ("members:\n  - {id: u1}\n", "members[0]: missing field 'card'"),
    "unknown parent issuer": (
        "issuers:\n  - {id: gy, name: 계양, districts: [gyeyang], parent: nowhere}\n",
        "issuers[0].parent",
    ),
    "rule with unknown budget": (
        "issuers:\n  - {id: ic, name: 인천, districts: [jung]}\n"
        "rules:\n  - {id: r, kind: cashback, owner: ic, rate_bps: 100, budget: nope}\n",
        "rules[0].budget",
    ),
    "money event without key": (
        "events:\n  - {op: charge, at: '2020-01-01', member: u, amount: 1}\n",
        "event 1: charge needs field 'key'",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_file_exits_2_naming_the_event_or_field(case: str, tmp_path: Path) -> None:
    text, needle = INVALID[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    done = _eum("scenario", "run", str(path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert needle in done.stderr


def test_amounts_of_the_wrong_type_are_event_errors_not_file_errors() -> None:
    scenario = validate(
        {"events": [{"op": "charge", "at": "2020-01-01", "key": "k", "member": "u", "amount": 1.5}]}
    )
    assert scenario.events[0]["amount"] == 1.5


def test_validate_rejects_a_file_that_is_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="file"):
        validate(["not", "a", "scenario"])
