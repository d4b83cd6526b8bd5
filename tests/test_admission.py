"""Admission control: a flood beyond capacity is shed, fairly between districts.

The payment engine keeps one lane per district (of the payment's merchant). A flood of
payments at one district's merchants (a relief payout) takes at most half the queue and
the rest is refused ``overloaded`` (429 with ``Retry-After`` over HTTP), while another
district's payments submitted during the flood are all admitted and go in the next
batch, not behind the flood. First on the engine with the writer stopped (the queue
fills deterministically), then through the ASGI app with many concurrent clients.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from eum import errors, idempotency
from eum.ledger import service as ledger
from eum.payments.engine import Item, Outcome, PaymentEngine, PayRequest
from eum.payments.store import payments
from eum.payments.writer import make_payment_engine
from tests.api_support import Api
from tests.conftest import Platform
from tests.test_engine import MEMBERS, START, _prepare

FLOODED = ("m-bunsik", "m-mart")  # Gyeyang: the district whose relief payout floods
QUIET = "m-cafe"  # Bupyeong: the other district
TIMEOUT = 60
_keys = itertools.count()


def _payment(merchant: str, i: int) -> PayRequest:
    key = f"adm-{next(_keys)}"
    return PayRequest(
        member_id=MEMBERS[i % len(MEMBERS)],
        merchant_id=merchant,
        amount_krw=1_000,
        at=START + timedelta(seconds=i),
        scope="test",
        key=key,
        ref=key,
        fingerprint=idempotency.fingerprint("pay", {"key": key}),
    )


def _record_batches(writer: PaymentEngine, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The merchants of each batch the writer takes, in order."""
    batches: list[list[Any]] = []
    take = writer._take

    def recording(stop: threading.Event) -> list[Item] | None:
        batch = take(stop)
        if batch is not None:
            batches.append([request.merchant_id for request, _ in batch])
        return batch

    monkeypatch.setattr(writer, "_take", recording)
    return batches


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_flood_is_shed_while_another_district_goes_in_the_next_batch(
    sqlite_engine: Engine, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = Platform(sqlite_engine)
    _prepare(platform)
    writer = make_payment_engine(
        sqlite_engine, kind, max_queue=64, max_batch=8, fair_after=8, autostart=False
    )
    assert writer.writer == kind
    writer.load_districts()
    assert writer.lane_of("m-mart") == "gyeyang" and writer.lane_of(QUIET) == "bupyeong"
    batches = _record_batches(writer, monkeypatch)
    flood: list[Future[Outcome]] = []
    quiet: list[Future[Outcome]] = []
    refused: list[errors.EumError] = []
    for i in range(200):
        try:
            flood.append(writer.submit(_payment(FLOODED[i % 2], i)))
        except errors.Overloaded as exc:
            refused.append(exc)
        if i % 50 == 49:  # during the flood: raises if refused
            quiet.append(writer.submit(_payment(QUIET, i)))
    print(
        f"\nengine ({kind}): gyeyang {len(flood)} admitted, {len(refused)} shed; "
        f"bupyeong {len(quiet)} admitted, {writer.shed['bupyeong']} shed; "
        f"queued {writer.queued} of 64"
    )
    assert len(flood) == 32 and len(refused) == 168  # half the queue, not all of it
    assert writer.shed == Counter({"gyeyang": 168})
    assert all(e.code == "overloaded" and "share" in e.detail for e in refused)
    assert len(quiet) == 4
    writer.start()
    answers = [f.result(TIMEOUT) for f in quiet + flood]
    writer.close()
    assert all(a["ok"] for a in answers)
    where = [i for i, batch in enumerate(batches) for m in batch if m == QUIET]
    print(f"batches: {len(batches)}; bupyeong's payments in batches {where}")
    # The quiet district waited for one batch window, not behind the 32 queued before it
    # (a plain queue would have booked them in the 5th batch): each batch goes round the
    # lanes, so half of the first batch was Bupyeong's.
    assert where == [0] * 4
    assert [len(b) for b in batches] == [8, 8, 8, 8, 4]  # all booked in 5 batches
    assert len(platform.state()["payments"]) == 36  # the shed took nothing
    assert platform.read(ledger.verify).ok


def test_the_queue_keeps_room_for_quiet_districts_while_several_flood(
    sqlite_engine: Engine,
) -> None:
    """Admission only (the writer never starts): three districts flood one after the
    other, then quiet districts pay a little and are admitted until the queue is full."""
    writer = PaymentEngine(sqlite_engine, max_queue=64, max_batch=4, autostart=False)
    writer._districts.update({f"m-{d}": d for d in "abcdefg"})
    admitted: Counter[str] = Counter()

    def pay(district: str, n: int) -> None:
        for i in range(n):
            try:
                writer.submit(_payment(f"m-{district}", i))
            except errors.Overloaded:
                continue
            admitted[district] += 1

    pay("a", 100)  # alone: half the queue (its share, 64 / (1 lane + 1))
    pay("b", 100)  # up to three quarters: the last quarter is for lanes below a batch
    pay("c", 100)  # a batch (4), as any district may hold
    for quiet in "def":
        pay(quiet, 3)
    print(f"\nadmitted {dict(admitted)}, shed {dict(writer.shed)}, queued {writer.queued}")
    assert admitted == Counter({"a": 32, "b": 16, "c": 4, "d": 3, "e": 3, "f": 3})
    assert writer.shed == Counter({"a": 68, "b": 84, "c": 96})
    pay("g", 10)  # quiet districts are refused only when the queue is really full
    assert admitted["g"] == 64 - 61 and writer.queued == 64
    with pytest.raises(errors.Overloaded, match="queue is full"):
        writer.submit(_payment("m-d", 0))


def test_batches_go_in_arrival_order_until_fair_after_then_round_the_lanes(
    sqlite_engine: Engine,
) -> None:
    """Batch making only (``_take`` called by hand): up to ``fair_after`` queued, the
    oldest payments in arrival order, as a plain queue (so a stream is booked the same
    however it is cut into batches); beyond, one from each lane in turn."""
    writer = PaymentEngine(sqlite_engine, max_batch=4, fair_after=8, autostart=False)
    writer._districts.update({"m-a": "a", "m-b": "b", "m-c": "c"})
    stop = threading.Event()

    def submit(labels: str) -> None:
        for label in labels.split():
            writer.submit(
                PayRequest(
                    member_id="u", merchant_id=f"m-{label[0]}", amount_krw=1, at=START, ref=label
                )
            )

    def take() -> list[str | None]:
        batch = writer._take(stop)
        assert batch is not None
        return [request.ref for request, _ in batch]

    submit("a1 a2 a3 b1 a4 c1")
    assert take() == ["a1", "a2", "a3", "b1"]
    submit("a5 a6 a7 a8 a9 a10 a11 a12 b2")  # 11 queued: more than fair_after
    assert take() == ["a4", "c1", "a5", "b2"]  # round the lanes, booked in arrival order
    assert take() == ["a6", "a7", "a8", "a9"]  # 7 queued: arrival order again
    assert take() == ["a10", "a11", "a12"]
    stop.set()
    assert writer.queued == 0 and writer._take(stop) is None


def test_a_merchant_not_known_yet_pays_in_the_shared_lane_and_is_learnt(
    engine: Engine,
) -> None:
    writer = PaymentEngine(engine, autostart=False)
    writer.load_districts()  # before any merchant was registered
    platform = Platform(engine)
    _prepare(platform)
    assert writer.lane_of(QUIET) is None
    future = writer.submit(_payment(QUIET, 0))
    assert list(writer._lanes) == [None]
    writer.start()
    assert future.result(TIMEOUT)["ok"]
    writer.close()  # the writer looked the merchant up after answering
    assert writer.lane_of(QUIET) == "bupyeong"


# --- through the ASGI app -----------------------------------------------------------


class PacedWriter(PaymentEngine):
    """A writer slower than its clients on any machine: it books a batch only once
    ``PACE`` more payments were offered (admitted or shed) since the last one, so the
    clients below send three times what it can take (``unpace`` ends it)."""

    PACE = 24

    def __init__(self, engine: Engine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._paced = threading.Condition()
        self._offered = 0
        self._unpaced = False

    def submit(self, request: PayRequest) -> Future[Outcome]:
        with self._paced:
            self._offered += 1
            self._paced.notify_all()
        return super().submit(request)

    def unpace(self) -> None:
        with self._paced:
            self._unpaced = True
            self._paced.notify_all()

    def _commit(self, batch: list[Item]) -> None:
        with self._paced:
            due = self._offered + self.PACE
            # the timeout only keeps a stalled run from hanging: it never decides a result
            self._paced.wait_for(lambda: self._unpaced or self._offered >= due, timeout=2)
        super()._commit(batch)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_over_http_a_flood_gets_429_with_retry_after_and_the_trickle_gets_through(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    for login in ("kim", "lee"):
        assert api.money(login, "/api/v1/charges", {"amount": 100_000}).status_code == 201
    real = api.app.state.payments
    writer = PacedWriter(sqlite_engine, max_queue=64, max_batch=8, fair_after=8)
    writer.load_districts()
    api.app.state.payments = writer
    flood_clients, trickle = 48, 10
    results: dict[str, list[tuple[int, float, dict[str, Any]]]] = {"A": [], "B": []}

    async def pay(
        client: httpx.AsyncClient, login: str, merchant: str
    ) -> tuple[int, float, dict[str, Any]]:
        headers = {**api.as_(login).headers, "Idempotency-Key": f"http-{next(_keys)}"}
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/payments", json={"merchant": merchant, "amount": 100}, headers=headers
        )
        latency = time.perf_counter() - started
        info = {"code": response.json().get("code"), "retry": response.headers.get("Retry-After")}
        return response.status_code, latency, info

    async def main() -> None:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eum") as client:
            done = asyncio.Event()

            async def flood(n: int) -> None:  # one client paying again and again
                while not done.is_set():
                    results["A"].append(await pay(client, "kim", FLOODED[n % 2]))

            async def quiet() -> None:  # one payment after the other
                for _ in range(trickle):
                    results["B"].append(await pay(client, "lee", QUIET))
                done.set()
                writer.unpace()

            await asyncio.gather(quiet(), *(flood(n) for n in range(flood_clients)))

    try:
        asyncio.run(main())
    finally:
        writer.unpace()
        writer.close()
        api.app.state.payments = real
    figures = {}
    for district, rows in results.items():
        admitted = [latency for status, latency, _ in rows if status == 201]
        shed = [info for status, _, info in rows if status == 429]
        assert len(admitted) + len(shed) == len(rows), {s for s, _, _ in rows}
        assert all(i["code"] == "overloaded" and i["retry"] == "1" for i in shed)
        figures[district] = (len(admitted), len(shed), admitted)
        print(
            f"\n{'gyeyang (flood)' if district == 'A' else 'bupyeong (trickle)'}: "
            f"{len(admitted)} admitted, {len(shed)} shed; admitted latency "
            f"p50 {_percentile(admitted, 0.5) * 1000:.0f} ms, "
            f"p99 {_percentile(admitted, 0.99) * 1000:.0f} ms",
            end="",
        )
    print(f"\nengine: {writer.stats()}")
    a_admitted, a_shed, a_latency = figures["A"]
    b_admitted, b_shed, b_latency = figures["B"]
    assert a_shed > a_admitted > 0  # the flood was beyond capacity and was shed
    assert b_admitted == trickle and b_shed == 0  # the other district got everything
    # the trickle did not wait behind the flood's queue
    assert statistics.median(b_latency) < statistics.median(a_latency)
    counted = api.platform.read(
        lambda c: c.execute(select(func.count()).select_from(payments)).scalar_one()
    )
    assert counted == a_admitted + b_admitted  # every 201 is booked, no 429 is
    assert api.platform.read(ledger.verify).ok
