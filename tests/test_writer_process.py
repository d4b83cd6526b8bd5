"""The payment writer in a process of its own answers exactly like the writer thread.

The same stream of payments through both writers gives the same outcomes and the same
platform state; many threads submit at once; a full queue answers ``overloaded``; a
writer process killed with payments in flight answers those ``payment_pending``, a new
one takes over, and every payment that got an outcome is in the database.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from eum import errors, idempotency
from eum.api.app import create_app
from eum.db import is_sqlite, make_engine
from eum.ledger import service as ledger
from eum.ledger.store import accounts
from eum.payments.engine import PaymentEngine, PayRequest
from eum.payments.writer import (
    ProcessPaymentEngine,
    _portable,
    make_payment_engine,
    shareable,
)
from tests.api_support import Api
from tests.conftest import Platform, engine_for
from tests.test_engine import MEMBERS, MERCHANTS, START, _comparable, _prepare, _stream

TIMEOUT = 60


def _requests(n: int, prefix: str = "w") -> list[PayRequest]:
    return [
        PayRequest(
            member_id=MEMBERS[i % len(MEMBERS)],
            merchant_id=MERCHANTS[i % len(MERCHANTS)],
            amount_krw=1_000 + i,
            at=START + timedelta(seconds=i),
            scope="test",
            key=f"{prefix}{i}",
            ref=f"{prefix}{i}",
            fingerprint=idempotency.fingerprint("pay", {"prefix": prefix, "i": i}),
        )
        for i in range(n)
    ]


def _answer(future: Future[dict[str, Any]]) -> Any:
    try:
        return future.result(TIMEOUT)
    except Exception as exc:
        return exc


def test_the_factory_keeps_the_thread_where_no_other_process_can_open_the_database(
    sqlite_engine: Engine,
) -> None:
    memory = make_engine("sqlite://")
    assert not shareable(memory)
    assert type(make_payment_engine(memory, "process")) is PaymentEngine
    assert shareable(sqlite_engine)
    assert type(make_payment_engine(sqlite_engine, "thread")) is PaymentEngine
    writer = make_payment_engine(sqlite_engine, "process", autostart=False)
    assert isinstance(writer, ProcessPaymentEngine)
    writer.close()  # never started: nothing to stop
    with pytest.raises(ValueError):
        make_payment_engine(sqlite_engine, "fork")


def test_both_writers_answer_a_stream_alike(backend: str) -> None:
    requests = _stream(5, 160)
    results = []
    for kind in ("thread", "process"):
        with engine_for(backend) as engine:
            platform = Platform(engine)
            _prepare(platform)
            writer = make_payment_engine(engine, kind, max_batch=17)
            assert writer.writer == kind
            futures = [writer.submit(r) for r in requests]
            outcomes = [_answer(f) for f in futures]
            writer.close()
            assert platform.read(ledger.verify).ok
            results.append(([_comparable(o) for o in outcomes], platform.state()))
    (thread, thread_state), (process, process_state) = results
    for i, (a, b) in enumerate(zip(thread, process, strict=True)):
        assert a == b, f"request {i}: {requests[i]}"
    assert thread_state == process_state
    assert {"ok", "insufficient_funds", "IdempotencyConflict"} <= {
        o if isinstance(o, str) else o.get("error", "ok") for o in thread
    }


def test_many_threads_pay_through_the_writer_process(engine: Engine) -> None:
    platform = Platform(engine)
    _prepare(platform)
    requests = _requests(300)
    writer = ProcessPaymentEngine(engine, max_batch=64)
    answers: dict[int, Any] = {}

    def client(offset: int) -> None:
        for i in range(offset, len(requests), 6):
            answers[i] = writer.pay(requests[i], timeout=TIMEOUT)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = writer.stats()
    writer.close()
    assert len(answers) == 300 and all(a["ok"] for a in answers.values())
    assert stats["writer"] == "process" and stats["writer_pid"] != os.getpid()
    assert writer.payments == 300 and writer.batches < 300  # batched, not one by one
    state = platform.state()
    for i, a in answers.items():  # every acknowledged payment is in the database
        assert state["payments"][f"w{i}"]["charged"] == a["charged"]
    assert platform.read(ledger.verify).ok
    # a retry after the fact replays the stored result, from a new writer process
    again = ProcessPaymentEngine(engine)
    assert again.pay(requests[7], timeout=TIMEOUT) == dict(answers[7], replayed=True)
    again.close()


def test_a_full_queue_answers_overloaded_and_takes_nothing(sqlite_engine: Engine) -> None:
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = ProcessPaymentEngine(sqlite_engine, max_queue=3, autostart=False)
    request = PayRequest(member_id="u-kim", merchant_id="m-mart", amount_krw=1_000, at=START)
    futures = [writer.submit(request) for _ in range(3)]
    with pytest.raises(errors.Overloaded):
        writer.submit(request)
    writer.start()
    assert [f.result(timeout=TIMEOUT)["ok"] for f in futures] == [True, True, True]
    writer.close()
    assert len(platform.state()["payments"]) == 3


def test_one_broken_request_fails_alone_in_the_writer_process(sqlite_engine: Engine) -> None:
    """The batch is retried one by one in the child; only the broken payment fails."""
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = ProcessPaymentEngine(sqlite_engine, autostart=False)
    good = PayRequest(member_id="u-kim", merchant_id="m-mart", amount_krw=1_000, at=START)
    broken = PayRequest(member_id="u-lee", merchant_id="m-mart", amount_krw=1_000, at="x")  # type: ignore[arg-type]
    unpicklable = PayRequest(
        member_id="u-lee", merchant_id="m-mart", amount_krw=lambda: 1, at=START
    )
    futures = [writer.submit(r) for r in (good, broken, unpicklable, good)]
    writer.start()
    assert futures[0].result(timeout=TIMEOUT)["ok"] and futures[3].result(timeout=TIMEOUT)["ok"]
    with pytest.raises(AttributeError):
        futures[1].result(timeout=TIMEOUT)
    with pytest.raises(Exception, match="pickle"):
        futures[2].result(timeout=TIMEOUT)
    writer.close()
    assert len(platform.state()["payments"]) == 2


@contextmanager
def _balances_locked(engine: Engine) -> Iterator[None]:
    """Hold the lock every batch needs (SQLite's write lock, PostgreSQL's balance rows),
    so that batches sent to the writer stay in flight until the block ends."""
    with engine.connect() as conn:
        conn.begin()  # BEGIN IMMEDIATE on SQLite: the write lock
        if not is_sqlite(conn):
            conn.execute(select(accounts.c.id).with_for_update()).all()
        try:
            yield
        finally:
            conn.rollback()


def _wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_a_killed_writer_answers_pending_and_a_new_one_takes_over(engine: Engine) -> None:
    platform = Platform(engine)
    _prepare(platform)
    writer = ProcessPaymentEngine(engine, max_batch=4)
    requests = _requests(20, "kill")
    assert writer.pay(requests[0], timeout=TIMEOUT)["ok"]  # the child is up
    first_pid = writer.writer_pid
    assert first_pid is not None
    child = writer._child
    assert child is not None
    with _balances_locked(engine):
        futures = [writer.submit(r) for r in requests[1:]]
        # two batches go to the child and wait for the lock; the rest queue
        _wait_until(lambda: len(child.in_flight) == 2, "two batches are in flight")
        held = {r.key for batch in child.in_flight for r, _ in batch}
        os.kill(first_pid, signal.SIGKILL)
        _wait_until(lambda: writer.restarts == 1, "a new writer process started")
    answers = [_answer(f) for f in futures]
    pending = {requests[i].key for i, a in enumerate(answers, 1) if not isinstance(a, dict)}
    assert pending == held and 2 <= len(held) <= 8  # the batches the dead child held
    assert all(isinstance(a, errors.PaymentPending) for a in answers if not isinstance(a, dict))
    assert all(a["ok"] for a in answers if isinstance(a, dict))  # the rest: the new child
    assert writer.writer_pid not in (None, first_pid)
    state = platform.state()
    for i, a in enumerate(answers, 1):
        if isinstance(a, dict):
            assert state["payments"][f"kill{i}"]["charged"] == a["charged"]
        else:  # killed before the commit: not booked; a retry with its key pays it
            assert f"kill{i}" not in state["payments"]
            retried = writer.pay(requests[i], timeout=TIMEOUT)
            assert retried["ok"] and not retried["replayed"]
    later = _requests(5, "later")
    assert all(writer.pay(r, timeout=TIMEOUT)["ok"] for r in later)
    writer.close()
    assert len(platform.state()["payments"]) == 1 + 19 + 5
    assert platform.read(ledger.verify).ok


def test_a_writer_killed_at_any_moment_loses_no_acknowledged_payment(
    sqlite_engine: Engine,
) -> None:
    """Kill the child while a stream is flowing: every outcome answered is booked, and
    a retry of each pending payment with its key either replays it or pays it once."""
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = ProcessPaymentEngine(sqlite_engine, max_batch=8)
    requests = _requests(400, "any")
    futures = [writer.submit(r) for r in requests]
    _wait_until(lambda: writer.payments >= 40, "some batches committed")
    pid = writer.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    answers = [_answer(f) for f in futures]
    assert all(isinstance(a, (dict, errors.PaymentPending)) for a in answers)
    state = platform.state()
    for r, a in zip(requests, answers, strict=True):
        if isinstance(a, dict):
            assert a["ok"] and state["payments"][r.key]["charged"] == a["charged"]
        else:
            retried = writer.pay(r, timeout=TIMEOUT)
            assert retried["ok"]
            assert retried["replayed"] == (r.key in state["payments"])
    writer.close()
    assert len(platform.state()["payments"]) == 400
    assert platform.read(ledger.verify).ok


def test_close_commits_what_is_queued_and_stops_the_child(sqlite_engine: Engine) -> None:
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = ProcessPaymentEngine(sqlite_engine, max_batch=8, autostart=False)
    futures = [writer.submit(r) for r in _requests(50, "close")]
    writer.start()
    child = writer._child
    assert child is not None
    writer.close()
    assert all(f.done() and f.result()["ok"] for f in futures)
    assert child.process.poll() == 0  # exited on its own
    assert writer.writer_pid is None
    assert len(platform.state()["payments"]) == 50


def test_the_api_pays_through_the_writer_process(engine: Engine) -> None:
    from fastapi.testclient import TestClient

    api = Api(engine)
    client = api.as_("kim")
    api.platform.event("charge", member="u-kim", amount=100_000)
    app = create_app(engine, payment_writer="process")
    with TestClient(app) as served:  # the lifespan starts and closes the writer
        served.headers.update(client.headers)
        health = served.get("/api/v1/health").json()["payment_engine"]
        assert health["writer"] == "process" and health["writer_pid"] is not None
        body = {"merchant": "m-mart", "amount": 5_000}
        paid = served.post("/api/v1/payments", json=body, headers={"Idempotency-Key": "p-1"})
        assert paid.status_code == 201, paid.text
        again = served.post("/api/v1/payments", json=body, headers={"Idempotency-Key": "p-1"})
        assert again.json() == paid.json()
    assert app.state.payments.writer_pid is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments")).scalar() == 1


def test_an_error_the_server_could_not_unpickle_becomes_a_runtime_error() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    assert isinstance(_portable(errors.InsufficientFunds()), errors.InsufficientFunds)
    portable = _portable(Local("boom"))
    assert type(portable) is RuntimeError and "Local: boom" in str(portable)
