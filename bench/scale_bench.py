"""Dashboards at scale: the queries the product serves, timed with ten million payments
stored (Performance issue: each dashboard query <= 100 ms).

The store is filled by a bulk loader, not the payment path: a year of payments with the
rule lines they earned, computed with the product's own rule matching and money
arithmetic, written with ``eum.bulk.insert_rows`` (COPY on PostgreSQL). Then every
dashboard query is timed by calling the view function its endpoint calls, and the
statements of any query over the target are explained.

    with city(None, 100_000, 1_000) as c:
        print(scale_bench.run(c, count=10_000_000))
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from multiprocessing.process import BaseProcess
from queue import Empty
from typing import Any

from city import City  # type: ignore[import-not-found]
from sqlalchemy import Connection, Engine, Table, event, func, insert, literal, select

from eum import bulk
from eum.auth.model import Principal
from eum.clock import KST
from eum.db import run_in_transaction
from eum.demo import CATEGORY
from eum.merchants import views as merchant_views
from eum.merchants.service import Merchant, merchant_from_row
from eum.merchants.store import merchants
from eum.money import rules as money
from eum.money.model import Channel, Rule
from eum.payments import views as payment_views
from eum.payments.booking import LINE_COLUMNS, PAYMENT_COLUMNS, Payer, rules_for
from eum.payments.store import payment_lines, payments, refunds
from eum.policy import service as policy
from eum.policy.model import Catalog
from eum.stats import rollups
from eum.stats import service as stats_service
from eum.stats import views as stats
from eum.stats.rollups import Tally
from eum.stats.store import (
    budget_days,
    merchant_days,
    payment_days,
    payment_months,
    support_days,
    support_months,
)
from eum.wallets import views as wallet_views
from eum.wallets.store import members

# "Now" for the dashboards: the evening of the last day of the latest month loaded.
AS_OF = datetime(2026, 11, 30, 21, 0, tzinfo=KST)
TARGET_MS = 100.0
PAGE = 20  # the API's default page size

# Ids have the layout of ledger entry ids (eum.ledger.service): milliseconds since this
# epoch, then 22 low bits. Taken from each payment's own time, so that ids sort like
# times, as the product's do (history pages merge streams by id).
ID_EPOCH_MS = 1_700_000_000_000
LOW_BITS = 22
LOW_MASK = (1 << LOW_BITS) - 1

# Relative number of payments per KST hour: quiet nights, lunch and dinner peaks.
HOUR_WEIGHTS = (1, 1, 0, 0, 0, 1, 2, 4, 6, 6, 7, 10, 14, 10, 7, 6, 6, 8, 12, 13, 10, 6, 3, 2)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.15, 1.3, 1.1)  # Monday .. Sunday
CHANNELS: tuple[tuple[Channel, float], ...] = (("card", 0.75), ("qr", 0.95), ("online", 1.0))
HOT_SHARE = 0.01  # of all payments at the city's hot merchant (ten times the average)
REFUND_SHARE = 0.01  # payments refunded in full within three days
DEFAULT_TICKET = (3_000, 50_000)
UNLIMITED_KRW = 10**18  # the city's budgets never run out (bench/city.py)
LOADER_CACHE_KIB = -1_000_000  # SQLite page cache while loading (negative: KiB)
# Payments generated one by one; a larger store repeats them (see ``load_payments``).
DISTINCT_MAX = 1_000_000
INT64_MAX = 2**63 - 1
# Counter tables a payment moves, with their keys and the columns it adds to. Members'
# activity (card_months, active_months) counts distinct members, which copies keep.
MOVED_COUNTERS = (
    (payment_months, rollups.PAYMENT_MONTH_KEYS, rollups.PAYMENT_MONTH_VALUES),
    (support_months, rollups.SUPPORT_KEYS, rollups.SUPPORT_VALUES),
    (merchant_days, rollups.DAY_KEYS, rollups.DAY_VALUES),
    (payment_days, rollups.PAYMENT_DAY_KEYS, rollups.PAYMENT_MONTH_VALUES),
    (support_days, rollups.SUPPORT_DAY_KEYS, rollups.SUPPORT_VALUES),
    (budget_days, rollups.BUDGET_DAY_KEYS, rollups.BUDGET_DAY_VALUES),
)


def _time_id(at: datetime, counter: int) -> int:
    """An id for ``at``, the counter's low bits telling apart rows of the same millisecond:
    unique while such rows' counters are less than 2**22 apart (payments are generated in
    time order, refunds number far fewer)."""
    ms = int(at.timestamp() * 1000) - ID_EPOCH_MS
    return (ms << LOW_BITS) | (counter & LOW_MASK)


# --- loading ----------------------------------------------------------------------------


def _days(months: int) -> list[tuple[datetime, list[float]]]:
    """Every KST day of ``months`` months ending with AS_OF's, with the cumulative weight
    of its hours (the last day only up to AS_OF)."""
    year, month = AS_OF.year, AS_OF.month - (months - 1)
    while month < 1:
        year, month = year - 1, month + 12
    day = date(year, month, 1)
    out = []
    while day <= AS_OF.date():
        start = datetime(day.year, day.month, day.day, tzinfo=KST)
        hours = [
            w * WEEKDAY_WEIGHTS[day.weekday()] if start + timedelta(hours=h + 1) <= AS_OF else 0.0
            for h, w in enumerate(HOUR_WEIGHTS)
        ]
        cumulative, total = [], 0.0
        for w in hours:
            total += w
            cumulative.append(total)
        out.append((start, cumulative))
        day += timedelta(days=1)
    return out


def _per_day(days: list[tuple[datetime, list[float]]], count: int) -> list[int]:
    """``count`` spread over the days by weight, summing exactly to ``count``."""
    total = sum(c[-1] for _, c in days)
    out, running, given = [], 0.0, 0
    for _, cumulative in days:
        running += cumulative[-1]
        upto = round(running * count / total)
        out.append(upto - given)
        given = upto
    return out


Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], Tally]


@dataclass
class _Loader:
    """Generates a city's payments in time order, as the product would have booked them:
    its rule matching, cashback with monthly caps, fees, fee support and wallet split
    (cashback first). Budgets are unlimited, as in the benchmark city."""

    cat: Catalog
    rng: random.Random
    members: list[tuple[str, str, str]]  # id, card issuer, card kind
    merchants: list[Merchant]
    hot: Merchant
    refund_share: float
    # generated, not yet handed over
    payments: list[tuple[Any, ...]] = field(default_factory=list, init=False)
    lines: list[tuple[Any, ...]] = field(default_factory=list, init=False)
    refunds: list[tuple[Any, ...]] = field(default_factory=list, init=False)
    tally: Tally = field(default_factory=Tally, init=False)
    # what booking would have read from the database
    _cap_used: dict[tuple[str, str, str], int] = field(default_factory=dict, init=False)
    _cashback: dict[str, int] = field(default_factory=lambda: defaultdict(int), init=False)
    _remaining: MutableMapping[str, int] = field(
        default_factory=lambda: defaultdict(lambda: UNLIMITED_KRW), init=False
    )
    _matched: dict[tuple[Any, ...], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = field(
        default_factory=dict, init=False
    )
    _payers: dict[tuple[str, str], Payer] = field(default_factory=dict, init=False)
    _by_day: bool = field(default=False, init=False)
    _counter: int = field(default=0, init=False)
    _refund_counter: int = field(default=0, init=False)

    def take(self) -> Batch:
        """The rows generated so far (payments, lines, refunds) and their dashboard
        counters, handed over."""
        batch = (self.payments, self.lines, self.refunds, self.tally)
        self.payments, self.lines, self.refunds, self.tally = [], [], [], Tally()
        return batch

    def __post_init__(self) -> None:
        rules = (*self.cat.cashback_rules, *self.cat.fee_support_rules)
        # Rules limited to dates are matched per day; otherwise once per combination.
        self._by_day = any(r.valid_from or r.valid_until for r in rules)

    def _rules(
        self, issuer: str, kind: str, m: Merchant, channel: Channel, at: datetime
    ) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        key = (issuer, kind, m.id, channel, at.date() if self._by_day else None)
        found = self._matched.get(key)
        if found is None:
            payer = self._payers.get((issuer, kind))
            if payer is None:
                payer = Payer("member", None, None, issuer, kind, None, 0)
                self._payers[(issuer, kind)] = payer
            found = rules_for(self.cat, payer, m, channel, at, cashback=True)
            self._matched[key] = found
        return found

    def day(self, start: datetime, hours: list[float], n: int) -> Iterator[None]:
        """Book ``n`` payments of one day; yields after each (so the caller can flush)."""
        rng = self.rng
        total = hours[-1]
        offsets = []
        for _ in range(n):
            hour = bisect.bisect_right(hours, rng.random() * total)
            offsets.append(hour * 3600 + rng.random() * 3600)
        offsets.sort()
        month = start.strftime("%Y-%m")
        for seconds in offsets:
            self.pay(start + timedelta(seconds=seconds), month)
            yield

    def pay(self, at: datetime, month: str) -> None:
        rng, cat = self.rng, self.cat
        member, issuer, kind = rng.choice(self.members)
        m = self.hot if rng.random() < HOT_SHARE else rng.choice(self.merchants)
        lo, hi = CATEGORY[m.category].ticket if m.category in CATEGORY else DEFAULT_TICKET
        amount = max(100, int(lo * (hi / lo) ** rng.random()) // 100 * 100)
        draw = rng.random()
        channel = next(c for c, upto in CHANNELS if draw < upto)
        cost = money.price(amount, m.discount_bps, None)
        charged = cost.charged_krw
        cb_rules, fs_rules = self._rules(issuer, kind, m, channel, at)
        capped = {r.id for r in cb_rules if r.monthly_cap_krw is not None}
        used = {r: self._cap_used.get((r, member, month), 0) for r in capped}
        cb = money.cashback(cb_rules, charged, used, self._remaining)
        fee = money.fee(charged, channel, m.card_fee_bps, cat.platform.pg_fee_bps)
        fs = money.fee_support(fs_rules, charged, fee, self._remaining)
        from_cashback = min(self._cashback[member], charged)
        earned = sum(ln.amount_krw for ln in cb)
        self._cashback[member] += earned - from_cashback
        for ln in cb:
            if ln.rule_id in capped and ln.qualifying_krw:
                key = (ln.rule_id, member, month)
                self._cap_used[key] = used[ln.rule_id] + ln.qualifying_krw

        self._counter += 1
        pid = _time_id(at, self._counter)
        booked = [(ln.rule_id, ln.budget_id, ln.kind, ln.amount_krw) for ln in (*cb, *fs)]
        self.tally.paid(
            merchant_id=m.id,
            district=m.district,
            category=m.category,
            card_issuer_id=issuer,
            member_id=member,
            at=at,
            amount=amount,
            charged=charged,
            fee=fee,
            lines=booked,
        )
        for seq, ln in enumerate((*cb, *fs)):
            self.lines.append(
                (
                    pid,
                    ln.rule_id,
                    seq,
                    ln.kind,
                    ln.budget_id,
                    cat.rule_accounts[ln.rule_id],
                    ln.rule_id in capped,
                    ln.qualifying_krw,
                    ln.amount_krw,
                )
            )
        refunded, status = 0, "paid"
        refund_at = at + timedelta(hours=1 + rng.random() * 71)
        if charged and refund_at < AS_OF and rng.random() < self.refund_share:
            refunded, status = charged, "refunded"
            self._refund_counter += 1
            support = sum(ln.amount_krw for ln in fs)
            self.refunds.append(
                (
                    _time_id(refund_at, self._refund_counter),
                    pid,
                    charged,
                    earned,
                    fee,
                    support,
                    refund_at,
                )
            )
            self._cashback[member] = max(0, self._cashback[member] + from_cashback - earned)
            self.tally.refunded(  # in full: every line goes back whole
                merchant_id=m.id,
                district=m.district,
                category=m.category,
                card_issuer_id=issuer,
                paid_at=at,
                at=refund_at,
                amount=charged,
                fee_back=fee,
                lines_back=booked,
            )
        self.payments.append(
            (
                pid,
                None,  # ref: historic payments carry no client reference
                "member",
                member,
                None,
                m.id,
                issuer,
                channel,
                amount,
                cost.discount_krw,
                None,
                0,
                charged,
                from_cashback,
                fee,
                refunded,
                status,
                None,
                at,
                month,
                m.district,
            )
        )


REFUND_COLUMNS = (
    "id",
    "payment_id",
    "amount",
    "cashback_back",
    "fee_back",
    "fee_support_back",
    "at",
)


def _generate(
    loader: _Loader,
    days: list[tuple[datetime, list[float]]],
    counts: list[int],
    chunk: int,
    out: multiprocessing.Queue[Batch | None],
) -> None:
    """Put every chunk of payments on ``out``, then None."""
    for (start, hours), n in zip(days, counts, strict=True):
        for _ in loader.day(start, hours, n):
            if len(loader.payments) >= chunk:
                out.put(loader.take())
    if loader.payments:
        out.put(loader.take())
    out.put(None)


def _next_batch(queue: multiprocessing.Queue[Batch | None], child: BaseProcess) -> Batch | None:
    while True:
        try:
            return queue.get(timeout=1.0)
        except Empty:
            if not child.is_alive():
                raise RuntimeError(f"payment generator exited ({child.exitcode})") from None


def _write(
    conn: Connection, rows: list[tuple[Any, ...]], lines: list[Any], back: list[Any], tally: Tally
) -> None:
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # A large page cache while loading (index inserts at random keys into tables of
        # millions of rows), given back afterwards so that queries run as configured.
        default = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size = {LOADER_CACHE_KIB}")
    _skip_reference_checks(conn)
    try:
        bulk.insert_rows(conn, payments, PAYMENT_COLUMNS, rows)
        bulk.insert_rows(conn, payment_lines, LINE_COLUMNS, lines)
        bulk.insert_rows(conn, refunds, REFUND_COLUMNS, back)
        tally.flush(conn)
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(default)}")


def load_payments(
    city: City,
    count: int = 10_000_000,
    months: int = 12,
    chunk: int = 200_000,
    progress: Callable[[str], Any] = print,
    *,
    refund_share: float = REFUND_SHARE,
    seed: int = 23,
) -> dict[str, Any]:
    """Fill ``payments``, ``payment_lines`` and ``refunds`` with ``count`` payments over
    ``months`` KST months ending with AS_OF's (2026-11), one transaction per ``chunk``.

    Each payment is what booking would have written for it: a member of the city (its
    card's issuer, its cashback spent first), a merchant of the city (1% of payments at
    the hot merchant, the rest spread evenly), an amount typical of the merchant's
    category, the merchant's discount, card / QR / online fees, and a rule line for every
    cashback and fee-support rule that matches (incheon-base with its monthly cap, the
    gyeyang rules at gyeyang merchants). ``refund_share`` of them are refunded in full
    within three days. Times follow lunch and dinner peaks and busier weekends.

    The dashboard counters (``eum.stats.rollups``) are kept as booking keeps them, in the
    same transaction as each chunk. Ledger postings and journal entries are not written
    for these historic payments, nor are balances, cap usage or members' spending moved:
    the dashboards read ``payments``, ``payment_lines``, ``refunds`` and the counters only
    (the ledger does not verify afterwards).
    Finishes with fresh planner statistics (VACUUM ANALYZE on PostgreSQL, as autovacuum
    would have left a running database; ANALYZE on SQLite).
    """
    engine: Engine = city.engine
    copies = -(-count // DISTINCT_MAX)  # ceil
    generated = count // copies
    before = _counters(engine) if copies > 1 else {}
    with engine.connect() as conn:
        cat = policy.catalog(conn)
        known = set(city.members)
        people = [
            (r.id, r.card_issuer_id, r.card_kind)
            for r in conn.execute(
                select(members.c.id, members.c.card_issuer_id, members.c.card_kind).order_by(
                    members.c.id
                )
            )
            if r.id in known
        ]
        shops = {r.id: merchant_from_row(r) for r in conn.execute(select(merchants))}
    loader = _Loader(
        cat=cat,
        rng=random.Random(seed),
        members=people,
        merchants=[shops[m] for m in city.merchants],
        hot=shops[city.hot_merchant],
        refund_share=refund_share,
    )
    days = _days(months)
    totals = {"payments": 0, "lines": 0, "refunds": 0}
    busy = {"write": 0.0, "wait": 0.0}
    started = time.perf_counter()

    def write(batch: Batch) -> None:
        began = time.perf_counter()
        run_in_transaction(engine, _write, *batch)
        busy["write"] += time.perf_counter() - began
        for key, rows in zip(totals, batch[:3], strict=True):
            totals[key] += len(rows)
        elapsed = time.perf_counter() - started
        progress(
            f"  {totals['payments']:>11,} / {count:,} payments"
            f"  {totals['payments'] / elapsed:>9,.0f} payments/s"
            f"  {sum(totals.values()) / elapsed:>9,.0f} rows/s"
        )

    # A process of its own generates the payments while this one writes them.
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[Batch | None] = context.Queue(maxsize=2)
    counts = _per_day(days, generated)
    child = context.Process(target=_generate, args=(loader, days, counts, chunk, queue))
    child.start()
    try:
        while True:
            waited = time.perf_counter()
            batch = _next_batch(queue, child)
            busy["wait"] += time.perf_counter() - waited
            if batch is None:
                break
            write(batch)
    finally:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
    generated_seconds = time.perf_counter() - started
    if copies > 1:
        progress(f"  repeating {generated:,} payments {copies} times")
        _replicate(engine, copies, before, progress)
        for key in totals:
            totals[key] *= copies
    load_seconds = time.perf_counter() - started
    analyzed = time.perf_counter()
    _analyze(engine)
    analyze_seconds = time.perf_counter() - analyzed
    rows = sum(totals.values())
    return {
        **totals,
        "first_day": days[0][0].date().isoformat(),
        "as_of": AS_OF.isoformat(),
        "seconds": round(load_seconds, 1),
        "generated": generated,
        "copies": copies,
        "generated_seconds": round(generated_seconds, 1),
        "write_seconds": round(busy["write"], 1),
        "waited_seconds": round(busy["wait"], 1),  # the writer waiting for the generator
        "payments_per_s": round(totals["payments"] / load_seconds),
        "rows_per_s": round(rows / load_seconds),
        "analyze_seconds": round(analyze_seconds, 1),
    }


def _counters(engine: Engine) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """The counter rows payments move, by table and key."""
    out: dict[str, dict[tuple[Any, ...], tuple[int, ...]]] = {}
    with engine.connect() as conn:
        for table, keys, columns in MOVED_COUNTERS:
            rows = conn.execute(select(*(table.c[k] for k in (*keys, *columns))))
            out[table.name] = {
                tuple(r[: len(keys)]): tuple(int(v) for v in r[len(keys) :]) for r in rows
            }
    return out


def _replicate(
    engine: Engine,
    copies: int,
    before: dict[str, dict[tuple[Any, ...], tuple[int, ...]]],
    progress: Callable[[str], Any],
) -> None:
    """Repeat the payments just generated ``copies - 1`` more times with ids shifted past
    every id in use (the same members, merchants, times and amounts), and add to each
    counter what the generated payments added, times the number of copies made: the
    counters stay what a recount of the store would give."""
    with engine.connect() as conn:
        high = max(
            conn.execute(select(func.max(payments.c.id))).scalar_one() or 0,
            conn.execute(select(func.max(refunds.c.id))).scalar_one() or 0,
        )
    shift = high + 1
    if shift * copies > INT64_MAX:
        raise ValueError(f"{copies} copies of ids up to {high} overflow 64-bit ids")
    after = _counters(engine)

    def copy(conn: Connection, k: int) -> None:
        off = literal(shift * k)
        _copy_shifted(conn, payments, ("id",), payments.c.id <= high, off, ref_suffix=f":{k}")
        _copy_shifted(conn, payment_lines, ("payment_id",), payment_lines.c.payment_id <= high, off)
        _copy_shifted(conn, refunds, ("id", "payment_id"), refunds.c.id <= high, off)

    for k in range(1, copies):
        began = time.perf_counter()
        run_in_transaction(engine, _with_cache, copy, k)
        progress(f"  copy {k + 1} of {copies} in {time.perf_counter() - began:.1f} s")

    def counters(conn: Connection) -> None:
        for table, keys, columns in MOVED_COUNTERS:
            was, now_ = before.get(table.name, {}), after[table.name]
            rows = []
            for key in sorted(now_):
                old = was.get(key, (0,) * len(columns))
                added = [(copies - 1) * (n - o) for n, o in zip(now_[key], old, strict=True)]
                if any(added):
                    rows.append((*key, *added))
            bulk.upsert_add(conn, table, keys, columns, rows)

    run_in_transaction(engine, counters)


def _copy_shifted(
    conn: Connection,
    table: Table,
    shifted: tuple[str, ...],
    where: Any,
    off: Any,
    ref_suffix: str | None = None,
) -> None:
    """INSERT ... SELECT of ``table``'s rows matching ``where``, with the ``shifted`` id
    columns plus ``off`` (and a ``ref`` made unique by ``ref_suffix``)."""
    names = [c.name for c in table.columns]

    def value(name: str) -> Any:
        if name in shifted:
            return (table.c[name] + off).label(name)
        if name == "ref" and ref_suffix is not None:
            return (table.c[name] + ref_suffix).label(name)
        return table.c[name]

    conn.execute(insert(table).from_select(names, select(*map(value, names)).where(where)))


def _skip_reference_checks(conn: Connection) -> None:
    """On PostgreSQL, as a superuser, skip the foreign-key checks of this transaction's
    inserts, as pg_restore --disable-triggers does: the rows are generated from members
    and merchants that exist, and the checks (a row-locking lookup per reference) take
    most of the loading time. Elsewhere nothing changes."""
    if conn.dialect.name != "postgresql":
        return
    if conn.exec_driver_sql("SHOW is_superuser").scalar_one() == "on":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _with_cache(conn: Connection, fn: Callable[[Connection, int], None], k: int) -> None:
    """``fn`` with SQLite's large loading page cache (as ``_write``)."""
    _skip_reference_checks(conn)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        default = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size = {LOADER_CACHE_KIB}")
    try:
        fn(conn, k)
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(default)}")


