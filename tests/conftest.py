"""Shared fixtures: fresh migrated databases on SQLite and PostgreSQL, and a helper that
runs service calls the way the entry points do (one transaction each)."""

from __future__ import annotations

import os

# Cheap password hashing in tests (production keeps argon2-cffi's defaults).
os.environ.setdefault("EUM_PASSWORD_TIME_COST", "1")
os.environ.setdefault("EUM_PASSWORD_MEMORY_KIB", "1024")
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from eum.auth import throttle
from eum.clock import parse_time
from eum.db import run_in_transaction
from eum.scenario import apply_setup, fresh_engine, run_event, validate

PG_URL = os.environ.get("EUM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


def engine_for(backend: str) -> Any:
    """A context manager giving a fresh migrated engine on the named backend."""
    return fresh_engine(None if backend == "sqlite" else PG_URL)


@pytest.fixture(autouse=True)
def _fresh_login_throttle() -> Iterator[None]:
    """Every test signs in from the test client's one address: each starts with a fresh
    sign-in window (tests of the throttle set their own limits)."""
    throttle.logins.clear()
    yield
    throttle.logins.clear()


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Product photos uploaded by tests go to a temporary folder, never into var/."""
    if "EUM_MEDIA_DIR" not in os.environ:
        monkeypatch.setenv("EUM_MEDIA_DIR", str(tmp_path_factory.mktemp("media")))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def engine(backend: str) -> Iterator[Engine]:
    with engine_for(backend) as eng:
        yield eng


@pytest.fixture
def sqlite_engine() -> Iterator[Engine]:
    with engine_for("sqlite") as eng:
        yield eng


class Platform:
    """A platform under test: set it up like a scenario, then feed it events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def setup(self, doc: dict[str, Any]) -> Platform:
        scenario = validate({**doc, "events": []})
        run_in_transaction(self.engine, apply_setup, scenario.setup)
        return self

    def event(self, op: str, at: str = "2020-03-16T12:00", **fields: Any) -> dict[str, Any]:
        """Run one event as the scenario runner does; returns {"ok": ..., ...}."""
        ev = {"op": op, "at": at, **fields}
        result: dict[str, Any] = run_in_transaction(self.engine, run_event, ev, parse_time(at))
        return result

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return run_in_transaction(self.engine, fn, *args, **kwargs)

    def read(self, fn: Callable[[Connection], Any]) -> Any:
        with self.engine.connect() as conn:
            return fn(conn)

    def state(self) -> dict[str, Any]:
        from eum.stats.service import platform_state

        return self.read(platform_state)  # type: ignore[no-any-return]


@pytest.fixture
def platform(engine: Engine) -> Platform:
    return Platform(engine)


@pytest.fixture
def sqlite_platform(sqlite_engine: Engine) -> Platform:
    return Platform(sqlite_engine)


INCHEON = {
    "id": "incheon",
    "name": "인천e음",
    "districts": [
        "jung",
        "dong",
        "michuhol",
        "yeonsu",
        "namdong",
        "bupyeong",
        "gyeyang",
        "seo",
        "ganghwa",
        "ongjin",
    ],
}
GYEYANG = {"id": "gyeyang", "name": "계양e음", "parent": "incheon", "districts": ["gyeyang"]}
BUPYEONG = {"id": "bupyeong", "name": "부평e음", "parent": "incheon", "districts": ["bupyeong"]}

# The seed article's rules on a small city: a resident, a Benefit Plus shop, a mart.
GYEYANG_CITY: dict[str, Any] = {
    "platform": {"limits": {"personal": {"monthly_charge": 1_000_000, "max_balance": 2_000_000}}},
    "issuers": [INCHEON, GYEYANG, BUPYEONG],
    "budgets": [
        {"id": "incheon-cashback", "owner": "incheon", "amount": 10_000_000_000},
        {"id": "gyeyang-event", "owner": "gyeyang", "amount": 1_000},
        {"id": "gyeyang-fee", "owner": "gyeyang", "amount": 100_000},
    ],
    "rules": [
        {
            "id": "incheon-base",
            "kind": "cashback",
            "owner": "incheon",
            "budget": "incheon-cashback",
            "rate_bps": 400,
            "monthly_cap": 300_000,
        },
        {
            "id": "gyeyang-launch",
            "kind": "cashback",
            "owner": "gyeyang",
            "budget": "gyeyang-event",
            "rate_bps": 100,
            "monthly_cap": 300_000,
        },
        {
            "id": "gyeyang-fee",
            "kind": "fee_support",
            "owner": "gyeyang",
            "budget": "gyeyang-fee",
            "rate_bps": 50,
            "max_annual_sales": 1_000_000_000,
        },
    ],
    "merchants": [
        {
            "id": "m-bunsik",
            "name": "계산동 분식",
            "district": "gyeyang",
            "annual_sales": 300_000_000,
            "tier": "benefit_plus",
            "discount_bps": 300,
            "card_fee_bps": 80,
        },
        {
            "id": "m-mart",
            "name": "작전 마트",
            "district": "gyeyang",
            "annual_sales": 1_500_000_000,
            "card_fee_bps": 150,
        },
        {"id": "m-cafe", "name": "부평 카페", "district": "bupyeong", "card_fee_bps": 80},
    ],
    "members": [
        {"id": "u-kim", "card": "gyeyang"},
        {"id": "u-lee", "card": "incheon"},
    ],
    "campaigns": [{"id": "nanum", "name": "인천사랑 나눔", "owner": "incheon"}],
    "groups": [
        {"id": "club", "name": "계양 산악회", "owner": "u-kim", "members": ["u-kim", "u-lee"]}
    ],
}
