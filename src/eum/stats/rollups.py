"""Keeping the dashboard counters (``eum.stats.store``) and recounting them.

Every write path that changes what a counter counts adds its deltas to a ``Tally`` and
flushes it as the last writes of its own transaction, so a counter is never ahead of or
behind the rows it counts. Deltas are summed in memory first: a batch of a thousand
payments moves each counter row once. ``recount`` computes every counter from the base
tables; the tests compare the two after random event streams, and ``rebuild`` writes a
recount (after a bulk load or a migration).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from eum import bulk
from eum.clock import kst_day, kst_month
from eum.community.store import donations, user_groups
from eum.ledger.store import journal_entries, postings
from eum.merchants.store import merchants
from eum.money.refunds import current
from eum.payments.store import payment_lines, payments, refunds
from eum.policy.store import FUNDING_KINDS, budgets
from eum.stats.store import (
    active_months,
    budget_days,
    card_days,
    card_months,
    merchant_days,
    payment_days,
    payment_months,
    support_days,
    support_months,
)
from eum.wallets.store import charge_months, charges, members

# A rule line: (rule id, budget id or None, kind, won).
Line = tuple[str, str | None, str, int]

PAYMENT_MONTH_KEYS = ("month", "district", "category", "card_issuer_id")
PAYMENT_MONTH_VALUES = ("payments", "paid")
SUPPORT_KEYS = ("month", "rule_id", "budget_id", "kind")
SUPPORT_VALUES = ("amount",)
CARD_KEYS = ("month", "card_issuer_id")
CARD_VALUES = ("joined", "active", "issued")
PAYMENT_DAY_KEYS = ("day", "district", "category", "card_issuer_id")
SUPPORT_DAY_KEYS = ("day", "rule_id", "budget_id", "kind")
CARD_DAY_KEYS = ("day", "card_issuer_id")
CARD_DAY_VALUES = ("joined", "active", "issued", "donated")
BUDGET_DAY_KEYS = ("budget_id", "day")
BUDGET_DAY_VALUES = ("funded", "spent")
DAY_KEYS = ("merchant_id", "day")
DAY_VALUES = (
    "payments",
    "amount",
    "charged",
    "fee",
    "fee_support",
    "refunded",
    "fee_back",
    "fee_support_back",
)


class _Zeros:
    """A picklable default factory (a tally may cross processes, see bench/)."""

    def __init__(self, width: int) -> None:
        self.width = width

    def __call__(self) -> list[int]:
        return [0] * self.width


def _counter(width: int) -> defaultdict[tuple[str, ...], list[int]]:
    return defaultdict(_Zeros(width))


@dataclass
class Tally:
    """Counter deltas of one transaction, in memory until ``flush``."""

    payment_months: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(PAYMENT_MONTH_VALUES))
    )
    support: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(SUPPORT_VALUES))
    )
    cards: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(CARD_VALUES))
    )
    days: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(DAY_VALUES))
    )
    payment_days: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(PAYMENT_MONTH_VALUES))
    )
    support_days: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(SUPPORT_VALUES))
    )
    card_days: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(CARD_DAY_VALUES))
    )
    budget_days: defaultdict[tuple[str, ...], list[int]] = field(
        default_factory=lambda: _counter(len(BUDGET_DAY_VALUES))
    )
    # (member, month) -> (card issuer, day) of the first payment booked in this tally by
    # each member who paid; flush finds who paid for the first time in the month
    payers: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    # --- events ------------------------------------------------------------------------

    def paid(
        self,
        *,
        merchant_id: str,
        district: str,
        category: str | None,
        card_issuer_id: str,
        member_id: str | None,
        at: datetime,
        amount: int,
        charged: int,
        fee: int,
        lines: Iterable[Line],
    ) -> None:
        """A payment as booked (``member_id`` None for a group's pool)."""
        month = kst_month(at)
        today = kst_day(at).isoformat()
        made = self.payment_months[(month, district, category or "", card_issuer_id)]
        made[0] += 1
        made[1] += charged
        made = self.payment_days[(today, district, category or "", card_issuer_id)]
        made[0] += 1
        made[1] += charged
        fee_support = 0
        for rule_id, budget_id, kind, won in lines:
            self.support[(month, rule_id, budget_id or "", kind)][0] += won
            self.support_days[(today, rule_id, budget_id or "", kind)][0] += won
            if budget_id:
                self.budget_days[(budget_id, today)][1] += won
            if kind == "fee_support":
                fee_support += won
        day = self.days[(merchant_id, today)]
        day[0] += 1
        day[1] += amount
        day[2] += charged
        day[3] += fee
        day[4] += fee_support
        if member_id is not None:
            self.payers.setdefault((member_id, month), (card_issuer_id, today))

    def refunded(
        self,
        *,
        merchant_id: str,
        district: str,
        category: str | None,
        card_issuer_id: str,
        paid_at: datetime,
        at: datetime,
        amount: int,
        fee_back: int,
        lines_back: Iterable[Line],
    ) -> None:
        """A refund: counted against its payment's month and day in the statistics, and
        on the day it was given in the merchant's sales and its budgets' movements."""
        month, paid_on = kst_month(paid_at), kst_day(paid_at).isoformat()
        today = kst_day(at).isoformat()
        self.payment_months[(month, district, category or "", card_issuer_id)][1] -= amount
        self.payment_days[(paid_on, district, category or "", card_issuer_id)][1] -= amount
        support_back = 0
        for rule_id, budget_id, kind, won in lines_back:
            self.support[(month, rule_id, budget_id or "", kind)][0] -= won
            self.support_days[(paid_on, rule_id, budget_id or "", kind)][0] -= won
            if budget_id:
                self.budget_days[(budget_id, today)][1] -= won
            if kind == "fee_support":
                support_back += won
        day = self.days[(merchant_id, today)]
        day[5] += amount
        day[6] += fee_back
        day[7] += support_back

    def charged(self, *, card_issuer_id: str, at: datetime, amount: int) -> None:
        self.cards[(kst_month(at), card_issuer_id)][2] += amount
        self.card_days[(kst_day(at).isoformat(), card_issuer_id)][2] += amount

    def joined(self, *, card_issuer_id: str, at: datetime) -> None:
        self.cards[(kst_month(at), card_issuer_id)][0] += 1
        self.card_days[(kst_day(at).isoformat(), card_issuer_id)][0] += 1

    def donated(self, *, card_issuer_id: str, at: datetime, amount: int) -> None:
        """A donation, by the donor's card (a group's by its owner's)."""
        self.card_days[(kst_day(at).isoformat(), card_issuer_id)][3] += amount

    def funded(self, *, budget_id: str, at: datetime, amount: int) -> None:
        """Money put into a budget (negative: what closing took back)."""
        self.budget_days[(budget_id, kst_day(at).isoformat())][0] += amount

    # --- writing -----------------------------------------------------------------------

    def flush(self, conn: Connection) -> None:
        """Write the deltas (each counter row once, in key order) and forget them. Call
        it after the rows it counts are written, as the transaction's last writes: the
        payers' wallets are locked by then, so their month's first payment is found
        without a race."""
        if self.payers:
            self._first_payers(conn)
        written = (
            (payment_months, PAYMENT_MONTH_KEYS, PAYMENT_MONTH_VALUES, self.payment_months),
            (support_months, SUPPORT_KEYS, SUPPORT_VALUES, self.support),
            (card_months, CARD_KEYS, CARD_VALUES, self.cards),
            (merchant_days, DAY_KEYS, DAY_VALUES, self.days),
            (payment_days, PAYMENT_DAY_KEYS, PAYMENT_MONTH_VALUES, self.payment_days),
            (support_days, SUPPORT_DAY_KEYS, SUPPORT_VALUES, self.support_days),
            (card_days, CARD_DAY_KEYS, CARD_DAY_VALUES, self.card_days),
            (budget_days, BUDGET_DAY_KEYS, BUDGET_DAY_VALUES, self.budget_days),
        )
        for table, keys, values, counter in written:
            rows = [(*key, *deltas) for key, deltas in sorted(counter.items()) if any(deltas)]
            bulk.upsert_add(conn, table, keys, values, rows)
            counter.clear()

    def _first_payers(self, conn: Connection) -> None:
        wanted = self.payers
        known: set[tuple[str, str]] = set()
        months = sorted({month for _, month in wanted})
        for chunk in bulk.chunks(sorted({member for member, _ in wanted})):
            known.update(
                (r.member_id, r.month)
                for r in conn.execute(
                    select(active_months.c.member_id, active_months.c.month).where(
                        bulk.any_of(conn, active_months.c.member_id, chunk),
                        active_months.c.month.in_(months),
                    )
                )
            )
        first = sorted(pair for pair in wanted if pair not in known)
        bulk.insert_rows(conn, active_months, ("member_id", "month"), first)
        for member_month in first:
            issuer, day = wanted[member_month]
            self.cards[(member_month[1], issuer)][1] += 1
            self.card_days[(day, issuer)][1] += 1
        wanted.clear()


# --- recount ------------------------------------------------------------------------------

Counts = dict[str, dict[tuple[str, ...], tuple[int, ...]]]
TABLES = {
    "payment_months": payment_months,
    "support_months": support_months,
    "card_months": card_months,
    "active_months": active_months,
    "merchant_days": merchant_days,
    "payment_days": payment_days,
    "support_days": support_days,
    "card_days": card_days,
    "budget_days": budget_days,
}


def _rows(conn: Connection, query: Any, size: int = 10_000) -> Iterator[Any]:
    """Rows of a big query without holding them all."""
    with conn.execute(query.execution_options(yield_per=size)) as result:
        yield from result


def recount(conn: Connection) -> Counts:
    """Every counter computed from the base tables (payments, their lines and refunds,
    members, charges, donations and budget fundings), rows at zero left out."""
    tally = Tally()
    lines: dict[int, list[tuple[str, str | None, str, int]]] = defaultdict(list)
    for ln in _rows(
        conn,
        select(
            payment_lines.c.payment_id,
            payment_lines.c.rule_id,
            payment_lines.c.budget_id,
            payment_lines.c.kind,
            payment_lines.c.amount,
        ).order_by(payment_lines.c.payment_id, payment_lines.c.seq),
    ):
        lines[ln.payment_id].append((ln.rule_id, ln.budget_id, ln.kind, int(ln.amount)))
    shops = {
        m.id: (m.district, m.category)
        for m in conn.execute(select(merchants.c.id, merchants.c.district, merchants.c.category))
    }
    actives: set[tuple[str, str]] = set()
    made: dict[int, tuple[Any, list[Line], int]] = {}  # refunded payments, refunded so far
    for p in _rows(conn, select(payments).order_by(payments.c.id)):  # in booking order
        paid_lines = lines.pop(p.id, [])
        charged, refunded = int(p.charged), int(p.refunded)
        district, category = shops[p.merchant_id]
        tally.paid(
            merchant_id=p.merchant_id,
            district=district,
            category=category,
            card_issuer_id=p.card_issuer_id or "",
            member_id=None,
            at=p.at,
            amount=int(p.amount),
            charged=charged,
            fee=int(p.fee),
            lines=paid_lines,
        )
        # what refunds took back of it, whenever they came: its value as paid minus now
        paid_on = kst_day(p.at).isoformat()
        issuer = p.card_issuer_id or ""
        tally.payment_months[(p.month, district, category or "", issuer)][1] -= refunded
        tally.payment_days[(paid_on, district, category or "", issuer)][1] -= refunded
        for rule_id, budget_id, kind, won in paid_lines:
            back = won - current(won, charged, refunded)
            tally.support[(p.month, rule_id, budget_id or "", kind)][0] -= back
            tally.support_days[(paid_on, rule_id, budget_id or "", kind)][0] -= back
        if p.payer_kind == "member" and p.member_id is not None:
            actives.add((p.member_id, p.month))
            tally.payers.setdefault((p.member_id, p.month), (p.card_issuer_id, paid_on))
        if refunded:
            made[p.id] = (p, paid_lines, 0)
    for r in _rows(conn, select(refunds).order_by(refunds.c.id)):
        p, paid_lines, before = made[r.payment_id]
        after = before + int(r.amount)
        made[r.payment_id] = (p, paid_lines, after)
        today = kst_day(r.at).isoformat()
        day = tally.days[(p.merchant_id, today)]
        day[5] += int(r.amount)
        day[6] += int(r.fee_back)
        day[7] += int(r.fee_support_back)
        charged = int(p.charged)
        for _rule, budget_id, _kind, won in paid_lines:  # what this refund gave back
            if budget_id:
                back = current(won, charged, before) - current(won, charged, after)
                tally.budget_days[(budget_id, today)][1] -= back
    for (_member, month), (issuer, day_) in tally.payers.items():
        tally.cards[(month, issuer)][1] += 1
        tally.card_days[(day_, issuer)][1] += 1
    tally.payers.clear()
    issuer_of: dict[str, str] = {}
    for m in _rows(conn, select(members.c.id, members.c.card_issuer_id, members.c.created_at)):
        issuer_of[m.id] = m.card_issuer_id
        tally.joined(card_issuer_id=m.card_issuer_id, at=m.created_at)
    for c in _rows(conn, select(charge_months)):
        tally.cards[(c.month, issuer_of[c.member_id])][2] += int(c.charged)
    for c in _rows(conn, select(charges.c.member_id, charges.c.at, charges.c.amount)):
        tally.card_days[(kst_day(c.at).isoformat(), issuer_of[c.member_id])][2] += int(c.amount)
    owners = dict(conn.execute(select(user_groups.c.id, user_groups.c.owner_id)).all())
    for d in _rows(conn, select(donations)):
        donor = d.member_id if d.member_id is not None else owners[d.group_id]
        tally.donated(card_issuer_id=issuer_of[donor], at=d.at, amount=int(d.amount))
    budget_of = dict(conn.execute(select(budgets.c.account_id, budgets.c.id)).all())
    for f in _rows(
        conn,
        select(postings.c.account_id, postings.c.amount, journal_entries.c.at)
        .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
        .where(
            journal_entries.c.kind.in_(FUNDING_KINDS),
            postings.c.account_id.in_(select(budgets.c.account_id)),
        ),
    ):
        tally.funded(budget_id=budget_of[f.account_id], at=f.at, amount=int(f.amount))

    def kept(counter: dict[tuple[str, ...], list[int]]) -> dict[tuple[str, ...], tuple[int, ...]]:
        return {k: tuple(v) for k, v in counter.items() if any(v)}

    return {
        "payment_months": kept(tally.payment_months),
        "support_months": kept(tally.support),
        "card_months": kept(tally.cards),
        "active_months": {pair: () for pair in actives},
        "merchant_days": kept(tally.days),
        "payment_days": kept(tally.payment_days),
        "support_days": kept(tally.support_days),
        "card_days": kept(tally.card_days),
        "budget_days": kept(tally.budget_days),
    }


def stored(conn: Connection) -> Counts:
    """Every counter as stored, rows at zero left out."""
    out: Counts = {}
    for name, table in TABLES.items():
        keys = [c for c in table.c if c.primary_key]
        values = [c for c in table.c if not c.primary_key]
        rows = {}
        for r in conn.execute(select(*keys, *values)):
            key = tuple(r[: len(keys)])
            vals = tuple(int(v) for v in r[len(keys) :])
            if not values or any(vals):
                rows[key] = vals
        out[name] = rows
    return out


def rebuild(conn: Connection, names: Iterable[str] | None = None) -> Counts:
    """Replace every counter (or those ``names``: a migration fills the tables it made)
    with a recount (after a bulk load or a migration)."""
    counts = recount(conn)
    for name, table in TABLES.items():
        if names is not None and name not in names:
            continue
        conn.execute(delete(table))
        keys = [c.name for c in table.c if c.primary_key]
        values = [c.name for c in table.c if not c.primary_key]
        rows = [(*k, *v) for k, v in sorted(counts[name].items())]
        for chunk in bulk.chunks(rows, 50_000):
            bulk.insert_rows(conn, table, (*keys, *values), chunk)
    return counts
