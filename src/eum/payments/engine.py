"""The payment engine: group commit of many payments per durable transaction.

Entry points hand payments to one writer thread per process through a bounded queue
and wait for each payment's own result. The writer takes whatever is queued (up to a
batch size), books it with ``pay_batch`` in one transaction and commits once, so the
cost of a durable commit and of each statement is shared by the whole batch. Payments
in a batch are booked one after another against balances held in memory, so every
result is exactly the one the payment would have had in its own transaction, in queue
order. A result is handed back only after its batch committed: an acknowledged payment
is on disk.

When a batch fails for an unexpected reason (not a domain error: those are results),
its payments are retried one per transaction, so one bad request cannot fail others.

The queue is bounded and fair between districts: a full queue, or a district holding
its share of it, answers ``Overloaded`` at once, and batches go round the districts'
lanes under load, so one district's flood cannot starve another's payments (see
``PaymentEngine``).

``eum.payments.writer`` runs the same writer in a process of its own behind the same
queue and interface (``make_payment_engine`` chooses).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, select

from eum import bulk, errors, idempotency
from eum.clock import kst_month
from eum.db import reading, run_in_transaction
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchants_table
from eum.payments import service as payments
from eum.payments.booking import Booking
from eum.policy import service as policy
from eum.wallets import service as wallets
from eum.wallets.store import members

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_QUEUE = 20_000
DEFAULT_FAIR_AFTER = 1_000  # queued payments beyond which batches go round the districts
PAY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PayRequest:
    """One payment as an entry point received it, with its idempotency key if any."""

    member_id: object
    merchant_id: object
    amount_krw: object
    at: datetime
    channel: object = "card"
    coupon_id: object = None
    invoice: object = None
    ref: str | None = None
    scope: str | None = None  # idempotency: key space, key and request fingerprint
    key: str | None = None
    fingerprint: str | None = None


Outcome = dict[str, Any]  # {"ok": True, ...} or {"ok": False, "error": code, ...}
Item = tuple[PayRequest, Future[Outcome]]
_Entry = tuple[int, PayRequest, Future[Outcome]]  # with its arrival number


class _Prefetched(payments.Lookup):
    """Members and merchants of a whole batch, read with one query per table."""

    def __init__(self, conn: Connection, requests: Sequence[PayRequest]) -> None:
        self.members = {
            k: wallets.member_from_row(row)
            for k, row in _rows_by_id(conn, members, {r.member_id for r in requests}).items()
        }
        self.merchants = {
            k: merchants.merchant_from_row(row)
            for k, row in _rows_by_id(
                conn, merchants_table, {r.merchant_id for r in requests}
            ).items()
        }

    def member(self, conn: Connection, member_id: object) -> wallets.Member:
        found = self.members.get(member_id) if isinstance(member_id, str) else None
        if found is None:
            raise errors.UnknownMember(f"no member {member_id}", field="member")
        return found

    def merchant(self, conn: Connection, merchant_id: object) -> merchants.Merchant:
        found = self.merchants.get(merchant_id) if isinstance(merchant_id, str) else None
        if found is None:
            raise errors.UnknownMerchant(f"no merchant {merchant_id}", field="merchant")
        return found


def _rows_by_id(conn: Connection, table: Any, ids: set[object]) -> dict[object, Any]:
    wanted = sorted(i for i in ids if isinstance(i, str))
    found: dict[object, Any] = {}
    for chunk in bulk.chunks(wanted):
        for row in conn.execute(select(table).where(bulk.any_of(conn, table.c.id, chunk))):
            found[row.id] = row
    return found


def pay_batch(conn: Connection, requests: Sequence[PayRequest]) -> list[Outcome | Exception]:
    """Book every request in order in this transaction; one outcome per request.

    An outcome is what the idempotency key stores (a result or a domain error), or an
    ``IdempotencyConflict`` for a key reused with another request.
    """
    keyed = [(r.scope, r.key) for r in requests if r.scope is not None and r.key is not None]
    stored: dict[tuple[str, str], Any]
    stored = idempotency.stored_many(conn, keyed)
    booking = Booking(conn, policy.catalog(conn))
    lookup = _Prefetched(conn, requests)
    _lock_all(booking, lookup)
    booking.load_caps(
        (r.member_id, kst_month(r.at))
        for r in requests
        if isinstance(r.member_id, str) and r.member_id in lookup.members
    )
    outcomes: list[Outcome | Exception] = []
    new_keys: list[dict[str, Any]] = []
    for r in requests:
        if r.scope is not None and r.key is not None:
            assert r.fingerprint is not None
            earlier = stored.get((r.scope, r.key))
            if earlier is not None:
                try:
                    outcomes.append(
                        idempotency.replay(
                            r.key, earlier.fingerprint, earlier.result, r.fingerprint
                        )
                    )
                except errors.IdempotencyConflict as exc:
                    outcomes.append(exc)
                continue
        result = idempotency.outcome(
            lambda r=r: payments.pay(  # type: ignore[misc]
                conn,
                member_id=r.member_id,
                merchant_id=r.merchant_id,
                amount_krw=r.amount_krw,
                at=r.at,
                channel=r.channel,
                coupon_id=r.coupon_id,
                invoice=r.invoice,
                ref=r.ref,
                booking=booking,
                lookup=lookup,
            )
        )
        outcomes.append(dict(result, replayed=False))
        if r.scope is not None and r.key is not None:
            assert r.fingerprint is not None
            row = idempotency.row_for(r.scope, r.key, r.fingerprint, result, r.at)
            new_keys.append(row)
            stored[(r.scope, r.key)] = _Stored(r.fingerprint, result)
    booking.flush()
    idempotency.store_many(conn, new_keys)
    return outcomes


@dataclass(frozen=True, slots=True)
class _Stored:
    fingerprint: str
    result: Outcome


def _lock_all(booking: Booking, lookup: _Prefetched) -> None:
    """Lock every balance row the batch may move, in one ascending pass: wallets,
    receivables and the accounts every active rule pays from."""
    ids: list[int] = list(booking.cat.rule_accounts.values())
    for row in lookup.members.values():
        ids += (row.cashback_account_id, row.charged_account_id)
    ids += (row.receivable_account_id for row in lookup.merchants.values())
    booking.lock(ids)


@dataclass(frozen=True, slots=True)
class Committed:
    """What ``commit_batch`` did: one outcome per request (a result, or the exception to
    raise), and how many transactions and payments it committed."""

    outcomes: list[Outcome | Exception]
    transactions: int
    payments: int


def commit_batch(engine: Engine, requests: Sequence[PayRequest]) -> Committed:
    """Book ``requests`` with ``pay_batch`` in one transaction; when it fails for an
    unexpected reason, book each request in a transaction of its own, so that the error
    is the outcome of the request that caused it only."""
    try:
        outcomes = run_in_transaction(engine, pay_batch, requests)
    except Exception as exc:
        if len(requests) == 1:
            log.exception("payment failed")
            return Committed([exc], 0, 0)
        log.warning("a batch of %d failed (%s): retrying one by one", len(requests), exc)
        parts = [commit_batch(engine, [r]) for r in requests]
        return Committed(
            [o for part in parts for o in part.outcomes],
            sum(part.transactions for part in parts),
            sum(part.payments for part in parts),
        )
    return Committed(outcomes, 1, len(requests))


def resolve(futures: Sequence[Future[Outcome]], outcomes: Sequence[Outcome | Exception]) -> None:
    """Hand each future its outcome: a result, or an exception to raise (a future its
    caller cancelled is skipped)."""
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class PaymentEngine:
    """One writer thread that commits queued payments in batches.

    The queue is kept in lanes, one per district (the district of the payment's
    merchant; a payment whose district is not known yet goes in a shared lane, ``None``):

    - admission (``submit``): at most ``max_queue`` payments wait. A lane holding less
      than a batch (``max_batch``) is refused only when the queue is full. A lane
      holding more is refused once the queue is half full if it holds its fair share,
      ``max_queue / (lanes queued + 1)`` (the one more keeps a share for a district that
      has nothing queued yet), and always in the last quarter of the queue, which is
      kept for lanes holding less than a batch. One district's flood (a relief payout)
      thus takes at most half the queue alone and cannot starve the others;
    - batches: while at most ``fair_after`` payments wait, a batch takes them in arrival
      order, as a plain queue would; beyond, it takes one payment from each lane in turn
      (round robin, continued from batch to batch), so a district's first queued
      payment is in the next batch whatever the other lanes hold. Either way a batch is
      booked in arrival order, and each lane keeps its own order.

    The merchant -> district map is read once in a thread of its own when the writer
    starts (``load_districts``), and a merchant it does not know yet (registered since)
    is looked up by the writer after the batch that paid it was answered: ``submit``
    never reads the database.
    """

    writer = "thread"

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
        fair_after: int = DEFAULT_FAIR_AFTER,
        autostart: bool = True,
    ) -> None:
        self.engine = engine
        self.autostart = autostart
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.fair_after = fair_after
        # the lanes, in round-robin order; each holds (arrival number, request, future)
        self._lanes: OrderedDict[str | None, deque[_Entry]] = OrderedDict()
        self._count = 0  # payments in all lanes
        self._arrivals = 0
        self._ready = threading.Condition()  # guards lanes and counts; wakes the writer
        self._districts: dict[str, str] = {}  # merchant id -> district
        self._districts_read = threading.Event()  # read once (or tried and failed)
        self._loader: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None  # asks the current writer to stop
        self._lock = threading.Lock()
        self.batches = 0
        self.payments = 0
        self.busy_seconds = 0.0  # time spent booking and committing batches
        self.shed: Counter[str | None] = Counter()  # payments refused overloaded, by lane

    # --- entry points ---------------------------------------------------------------

    def submit(self, request: PayRequest) -> Future[Outcome]:
        """Queue a payment; the future gets its outcome once its batch committed.

        Raises ``Overloaded`` at once when the queue, or this district's share of it,
        is full.
        """
        if self.autostart:
            self.start()
        future: Future[Outcome] = Future()
        lane = self.lane_of(request.merchant_id)
        with self._ready:
            refused = self._refusal(lane)
            if refused is not None:
                self.shed[lane] += 1
                raise errors.Overloaded(refused)
            self._arrivals += 1
            held = self._lanes.get(lane)
            if held is None:
                held = self._lanes[lane] = deque()
            held.append((self._arrivals, request, future))
            self._count += 1
            self._ready.notify()
        return future

    def pay(self, request: PayRequest, timeout: float | None = None) -> Outcome:
        return self.submit(request).result(timeout)

    def pay_waiting(self, request: PayRequest, timeout: float = PAY_TIMEOUT_SECONDS) -> Outcome:
        """``pay`` for a worker thread: ``PaymentPending`` when no answer came in
        ``timeout`` (the payment may still commit; a retry with its key tells)."""
        try:
            return self.submit(request).result(timeout)
        except FutureTimeout:
            raise errors.PaymentPending() from None

    async def pay_async(self, request: PayRequest, timeout: float = PAY_TIMEOUT_SECONDS) -> Outcome:
        """``pay`` for an event loop: waits without holding a thread, and raises
        ``PaymentPending`` when no answer came in ``timeout`` (the payment may still
        commit; a retry with its key tells)."""
        future = asyncio.wrap_future(self.submit(request))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise errors.PaymentPending() from None

    @property
    def queued(self) -> int:
        return self._count

    def lane_of(self, merchant_id: object) -> str | None:
        """The lane of a payment at this merchant: its district, None if not known yet."""
        return self._districts.get(merchant_id) if isinstance(merchant_id, str) else None

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
            stop, self._stop = self._stop, None
            loader = self._loader
        if thread is not None and stop is not None:
            with self._ready:
                stop.set()
                self._ready.notify_all()
            thread.join()
        if loader is not None:
            loader.join()

    # --- admission ------------------------------------------------------------------

    def _refusal(self, lane: str | None) -> str | None:
        """Why a payment in ``lane`` cannot be queued now (None: it can); ``_ready``
        is held."""
        size, queued = self.max_queue, self._count
        if queued >= size:
            return "the payment queue is full"
        held = len(self._lanes.get(lane, ()))
        if held < self.max_batch:
            return None
        lanes = len(self._lanes) + (lane not in self._lanes)
        if 2 * queued >= size and held * (lanes + 1) >= size:
            return "this district's share of the payment queue is full"
        if 4 * queued >= 3 * size:
            return "the rest of the payment queue is kept for other districts"
        return None

    # --- the writer -----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer (``submit`` does it unless ``autostart`` is off)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._launch("eum-payment-engine")

    def _launch(self, name: str) -> None:
        """Start the writer thread, and the district loader once; ``_lock`` is held."""
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name=name, daemon=True
        )
        self._thread.start()
        if self._loader is None and not self._districts_read.is_set():
            self._loader = threading.Thread(
                target=self._load_quietly, name="eum-payment-districts", daemon=True
            )
            self._loader.start()

    def _run(self, stop: threading.Event) -> None:
        while (batch := self._take(stop)) is not None:
            self._commit(batch)
            self._learn([r for r, _ in batch])

    def _take(self, stop: threading.Event) -> list[Item] | None:
        """The next batch (waiting for one), in arrival order; None once ``stop`` is
        set and nothing is queued."""
        with self._ready:
            while not self._count:
                if stop.is_set():
                    return None
                self._ready.wait()
            n = min(self._count, self.max_batch)
            fair = self._count > self.fair_after
            taken = self._round_robin(n) if fair else self._oldest(n)
            self._count -= n
        taken.sort(key=lambda entry: entry[0])
        return [(request, future) for _, request, future in taken]

    def _oldest(self, n: int) -> list[_Entry]:
        """The ``n`` payments that came first (each lane is in arrival order)."""
        if n == self._count:
            everything = [entry for lane in self._lanes.values() for entry in lane]
            self._lanes.clear()
            return everything
        # each lane is sorted, and arrival numbers are unique: the tuples compare by them
        last = next(islice(heapq.merge(*self._lanes.values()), n - 1, None))[0]
        taken: list[_Entry] = []
        for key, lane in list(self._lanes.items()):
            while lane and lane[0][0] <= last:
                taken.append(lane.popleft())
            if not lane:
                del self._lanes[key]
        return taken

    def _round_robin(self, n: int) -> list[_Entry]:
        """``n`` payments, one from each lane in turn, the turn kept across batches."""
        lanes = self._lanes
        taken: list[_Entry] = []
        while len(taken) < n:
            key, lane = next(iter(lanes.items()))
            taken.append(lane.popleft())
            if lane:
                lanes.move_to_end(key)
            else:
                del lanes[key]
        return taken

    def stats(self) -> dict[str, Any]:
        with self._ready:
            shed = sum(self.shed.values())
        return {
            "writer": self.writer,
            "batches": self.batches,
            "payments": self.payments,
            "mean_batch": round(self.payments / self.batches, 1) if self.batches else 0,
            "busy_seconds": round(self.busy_seconds, 3),
            "queued": self.queued,
            "shed": shed,
        }

    def _commit(self, batch: list[Item]) -> None:
        started = time.perf_counter()
        done = commit_batch(self.engine, [r for r, _ in batch])
        self.batches += done.transactions
        self.payments += done.payments
        self.busy_seconds += time.perf_counter() - started
        resolve([f for _, f in batch], done.outcomes)

    # --- districts ------------------------------------------------------------------

    def load_districts(self) -> None:
        """Read every merchant's district (``start`` does it in a thread of its own)."""
        with reading(self.engine) as conn:
            rows = conn.execute(select(merchants_table.c.id, merchants_table.c.district))
            self._districts.update({row.id: row.district for row in rows})
        self._districts_read.set()

    def _load_quietly(self) -> None:
        try:
            self.load_districts()
        except Exception as exc:  # payments flow in the shared lane; misses are learnt
            log.warning("cannot read the merchants' districts (%s)", exc)
        finally:
            self._districts_read.set()

    def _learn(self, requests: Sequence[PayRequest]) -> None:
        """Look up the district of merchants paid but not known (registered after the
        map was read), once it was read; the writer calls it after answering a batch."""
        if not self._districts_read.is_set():
            return
        unknown = sorted(
            {
                r.merchant_id
                for r in requests
                if isinstance(r.merchant_id, str) and r.merchant_id not in self._districts
            }
        )
        if not unknown:
            return
        try:
            with reading(self.engine) as conn:
                for chunk in bulk.chunks(unknown):
                    found = conn.execute(
                        select(merchants_table.c.id, merchants_table.c.district).where(
                            bulk.any_of(conn, merchants_table.c.id, chunk)
                        )
                    )
                    self._districts.update({row.id: row.district for row in found})
        except Exception as exc:
            log.warning("cannot read the districts of new merchants (%s)", exc)
