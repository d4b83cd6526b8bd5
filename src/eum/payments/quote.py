"""What a payment would do, before the member confirms it, and what a card earns at a
shop today: the same checks and arithmetic as a real payment, nothing written.

``quote`` runs the payment use case against a booking that reads balances without
locking them and is never flushed, so the preview is exactly the payment as it would be
booked now (discount, coupon, cashback per rule under the caps and budgets left, wallet
split); another payment committed in between can change the real result, which is why
the page calls it expected cashback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from eum.clock import kst_day, kst_month
from eum.ledger import service as ledger
from eum.merchants.service import Merchant
from eum.money.model import Rule
from eum.payments import service as payments
from eum.payments.booking import Booking, member_payer
from eum.policy import service as policy
from eum.policy.store import budgets
from eum.stats.store import support_months
from eum.wallets.service import Member

# A budget that at this month's pace lasts less than this many days is "nearly spent".
LOW_BUDGET_DAYS = 7
# A scheduled rate change is announced at a shop this many days before it takes effect.
ANNOUNCE_DAYS = 30


class _Peek(Booking):
    """A booking that reads balances without locking rows (it is never flushed)."""

    def lock(self, account_ids: Iterable[int]) -> None:
        held = self.balances
        wanted = {a for a in account_ids if a not in held}
        if self.fees_account not in held:
            wanted.add(self.fees_account)
        if wanted:
            held.update(ledger.balances(self.conn, wanted))


def quote(
    conn: Connection,
    *,
    member_id: str,
    merchant_id: str,
    amount_krw: object,
    at: datetime,
    channel: str = "card",
    coupon_id: str | None = None,
) -> dict[str, Any]:
    """The result ``payments.pay`` would give now (same keys), or the domain error it
    would raise; nothing is written."""
    booking = _Peek(conn, policy.catalog(conn))
    return payments.pay(
        conn,
        member_id=member_id,
        merchant_id=merchant_id,
        amount_krw=amount_krw,
        at=at,
        channel=channel,
        coupon_id=coupon_id,
        booking=booking,
    )


@dataclass(frozen=True)
class RateChange:
    """A scheduled change of a card's total cashback rate at a shop, announced in advance:
    from ``day`` on it earns ``after_bps`` instead of ``before_bps``."""

    day: date
    before_bps: int
    after_bps: int


@dataclass(frozen=True)
class ShopRate:
    """What a card earns at a shop today: the rules that match, their total rate, and
    whether a budget behind them is nearly or wholly spent; and the scheduled changes
    of that rate within ``ANNOUNCE_DAYS``."""

    rate_bps: int
    rules: list[dict[str, Any]]
    budget_low: bool
    budget_empty: bool
    changes: list[RateChange] = field(default_factory=list)


def _total_on(rules: Sequence[Rule], day: date) -> int:
    """The rules' total rate on ``day``, counting only those whose period covers it."""
    return sum(
        r.rate_on(day)
        for r in rules
        if (r.valid_from is None or r.valid_from <= day)
        and (r.valid_until is None or day <= r.valid_until)
    )


def announced_changes(rules: Sequence[Rule], today: date) -> list[RateChange]:
    """Each day in the next ``ANNOUNCE_DAYS`` on which a rule's scheduled step changes the
    total rate, with the total the day before and from that day (a step that another
    cancels out is no change to announce)."""
    horizon = today + timedelta(days=ANNOUNCE_DAYS)
    days = sorted({d for r in rules for d, _ in r.steps_after(today) if d <= horizon})
    out = []
    for day in days:
        before, after = _total_on(rules, day - timedelta(days=1)), _total_on(rules, day)
        if before != after:
            out.append(RateChange(day, before, after))
    return out


def shop_rates(
    conn: Connection, member: Member, shops: Sequence[Merchant], at: datetime, channel: str = "card"
) -> dict[str, ShopRate]:
    """Cashback rate of ``member``'s card at each shop today (SPEC 3.7 conditions)."""
    cat = policy.catalog(conn)
    payer = member_payer(member)
    booking = _Peek(conn, cat)
    matched = {
        shop.id: booking.rules(payer, shop, channel, at, cashback=True)[0]  # type: ignore[arg-type]
        for shop in shops
        if shop.district in cat.issuers.region(member.card_issuer_id)
    }
    budget_ids = {r.budget_id for rules in matched.values() for r in rules if r.budget_id}
    state = budget_state(conn, budget_ids, at)
    today = kst_day(at)
    out = {}
    for shop_id, rules in matched.items():
        behind = [state[r.budget_id] for r in rules if r.budget_id in state]
        paying = [r for r in rules if r.budget_id not in state or not state[r.budget_id].empty]
        out[shop_id] = ShopRate(
            rate_bps=sum(r.rate_on(today) for r in paying),
            rules=[
                {"rule": r.id, "rate_bps": r.rate_on(today), "budget": r.budget_id} for r in rules
            ],
            budget_low=any(b.low for b in behind),
            budget_empty=any(b.empty for b in behind),
            changes=announced_changes(paying, today),
        )
    return out


def budget_state(
    conn: Connection, budget_ids: Iterable[str], at: datetime
) -> dict[str, BudgetState]:
    """Each budget's balance and this month's burn, from the balance rows and the
    support counters (no scan of payments)."""
    ids = sorted(set(budget_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(budgets.c.id, budgets.c.account_id).where(budgets.c.id.in_(ids))
    ).all()
    held = ledger.balances(conn, [r.account_id for r in rows])
    month = kst_month(at)
    spent = dict(
        conn.execute(
            select(support_months.c.budget_id, func.sum(support_months.c.amount))
            .where(support_months.c.month == month, support_months.c.budget_id.in_(ids))
            .group_by(support_months.c.budget_id)
        ).all()
    )
    days = kst_day(at).day
    return {
        r.id: BudgetState(held.get(r.account_id, 0), int(spent.get(r.id) or 0), days) for r in rows
    }


@dataclass(frozen=True)
class BudgetState:
    """A budget's balance and what it paid this month over ``days`` days so far."""

    remaining: int
    spent_this_month: int
    days: int

    @property
    def daily_burn(self) -> float:
        return self.spent_this_month / max(1, self.days)

    @property
    def empty(self) -> bool:
        return self.remaining <= 0

    @property
    def low(self) -> bool:
        """Nearly spent: at this month's pace it lasts less than ``LOW_BUDGET_DAYS``."""
        return self.empty or self.remaining < self.daily_burn * LOW_BUDGET_DAYS
