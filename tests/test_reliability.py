"""Reliability of the real server (issue #7, items 1 and 2), on SQLite and PostgreSQL.

Both load tests start ``eum serve`` (with its payment writer process) on a fresh database
holding a small city, drive sixteen client threads of random money requests through the
JSON API on overlapping wallets, shops, pools and budgets (``tests/reliability_support``),
re-send about a tenth of them under the same key, and then read the database directly:
the ledger verifies, nothing is negative, every acknowledged key is applied exactly once
with what its answer said, and money is conserved. The crash test kills the server and
its writer in the middle of the load and restarts it on the same database.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from eum import errors
from eum.clock import now
from eum.db import make_engine, run_in_transaction
from eum.ledger.store import accounts
from eum.payments import service as payments
from eum.payments.store import payments as payments_table
from eum.payments.store import refunds
from tests.conftest import GYEYANG_CITY, Platform
from tests.reliability_support import (
    PAYMENT_KINDS,
    WEIGHTS,
    Load,
    ServerProcess,
    acknowledged_payments,
    build_city,
    check_books,
    check_whole_entries,
    database_url,
    over_refunds,
    snapshot,
    stored_payments,
)

LOAD_SECONDS = 12.0
CRASH_AFTER_SECONDS = 4.0  # of load before the kill
CRASH_LOAD_SECONDS = 20.0  # the load's own limit; the kill ends it sooner
AMOUNTS = ("amount", "discount", "charged", "from_cashback", "fee")
PAYMENTS_ON_THE_WIRE = 2  # the kill waits until this many payments are unanswered
MIN_REQUESTS = 200  # a load that ran at all, on a 2-core machine
RACE_REFUNDS = 4


def _print(backend: str, title: str, figures: dict[str, Any]) -> None:
    print(f"\n[{backend}] {title}:")
    for name, value in figures.items():
        print(f"  {name}: {value}")


def _refunds_stay_within_payments(engine: Engine) -> None:
    """No payment refunded beyond what it charged (two shop requests refunding one
    payment at the same moment run one after the other: the payment row is locked)."""
    over = over_refunds(engine)
    assert not over, f"payments refunded beyond what they charged: {over[:5]}"


def test_random_load_keeps_the_books(engine: Engine, backend: str, tmp_path: Path) -> None:
    tokens = build_city(engine)
    before = snapshot(engine)
    load = Load(tokens, seed=7)
    with ServerProcess(database_url(engine), tmp_path) as server:
        base_url = server.start()
        load.run(base_url, LOAD_SECONDS)
        undecided = load.resolve(base_url)
        server.stop()
    figures = load.figures()
    _print(backend, f"random load, {LOAD_SECONDS:.0f} s, {load.threads} threads", figures)
    assert not undecided, f"requests the server never decided: {undecided[:3]}"

    books = check_books(engine, load, before)
    _print(backend, "books after the load", books)

    answers = figures["answers"]
    assert figures["requests"] >= MIN_REQUESTS, figures
    assert set(figures["by_kind"]) == set(WEIGHTS), "every kind of request ran"
    for kind in ("charge", *PAYMENT_KINDS, "refund", "donate", "contribute"):
        assert figures["acknowledged_by_kind"].get(kind, 0) > 0, f"no {kind} succeeded"
    assert figures["keys_retried"] >= 0.05 * figures["requests"], figures
    assert figures["retried_together"] > 0 and figures["retried_after"] > 0, figures
    assert answers.get("2xx", 0) > 0 and answers.get("4xx", 0) > 0, answers
    assert answers.get("5xx", 0) == 0 and answers.get("503", 0) == 0, answers
    assert answers.get("lost", 0) == 0 and answers.get("undelivered", 0) == 0, answers
    assert books["budget_cut_lines"] > 0, "no budget ran dry: the budgets are too big"
    assert books["issuance_krw"] > 0 and books["cashback_krw"] > 0, books
    _refunds_stay_within_payments(engine)


def test_a_killed_server_loses_no_acknowledged_payment(
    engine: Engine, backend: str, tmp_path: Path
) -> None:
    tokens = build_city(engine)
    before = snapshot(engine)
    load = Load(tokens, seed=11)
    with ServerProcess(database_url(engine), tmp_path) as server:
        base_url = server.start()
        load.start(base_url, CRASH_LOAD_SECONDS)
        busy = load.wait_busy(
            after=CRASH_AFTER_SECONDS, payments_on_the_wire=PAYMENTS_ON_THE_WIRE, timeout=12
        )
        load.stop()
        killed = server.kill()
        load.join()
        calls = list(load.calls.values())
        acknowledged = {c.key: c.result for c in acknowledged_payments(calls)}
        decided = sum(c.result is not None for c in calls)
        in_flight = [c for c in calls if c.result is None and c.lost]
        unsent = [c for c in calls if c.result is None and not c.lost]  # refused or shed
        with engine.connect() as conn:  # the database as the crash left it
            crashed = check_whole_entries(conn)

        server.start()  # on the same database
        load.resend(server.base_url, in_flight, together=2)
        undecided = load.resolve(server.base_url)
        server.stop()

    resolved = [c for c in in_flight if c.result is not None]
    figures = {
        "busy_at_kill": busy,
        "processes_killed": len(killed),
        "requests_before_kill": len(calls),
        "decided_before_kill": decided,
        "acknowledged_payments_before_kill": len(acknowledged),
        "in_flight_at_kill": len(in_flight),
        "in_flight_payments": sum(c.kind in PAYMENT_KINDS for c in in_flight),
        "not_delivered_or_shed": len(unsent),
        "resolved_after_retry": len(resolved),
        "resolved_2xx": sum(c.acknowledged for c in resolved),
        "resolved_4xx": sum(not c.acknowledged for c in resolved),
        "in_flight_already_booked": sum(
            all(a.replayed == "true" for a in c.answers) for c in resolved if c.acknowledged
        ),
        "entries_after_crash": crashed["entries"],
    }
    _print(backend, "server killed under load and restarted", figures)
    assert busy, "the load never had payments on the wire to kill"
    assert len(killed) >= 2, f"the server and its writer process, not {killed}"
    assert len(acknowledged) > 0 and len(in_flight) > 0, figures
    assert not undecided, f"requests the restarted server never decided: {undecided[:3]}"

    # Every in-flight request, retried with its key, got one answer every time: a 2xx
    # naming the same payment (or charge, refund ...) or the same 4xx error.
    for call in in_flight:
        final = [a for a in call.answers if a.final]
        assert len(final) >= 3, (call.key, call.answers)
        assert all((a.status, a.body) == (final[0].status, final[0].body) for a in final), (
            call.key,
            final,
        )
        assert all(a.status < 500 for a in call.answers), (call.key, call.answers)

    # Every payment acknowledged before the kill is there with the amounts its answer
    # said, and the whole load (before and after the restart) is applied exactly once
    # (check_books compares every acknowledged row, rule lines included).
    said = {
        str(a.body["payment_id"]): {k: a.body[k] for k in AMOUNTS}
        for a in acknowledged.values()
        if a is not None
    }
    assert stored_payments(engine, said) == said
    paid_on_retry = {
        str(c.result.body["payment_id"])
        for c in resolved
        if c.kind in PAYMENT_KINDS and c.result is not None and c.result.ok
    }
    assert set(stored_payments(engine, paid_on_retry)) == paid_on_retry
    for key, answer in acknowledged.items():
        assert load.calls[key].result == answer, key
    books = check_books(engine, load, before)
    _print(backend, "books after the restart", books)
    _refunds_stay_within_payments(engine)


def test_concurrent_refunds_of_one_payment_never_exceed_it(engine: Engine, backend: str) -> None:
    """Four shop terminals refund the same 10,000 won payment in full at the same moment:
    one refund is booked, the others are refund_exceeds_payment."""
    platform = Platform(engine).setup(GYEYANG_CITY)
    at = now().isoformat()
    platform.event("charge", at=at, member="u-kim", amount=100_000)
    paid = platform.event(
        "pay", at=at, key="race", member="u-kim", merchant="m-mart", amount=10_000
    )
    payment_id = paid["payment_id"]
    outcomes: list[Any] = []
    tag = f"eum-race-{payment_id}"
    refunder = (
        make_engine(database_url(engine), connect_args={"application_name": tag})
        if backend == "postgres"
        else engine
    )

    def refund() -> None:
        try:
            outcomes.append(
                run_in_transaction(
                    refunder,
                    lambda c: payments.refund(
                        c, payment_id=payment_id, amount_krw=10_000, at=now()
                    ),
                )
            )
        except errors.RefundExceedsPayment as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=refund) for _ in range(RACE_REFUNDS)]
    try:
        with engine.connect() as blocker, blocker.begin():
            if backend == "postgres":
                # Hold every balance row, so that each refund has read the payment before
                # any of them books (SQLite queues writers before they read anything).
                blocker.execute(select(accounts.c.id).with_for_update()).all()
            for t in threads:
                t.start()
            if backend == "postgres":
                _wait_for_lock_waits(engine, tag, RACE_REFUNDS)
        for t in threads:
            t.join(30)
    finally:
        if refunder is not engine:
            refunder.dispose()

    with engine.connect() as conn:
        refunded = conn.execute(
            select(payments_table.c.refunded).where(payments_table.c.id == int(payment_id))
        ).scalar_one()
        rows = conn.execute(
            select(refunds.c.amount).where(refunds.c.payment_id == int(payment_id))
        ).all()
    booked = [o for o in outcomes if isinstance(o, dict)]
    print(
        f"\n[{backend}] {RACE_REFUNDS} concurrent full refunds: {len(booked)} booked, "
        f"{len(rows)} refund rows, payments.refunded = {refunded}"
    )
    assert len(booked) == 1 and len(rows) == 1, outcomes
    assert outcomes.count("refund_exceeds_payment") == RACE_REFUNDS - 1, outcomes
    assert refunded == 10_000


def _wait_for_lock_waits(engine: Engine, tag: str, count: int, timeout: float = 10.0) -> None:
    """Until ``count`` sessions named ``tag`` wait for a lock (or ``timeout``: the test's
    assertions do not depend on it, only how surely the race is staged)."""
    deadline = time.monotonic() + timeout
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = :tag AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(query, {"tag": tag}).scalar_one() >= count:
                return
            conn.rollback()  # a fresh snapshot of pg_stat_activity next time
            time.sleep(0.01)