def _analyze(engine: Engine) -> None:
    tables = ("payments", "payment_lines", "refunds")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
        return
    with engine.connect() as conn:
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")
        conn.commit()


# --- timing -----------------------------------------------------------------------------

Query = Callable[[Connection], Any]


def dashboard_queries(conn: Connection, city: City) -> dict[str, Query]:
    """Each dashboard read the product serves, as its endpoint calls it."""
    tree = policy.catalog(conn).issuers
    operator = Principal("bench-operator", "operator", "operator")
    gyeyang = Principal(
        "bench-gyeyang",
        "gyeyang-admin",
        "issuer_admin",
        issuer_id="gyeyang",
        issuers=tree.subtree("gyeyang"),
        districts=tree.covers("gyeyang"),
    )
    incheon = Principal(
        "bench-incheon",
        "incheon-admin",
        "issuer_admin",
        issuer_id="incheon",
        issuers=tree.subtree("incheon"),
        districts=tree.covers("incheon"),
    )
    hot = city.hot_merchant
    typical = next(m for m in city.merchants if m != hot)
    owner = Principal("bench-merchant", "merchant", "merchant", merchant_id=hot)
    typical_owner = Principal("bench-merchant-2", "merchant-2", "merchant", merchant_id=typical)
    member_id = city.members[0]
    member = Principal("bench-member", "member", "member", member_id=member_id)
    month = AS_OF.strftime("%Y-%m")

    def overview(p: Principal, issuer: str | None) -> Query:
        # GET /stats/overview
        return lambda c: stats.overview(c, stats.area_for(c, p, issuer), month)

    def monthly(p: Principal, count: int) -> Query:
        # GET /stats/monthly?months=count
        return lambda c: stats.monthly(c, stats.area_for(c, p, None), month, count)

    def listing(p: Principal) -> Query:
        # GET /payments, first page
        return lambda c: payment_views.visible(c, p, PAGE, None, None)

    return {
        "stats_overview_platform": overview(operator, None),
        "stats_overview_incheon": overview(incheon, None),
        "stats_overview_gyeyang": overview(gyeyang, None),
        "stats_monthly_12_platform": monthly(operator, 12),
        "stats_monthly_12_gyeyang": monthly(gyeyang, 12),
        "platform_totals": stats_service.totals,  # GET / and /stats/totals
        # GET /merchants/{id}/sales: today and this month
        "merchant_sales_busiest": lambda c: merchant_views.sales(c, owner, hot, AS_OF),
        "merchant_sales_typical": lambda c: merchant_views.sales(c, typical_owner, typical, AS_OF),
        "wallet_overview": lambda c: wallet_views.overview(c, member_id, AS_OF),  # GET /me/wallet
        "wallet_history_first_page": lambda c: wallet_views.history(c, member_id, PAGE, None),
        "payments_member_first_page": listing(member),
        "payments_merchant_first_page": listing(owner),
        "payments_gyeyang_admin_first_page": listing(gyeyang),
        "payments_incheon_admin_first_page": listing(incheon),
        "payments_operator_first_page": listing(operator),
    }


