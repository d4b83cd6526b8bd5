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

``eum.payments.writer`` runs the same writer in a process of its own behind the same
queue and interface (``make_payment_engine`` chooses).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from eum import bulk, errors, idempotency
from eum.clock import kst_month
from eum.db import run_in_transaction
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
    """One writer thread that commits queued payments in batches."""

    writer = "thread"

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
        autostart: bool = True,
    ) -> None:
        self.engine = engine
        self.autostart = autostart
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[PayRequest, Future[Outcome]] | None] = queue.Queue(
            maxsize=max_queue
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.payments = 0
        self.busy_seconds = 0.0  # time spent booking and committing batches

    # --- entry points ---------------------------------------------------------------

    def submit(self, request: PayRequest) -> Future[Outcome]:
        """Queue a payment; the future gets its outcome once its batch committed.

        Raises ``Overloaded`` at once when the queue is full.
        """
        if self.autostart:
            self.start()
        future: Future[Outcome] = Future()
        try:
            self._queue.put_nowait((request, future))
        except queue.Full:
            raise errors.Overloaded() from None
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
        return self._queue.qsize()

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    # --- the writer -----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer (``submit`` does it unless ``autostart`` is off)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="eum-payment-engine", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)

    def stats(self) -> dict[str, Any]:
        return {
            "writer": self.writer,
            "batches": self.batches,
            "payments": self.payments,
            "mean_batch": round(self.payments / self.batches, 1) if self.batches else 0,
            "busy_seconds": round(self.busy_seconds, 3),
            "queued": self.queued,
        }

    def _commit(self, batch: list[tuple[PayRequest, Future[Outcome]]]) -> None:
        started = time.perf_counter()
        done = commit_batch(self.engine, [r for r, _ in batch])
        self.batches += done.transactions
        self.payments += done.payments
        self.busy_seconds += time.perf_counter() - started
        resolve([f for _, f in batch], done.outcomes)
