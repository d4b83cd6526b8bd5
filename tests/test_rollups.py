"""Dashboard counters and the pages that lean on them.

The counters are checked against a full recount after every random event stream
(tests/test_properties.py) and after batches (tests/test_engine.py); here: the
migration that introduced them fills them from what was already stored, the figures
they give equal figures counted from the payments themselves, and an issuer admin's
payment pages (merged per district) list exactly its area's payments, newest first.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import delete, select

from eum.auth.model import Principal
from eum.clock import KST, kst_month
from eum.db import run_in_transaction
from eum.merchants.store import merchants
from eum.migrate import alembic_config
from eum.money.refunds import current
from eum.payments import views as payment_views
from eum.payments.store import payment_lines, payments
from eum.stats import rollups
from eum.stats import views as stats
from eum.stats.store import active_months, payment_months
from tests.conftest import GYEYANG_CITY, Platform

START = datetime(2020, 3, 25, 10, 0, tzinfo=KST)
SHOPS = ["m-bunsik", "m-mart", "m-cafe"]


def _busy(platform: Platform, seed: int = 5, n: int = 60) -> None:
    """A fortnight across a month's end: charges, payments at shops of two districts by
    cards of two issuers, group payments and partial and full refunds."""
    rng = random.Random(seed)
    platform.setup(GYEYANG_CITY)
    for member in ("u-kim", "u-lee"):
        for day in ("2020-03-20", "2020-04-01"):
            platform.event("charge", at=f"{day}T00:10", member=member, amount=900_000)
    keys = []
    for i in range(n):
        at = (START + timedelta(hours=5 * i)).strftime("%Y-%m-%dT%H:%M")
        key = f"p{i}"
        if i % 9 == 4:  # the pool gets cashback just earned, and pays with it
            gave = platform.event(
                "contribute", at=at, key=f"c{i}", member="u-kim", group="club", amount=100
            )
            assert gave["ok"], gave
            done = platform.event(
                "group_pay", at=at, key=key, group="club", by="u-kim",
                merchant=rng.choice(SHOPS), amount=rng.randint(50, 100),
            )  # fmt: skip
        elif i % 9 == 3:  # cashback for the pool
            done = platform.event(
                "pay", at=at, key=key, member="u-kim", merchant="m-bunsik", amount=20_000
            )
        else:
            done = platform.event(
                "pay", at=at, key=key, member=rng.choice(["u-kim", "u-lee"]),
                merchant=rng.choice(SHOPS), amount=rng.randint(1_000, 30_000),
            )  # fmt: skip
        assert done["ok"], done
        keys.append(key)
        if i % 4 == 3:
            target = rng.choice(keys)
            later = (START + timedelta(hours=5 * i + 2)).strftime("%Y-%m-%dT%H:%M")
            platform.event("refund", at=later, key=f"r{i}", payment=target, amount=1)
        if i % 10 == 7:  # donations by a member and by the group, a budget topped up
            gave = platform.event(
                "donate", at=at, key=f"d{i}", member="u-lee", campaign="nanum", amount=10
            )
            assert gave["ok"], gave
            gave = platform.event(
                "donate", at=at, key=f"g{i}", group="club", by="u-kim", campaign="nanum", amount=1
            )
            assert gave["ok"], gave
            platform.event("fund", at=at, key=f"f{i}", budget="gyeyang-event", amount=1_000)
    late = platform.event(  # a payment that arrives after later ones: counted on its own day
        "pay", at="2020-03-24T12:00", key="late", member="u-lee", merchant="m-mart", amount=7_000
    )
    assert late["ok"], late


def test_the_migration_fills_the_counters_from_what_was_stored(engine: Any) -> None:
    platform = Platform(engine)
    _busy(platform)
    kept = platform.read(rollups.stored)
    assert kept == platform.read(rollups.recount)
    assert kept["active_months"] and kept["merchant_days"] and kept["support_months"]
    assert any(day[5] for day in kept["merchant_days"].values())  # refunds were counted
    assert any(row[3] for row in kept["card_days"].values())  # donations were counted
    assert kept["budget_days"][("gyeyang-event", "2020-03-26")][0] == 1_000  # funded
    assert any(spent > 0 for _funded, spent in kept["budget_days"].values())
    assert any(key[0] == "2020-03-24" for key in kept["payment_days"])  # the late one
    config = alembic_config(engine)
    command.downgrade(config, "0003")  # as a database was before the counters
    command.upgrade(config, "head")
    assert platform.read(rollups.stored) == kept


def test_rebuild_replaces_wrong_counters_with_a_recount(sqlite_platform: Platform) -> None:
    _busy(sqlite_platform)
    kept = sqlite_platform.read(rollups.stored)

    def damage(conn: Any) -> None:
        conn.execute(delete(active_months))
        conn.execute(payment_months.update().values(paid=payment_months.c.paid + 1))

    sqlite_platform.run(damage)
    assert sqlite_platform.read(rollups.stored) != kept
    sqlite_platform.run(rollups.rebuild)
    assert sqlite_platform.read(rollups.stored) == kept


def _counted(conn: Any, districts: set[str], cards: set[str], month: str) -> dict[str, int]:
    """Figures of a month counted from the payment rows themselves (no counter)."""
    district = dict(conn.execute(select(merchants.c.id, merchants.c.district)).all())
    out = {"payment_count": 0, "payments": 0, "card_payments": 0, "cashback": 0}
    payers = set()
    for p in conn.execute(select(payments).where(payments.c.month == month)):
        net = p.charged - p.refunded
        if district[p.merchant_id] in districts:
            out["payment_count"] += 1
            out["payments"] += net
        if p.card_issuer_id in cards:
            out["card_payments"] += net
            if p.payer_kind == "member":
                payers.add(p.member_id)
    out["active_members"] = len(payers)
    for ln in conn.execute(
        select(payment_lines, payments.c.charged, payments.c.refunded)
        .join(payments, payments.c.id == payment_lines.c.payment_id)
        .where(payments.c.month == month, payment_lines.c.kind == "cashback")
    ):
        out["cashback"] += current(ln.amount, ln.charged, ln.refunded)  # all incheon's
    return out


def test_the_figures_equal_a_count_of_the_payments(platform: Platform) -> None:
    _busy(platform)
    with platform.engine.connect() as conn:
        for month in ("2020-03", "2020-04"):
            area = stats.area_for(conn, Principal("op", "op", "operator"), "incheon")
            got = stats.overview(conn, area, month)
            want = _counted(conn, set(area.districts or ()), set(area.issuers or ()), month)
            assert {k: got[k] for k in want} == want, month
            assert want["payment_count"] > 5 and want["cashback"] > 0
        series = stats.monthly(conn, area, "2020-04", 3)
    assert [m["month"] for m in series] == ["2020-02", "2020-03", "2020-04"]
    assert series[0]["payment_count"] == 0 and series[0]["cashback"] == 0
    assert series[2]["members"] == 2


def test_an_admin_pages_through_exactly_its_districts_payments(platform: Platform) -> None:
    _busy(platform, seed=9, n=70)
    admin = Principal(
        "adm", "incheon-admin", "issuer_admin", issuer_id="incheon",
        issuers=frozenset({"incheon", "gyeyang", "bupyeong"}),
        districts=frozenset({"gyeyang", "bupyeong", "seo"}),
    )  # fmt: skip
    gyeyang = Principal(
        "adm2", "gyeyang-admin", "issuer_admin", issuer_id="gyeyang",
        issuers=frozenset({"gyeyang"}), districts=frozenset({"gyeyang"}),
    )  # fmt: skip
    with platform.engine.connect() as conn:
        district = dict(conn.execute(select(merchants.c.id, merchants.c.district)).all())
        every = [(r.id, r.merchant_id) for r in conn.execute(select(payments))]
        for who in (admin, gyeyang):
            want = sorted((i for i, m in every if district[m] in who.districts), reverse=True)
            got: list[int] = []
            cursor = None
            while True:
                items, cursor = payment_views.visible(conn, who, 7, cursor, None)
                got += [int(item["id"]) for item in items]
                if cursor is None:
                    break
            assert got == want
            assert 0 < len(want) <= len(every)


def test_months_of_payments_are_kst_months(sqlite_platform: Platform) -> None:
    """A payment at 00:30 KST on April 1st is March 31st in UTC: April's."""
    sqlite_platform.setup(GYEYANG_CITY)
    sqlite_platform.event("charge", at="2020-03-20T09:00", member="u-kim", amount=50_000)
    done = sqlite_platform.event(
        "pay", at="2020-03-31T15:30:00Z", key="k", member="u-kim", merchant="m-mart",
        amount=10_000,
    )  # fmt: skip
    assert done["ok"]
    counts = sqlite_platform.read(rollups.stored)
    month = kst_month(datetime(2020, 3, 31, 15, 30, tzinfo=KST) + timedelta(hours=9))
    assert month == "2020-04"
    assert {k[0] for k in counts["payment_months"]} == {"2020-04"}
    assert ("m-mart", "2020-04-01") in counts["merchant_days"]
    run_in_transaction(sqlite_platform.engine, rollups.rebuild)
    assert sqlite_platform.read(rollups.stored) == counts