Statement = tuple[str, Any, float]  # SQL, parameters, ms


def _once(engine: Engine, query: Query, seen: list[Statement] | None = None) -> float:
    """ms of one run on a connection of its own, as a request has; ``seen`` collects its
    statements."""
    with engine.connect() as conn, _recording(conn, seen):
        started = time.perf_counter()
        query(conn)
        return (time.perf_counter() - started) * 1000


def time_queries(
    city: City, repeats: int = 5, *, budget_seconds: float = 60.0, explain: bool = True
) -> dict[str, Any]:
    """Median and max ms of each dashboard query over ``repeats`` runs after one warm-up
    run. A query whose runs would take more than ``budget_seconds`` is run fewer times
    (``runs`` says how many, at least one). With ``explain``, for each query whose median
    is over the target: its slowest statements with their plans (EXPLAIN QUERY PLAN on
    SQLite, EXPLAIN ANALYZE on PostgreSQL), from the statements of its warm-up run."""
    engine: Engine = city.engine
    with engine.connect() as conn:
        queries = dashboard_queries(conn, city)
    out: dict[str, Any] = {}
    plans: dict[str, list[dict[str, Any]]] = {}
    for name, query in queries.items():
        seen: list[Statement] = []
        warm = _once(engine, query, seen)
        runs = max(1, min(repeats, int(budget_seconds * 1000 // max(warm, 1e-3))))
        times = [_once(engine, query) for _ in range(runs)]
        median = statistics.median(times)
        out[name] = {"median": round(median, 1), "max": round(max(times), 1), "runs": runs}
        if explain and median > TARGET_MS:
            plans[name] = explain_statements(engine, seen)
    return {"queries_ms": out, "plans": plans}


@contextmanager
def _recording(conn: Connection, seen: list[Statement] | None) -> Iterator[None]:
    """Appends every statement run on ``conn`` to ``seen`` (when given)."""
    if seen is None:
        yield
        return
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters, (time.perf_counter() - started.pop()) * 1000))

    event.listen(conn, "before_cursor_execute", before)
    event.listen(conn, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(conn, "before_cursor_execute", before)
        event.remove(conn, "after_cursor_execute", after)


def explain_statements(engine: Engine, seen: list[Statement], top: int = 3) -> list[dict[str, Any]]:
    """The ``top`` distinct SELECTs that took longest in total, each explained with the
    parameters of its slowest run."""
    by_sql: dict[str, tuple[Any, float, float, int]] = {}  # params, slowest, total ms, runs
    for statement, params, ms in seen:
        if statement.lstrip().upper().startswith("SELECT"):
            worst, slowest, total, n = by_sql.get(statement, (params, ms, 0.0, 0))
            if ms >= slowest:
                worst, slowest = params, ms
            by_sql[statement] = (worst, slowest, total + ms, n + 1)
    ranked = sorted(by_sql.items(), key=lambda kv: -kv[1][2])[:top]
    out = []
    with engine.connect() as conn:
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
        for statement, (params, _, total, n) in ranked:
            plan = conn.exec_driver_sql(prefix + statement, params).all()
            out.append(
                {
                    "ms": round(total, 1),
                    "times": n,
                    "sql": " ".join(statement.split()),
                    "plan": [str(r[-1]) for r in plan],
                }
            )
        conn.rollback()
    return out


def run(
    city: City,
    count: int = 10_000_000,
    progress: Callable[[str], Any] = print,
    **timing: Any,
) -> dict[str, Any]:
    """Load ``count`` payments, then time every dashboard query; ``slowest_ms`` is the
    highest median."""
    loaded = load_payments(city, count, progress=progress)
    before = os.getloadavg()[0]
    timed = time_queries(city, **timing)
    after = os.getloadavg()[0]
    queries = timed["queries_ms"]
    with city.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(payments)).scalar_one()
    return {
        "payments_stored": int(stored),
        "load_seconds": loaded["seconds"],
        "queries_ms": {n: {"median": q["median"], "max": q["max"]} for n, q in queries.items()},
        "slowest_ms": max(q["median"] for q in queries.values()),
        "load": loaded,
        "runs": {n: q["runs"] for n, q in queries.items()},
        "plans": timed["plans"],
        # other work on the machine while timing skews the figures: 1-minute load average
        "load_average": [round(before, 2), round(after, 2)],
    }
