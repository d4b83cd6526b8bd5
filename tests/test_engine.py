"""The payment engine books batches exactly as one-payment-per-transaction would.

The same random stream of payments (good ones, refused ones, coupons, retried keys,
keys reused for another request) runs once through ``pay`` one transaction at a time
and once through ``pay_batch`` in batches of random sizes; every outcome and the whole
platform state must come out the same. Then the writer thread: results only after the
commit, many threads at once, a full queue answers ``overloaded``.
"""

from __future__ import annotations

import copy
import random
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from eum import errors, idempotency
from eum.clock import KST
from eum.db import run_in_transaction
from eum.ledger import service as ledger
from eum.payments import service as payments
from eum.payments.engine import PaymentEngine, PayRequest, pay_batch
from eum.stats import rollups
from tests.conftest import GYEYANG_CITY, Platform, engine_for

START = datetime(2020, 3, 16, 9, 0, tzinfo=KST)
MEMBERS = ["u-kim", "u-lee", "u-park", "u-choi", "u-jung"]
MERCHANTS = ["m-bunsik", "m-mart", "m-cafe"]


def _city() -> dict[str, Any]:
    doc = copy.deepcopy(GYEYANG_CITY)
    doc["members"] += [{"id": m, "card": "gyeyang"} for m in MEMBERS[2:]]
    doc["coupons"] = [
        {"id": "c-bunsik", "merchant": "m-bunsik", "value": 1_000, "min_spend": 5_000},
        {"id": "c-mart", "merchant": "m-mart", "value": 3_000, "quantity": 10},
    ]
    return doc


def _prepare(platform: Platform) -> None:
    platform.setup(_city())
    for m in MEMBERS:
        platform.event("charge", member=m, amount=300_000)
        for coupon in ("c-bunsik", "c-mart"):
            platform.event("claim", member=m, coupon=coupon)


def _stream(seed: int, n: int) -> list[PayRequest]:
    """Payments with every kind of outcome, and keys that are retried or reused."""
    rng = random.Random(seed)
    out: list[PayRequest] = []
    for i in range(n):
        if out and rng.random() < 0.08:  # a retry of an earlier request, same key
            out.append(rng.choice(out))
            continue
        amount: object = rng.choice([rng.randint(1_000, 40_000)] * 8 + [0, 2_000_000, "900"])
        fields = {
            "member": rng.choice([*MEMBERS, "u-ghost"] if rng.random() < 0.05 else MEMBERS),
            "merchant": rng.choice([*MERCHANTS, "m-ghost"] if rng.random() < 0.05 else MERCHANTS),
            "amount": amount,
            "channel": rng.choice(["card"] * 6 + ["qr", "online", "cash"]),
            "coupon": rng.choice([None] * 3 + ["c-bunsik", "c-mart"]),
        }
        key = f"k{i}"
        if out and rng.random() < 0.04:  # an earlier key reused for another request
            key = rng.choice(out).key or key
        out.append(
            PayRequest(
                member_id=fields["member"],
                merchant_id=fields["merchant"],
                amount_krw=amount,
                at=START + timedelta(minutes=7 * i),
                channel=fields["channel"],
                coupon_id=fields["coupon"],
                ref=key,
                scope="test",
                key=key,
                fingerprint=idempotency.fingerprint("pay", fields),
            )
        )
    return out


def _one_by_one(engine: Engine, requests: list[PayRequest]) -> list[Any]:
    outcomes: list[Any] = []
    for r in requests:

        def unit(conn: Any, r: PayRequest = r) -> Any:
            assert r.key is not None and r.fingerprint is not None
            digest = r.fingerprint
            stored = idempotency.stored_many(conn, [("test", r.key)]).get(("test", r.key))
            if stored is not None:
                return idempotency.replay(r.key, stored.fingerprint, stored.result, digest)
            result = idempotency.outcome(
                lambda: payments.pay(
                    conn,
                    member_id=r.member_id,
                    merchant_id=r.merchant_id,
                    amount_krw=r.amount_krw,
                    at=r.at,
                    channel=r.channel,
                    coupon_id=r.coupon_id,
                    ref=r.ref,
                )
            )
            idempotency.store_many(conn, [idempotency.row_for("test", r.key, digest, result, r.at)])
            return dict(result, replayed=False)

        try:
            outcomes.append(run_in_transaction(engine, unit))
        except errors.IdempotencyConflict as exc:
            outcomes.append(exc)
    return outcomes


