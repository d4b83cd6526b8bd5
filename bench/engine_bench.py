"""Engine throughput: payments per second through the payment engine and the service
layer (checks, rules, budgets, caps, one balanced entry each, idempotency keys, durable
commits), from a producer thread that submits like the HTTP entry point does."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

from city import City  # type: ignore[import-not-found]

from eum import errors, idempotency
from eum.clock import KST
from eum.ledger import service as ledger
from eum.payments.engine import PaymentEngine, PayRequest

PAY_AT = datetime(2026, 11, 2, 12, 0, tzinfo=KST)


def run(city: City, payments: int, *, hot: bool, seed: int = 11, label: str = "") -> dict[str, Any]:
    """Submit ``payments`` payments as fast as the queue takes them; time until the last
    one is committed and answered."""
    rng = random.Random(seed)
    requests = []
    for i in range(payments):
        merchant = city.hot_merchant if hot else rng.choice(city.merchants)
        fields = {"merchant": merchant, "amount": rng.randint(1_000, 30_000)}
        requests.append(
            PayRequest(
                member_id=rng.choice(city.members),
                merchant_id=merchant,
                amount_krw=fields["amount"],
                at=PAY_AT + timedelta(milliseconds=i),
                scope=f"bench-{label}",
                key=f"{label}-{i}",
                fingerprint=idempotency.fingerprint("POST", fields),
            )
        )
    engine = PaymentEngine(city.engine)
    futures: list[Future[dict[str, Any]]] = []

    def produce() -> None:
        for r in requests:
            while True:
                try:
                    futures.append(engine.submit(r))
                    break
                except errors.Overloaded:
                    time.sleep(0.001)

    started = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    outcomes = [f.result() for f in futures]
    seconds = time.perf_counter() - started
    engine.close()
    ok = sum(1 for o in outcomes if o["ok"])
    with city.engine.connect() as conn:
        verified = ledger.verify(conn).ok
    return {
        "payments": payments,
        "succeeded": ok,
        "seconds": round(seconds, 3),
        "payments_per_s": round(payments / seconds),
        "batches": engine.batches,
        "mean_batch": round(engine.payments / max(engine.batches, 1), 1),
        "ledger_verified": verified,
        "hot_spot": hot,
    }
