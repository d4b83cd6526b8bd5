"""The Incheon demo: built through the services, deterministic for a seed, balanced."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from eum import demo
from eum.ledger.service import verify
from eum.policy.store import issuers, rules
from eum.stats.service import platform_state
from tests.conftest import engine_for

UNTIL = date(2020, 3, 31)


def _build(seed: int) -> dict:  # type: ignore[type-arg]
    with engine_for("sqlite") as engine:
        report = demo.load(engine, seed=seed, until=UNTIL, merchants_n=40, members_n=120, days=10)
        with engine.connect() as conn:
            state = platform_state(conn)
            brands = dict(conn.execute(select(issuers.c.id, issuers.c.name)).all())
            rule_ids = [r.id for r in conn.execute(select(rules).order_by(rules.c.seq))]
            assert verify(conn).ok
    return {"report": report, "state": state, "brands": brands, "rules": rule_ids}


def test_the_demo_is_incheon_with_its_ten_districts_brands_and_seed_rules() -> None:
    built = _build(seed=1)
    assert built["brands"]["incheon"] == "인천e음"
    assert built["brands"]["gyeyang"] == "계양e음"
    assert built["brands"]["seo"] == "서로e음"
    assert len(built["brands"]) == 11
    assert built["rules"] == ["incheon-base", "gyeyang-launch", "gyeyang-bplus", "gyeyang-fee"]
    outcome = built["report"]["outcome"]
    assert outcome["pay"] > 300 and outcome["charge"] > 100 and outcome.get("refund", 0) > 0
    assert built["state"]["totals"]["cashback"] > 0
    assert built["state"]["ledger"]["balanced"] is True


def test_the_same_seed_builds_the_same_city_and_another_seed_does_not() -> None:
    one, again, other = _build(seed=5), _build(seed=5), _build(seed=6)
    strip = lambda s: {k: v for k, v in s.items() if k != "payments"}  # noqa: E731 ids differ
    assert strip(one["state"]) == strip(again["state"])
    assert one["report"] == again["report"]
    assert strip(one["state"]) != strip(other["state"])