def _in_batches(engine: Engine, requests: list[PayRequest], seed: int) -> list[Any]:
    rng = random.Random(seed)
    outcomes: list[Any] = []
    start = 0
    while start < len(requests):
        size = rng.choice([1, 2, 5, 17, 40, 120])
        outcomes += run_in_transaction(engine, pay_batch, requests[start : start + size])
        start += size
    return outcomes


def _comparable(outcome: Any) -> Any:
    if isinstance(outcome, Exception):
        return type(outcome).__name__
    return {k: v for k, v in outcome.items() if k != "payment_id"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_book_exactly_what_single_payments_book(backend: str, seed: int) -> None:
    requests = _stream(seed, 160)
    results = []
    for way in ("single", "batch"):
        with engine_for(backend) as engine:
            platform = Platform(engine)
            _prepare(platform)
            if way == "single":
                outcomes = _one_by_one(engine, requests)
            else:
                outcomes = _in_batches(engine, requests, seed)
            assert platform.read(ledger.verify).ok
            counters = platform.read(rollups.stored)
            assert counters == platform.read(rollups.recount)
            assert counters["payment_months"]  # the stream did pay
            results.append(([_comparable(o) for o in outcomes], (platform.state(), counters)))
    (single, single_state), (batch, batch_state) = results
    for i, (a, b) in enumerate(zip(single, batch, strict=True)):
        assert a == b, f"request {i}: {requests[i]}"
    assert single_state == batch_state
    kinds = {o if isinstance(o, str) else o.get("error", "ok") for o in single}
    # the stream really exercised successes, refusals, replays and conflicts
    assert {"ok", "insufficient_funds", "coupon_not_held", "IdempotencyConflict"} <= kinds
    assert any(isinstance(o, dict) and o["replayed"] for o in single)


def test_the_engine_answers_each_payment_after_its_batch_committed(engine: Engine) -> None:
    platform = Platform(engine)
    _prepare(platform)
    requests = [
        PayRequest(
            member_id=MEMBERS[i % len(MEMBERS)],
            merchant_id=MERCHANTS[i % len(MERCHANTS)],
            amount_krw=1_000 + i,
            at=START + timedelta(seconds=i),
            scope="test",
            key=f"t{i}",
            ref=f"t{i}",
            fingerprint=idempotency.fingerprint("pay", {"i": i}),
        )
        for i in range(300)
    ]
    writer = PaymentEngine(engine, max_batch=64)
    answers: dict[int, Any] = {}

    def client(offset: int) -> None:
        for i in range(offset, len(requests), 6):
            answers[i] = writer.pay(requests[i], timeout=60)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert len(answers) == 300 and all(a["ok"] for a in answers.values())
    assert writer.payments == 300 and writer.batches < 300  # batched, not one by one
    state = platform.state()
    for i, a in answers.items():  # every acknowledged payment is in the database
        assert state["payments"][f"t{i}"]["charged"] == a["charged"]
    assert platform.read(ledger.verify).ok
    # a retry after the fact replays the stored result
    again = PaymentEngine(engine)
    assert again.pay(requests[7], timeout=60) == dict(answers[7], replayed=True)
    again.close()


def test_a_full_queue_answers_overloaded_and_takes_nothing(sqlite_engine: Engine) -> None:
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = PaymentEngine(sqlite_engine, max_queue=3, autostart=False)
    request = PayRequest(member_id="u-kim", merchant_id="m-mart", amount_krw=1_000, at=START)
    futures = [writer.submit(request) for _ in range(3)]
    with pytest.raises(errors.Overloaded):
        writer.submit(request)
    writer.start()
    assert [f.result(timeout=60)["ok"] for f in futures] == [True, True, True]
    writer.close()
    assert len(platform.state()["payments"]) == 3


def test_one_broken_request_does_not_fail_its_batch(sqlite_engine: Engine) -> None:
    """An unexpected error (not a domain error) fails only its own payment."""
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = PaymentEngine(sqlite_engine, autostart=False)
    good = PayRequest(member_id="u-kim", merchant_id="m-mart", amount_krw=1_000, at=START)
    # an `at` that is not a time: the service cannot even compute the month
    broken = PayRequest(member_id="u-lee", merchant_id="m-mart", amount_krw=1_000, at="x")  # type: ignore[arg-type]
    futures = [writer.submit(good), writer.submit(broken), writer.submit(good)]
    writer.start()
    assert futures[0].result(timeout=60)["ok"] and futures[2].result(timeout=60)["ok"]
    with pytest.raises(AttributeError):
        futures[1].result(timeout=60)
    writer.close()
    assert len(platform.state()["payments"]) == 2
