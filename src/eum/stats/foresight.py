"""Budget burn and the forecast of when a budget runs out (SPEC 4: budget burn and
forecast date of exhaustion).

Everything here reads the per-day budget counters (``budget_days``, kept with the
payments, refunds and fundings that move the budget's account) and the account's
balance: a budget's month is thirty rows, whatever the number of payments behind them.

The forecast assumes the budget keeps paying what it paid per day over the last
``WINDOW_DAYS`` days (today included, net of claw-backs). Its range comes from how
fast it burned in other weeks: the fastest and the slowest ``WINDOW_DAYS``-day stretch
of the last ``RANGE_DAYS`` days (from its first day of spending) give the earliest and
the latest day. A stretch that paid nothing gives no latest day (it might never run out
at that pace).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from eum.clock import kst_day
from eum.ledger.store import accounts
from eum.policy.store import budgets
from eum.stats.store import budget_days

WINDOW_DAYS = 7  # the recent pace: what a budget paid in the last 7 days, today included
RANGE_DAYS = 28  # the stretches the range is taken from
DEFAULT_ALERT_DAYS = 7  # exhaustion forecast within this many days raises an alert
MAX_ALERT_DAYS = 365


def alert_days_default() -> int:
    """``EUM_BUDGET_ALERT_DAYS`` (1..365), else 7."""
    raw = os.environ.get("EUM_BUDGET_ALERT_DAYS", "")
    if raw.isdigit() and 1 <= int(raw) <= MAX_ALERT_DAYS:
        return int(raw)
    return DEFAULT_ALERT_DAYS


def _days_at(remaining: int, spent: int, days: int) -> int | None:
    """Whole days until ``remaining`` is gone at ``spent`` per ``days`` days (rounded up;
    the day it runs out counts), or None at no pace."""
    if spent <= 0:
        return None
    return -(-remaining * days // spent)  # ceil, in integers


def _after(today: date, days: int | None) -> date | None:
    if days is None:
        return None
    return today + timedelta(days=min(days, (date.max - today).days))


@dataclass(frozen=True)
class Forecast:
    """When a budget runs out at its recent pace, with the range of other weeks' paces."""

    remaining: int
    spent_recent: int  # paid in the last WINDOW_DAYS days
    days_left: int | None
    runs_out: date | None
    earliest: date | None  # at the fastest stretch of the last RANGE_DAYS days
    latest: date | None  # at the slowest; None when some stretch paid nothing
    alert_days: int = DEFAULT_ALERT_DAYS

    @property
    def daily(self) -> int:
        """The recent pace per day in won, rounded down (for people; not booked)."""
        return max(0, self.spent_recent) // WINDOW_DAYS

    @property
    def state(self) -> str:
        """empty | soon (forecast within the alert horizon) | ok | idle (did not burn)."""
        if self.remaining <= 0:
            return "empty"
        if self.days_left is None:
            return "idle"
        return "soon" if self.days_left <= self.alert_days else "ok"

    @property
    def alert(self) -> bool:
        return self.state in ("empty", "soon")

    def as_dict(self) -> dict[str, Any]:
        def day(d: date | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "remaining": self.remaining,
            "daily_burn": self.daily,
            "spent_last_days": self.spent_recent,
            "window_days": WINDOW_DAYS,
            "days_left": self.days_left,
            "runs_out": day(self.runs_out),
            "earliest": day(self.earliest),
            "latest": day(self.latest),
            "state": self.state,
            "alert": self.alert,
            "alert_days": self.alert_days,
        }


def forecast(
    remaining: int,
    spent_by_day: Sequence[int],
    today: date,
    alert_days: int = DEFAULT_ALERT_DAYS,
) -> Forecast:
    """The forecast from the spending of the days up to today, oldest first (the last is
    today; days before the budget opened left out). The expected day is the pace of the
    last ``WINDOW_DAYS`` days; the range the fastest and slowest such stretch."""
    recent = sum(spent_by_day[-WINDOW_DAYS:])
    if remaining <= 0 or recent <= 0:
        return Forecast(remaining, recent, None, None, None, None, alert_days)
    days_left = _days_at(remaining, recent, WINDOW_DAYS)
    # stretches of the last RANGE_DAYS days, from the first day it paid anything (the
    # weeks before a rule started tell nothing of its pace)
    days = list(spent_by_day[-RANGE_DAYS:])
    while days and days[0] <= 0:
        days.pop(0)
    sums = [sum(days[i : i + WINDOW_DAYS]) for i in range(len(days) - WINDOW_DAYS + 1)]
    sums = sums or [recent]
    fastest, slowest = max(sums), min(sums)
    return Forecast(
        remaining,
        recent,
        days_left,
        _after(today, days_left),
        _after(today, _days_at(remaining, fastest, WINDOW_DAYS)),
        _after(today, _days_at(remaining, slowest, WINDOW_DAYS)),
        alert_days,
    )


@dataclass(frozen=True)
class Burn:
    """A budget's days: what fundings put in, what rules took out net of claw-backs, and
    what was left at each day's end; with its forecast."""

    days: list[dict[str, Any]]
    forecast: Forecast


def _moves(
    conn: Connection, budget_ids: Iterable[str], since: date
) -> dict[str, dict[str, tuple[int, int]]]:
    """(funded, spent) per budget and day from ``since``: one indexed range read."""
    ids = sorted(set(budget_ids))
    out: dict[str, dict[str, tuple[int, int]]] = {b: {} for b in ids}
    if not ids:
        return out
    c = budget_days.c
    for row in conn.execute(
        select(c.budget_id, c.day, c.funded, c.spent).where(
            c.budget_id.in_(ids), c.day >= since.isoformat()
        )
    ):
        out[row.budget_id][row.day] = (int(row.funded), int(row.spent))
    return out


def _balances(conn: Connection, budget_ids: Iterable[str]) -> dict[str, tuple[int, date | None]]:
    ids = sorted(set(budget_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(budgets.c.id, accounts.c.balance, budgets.c.created_at)
        .join(accounts, accounts.c.id == budgets.c.account_id)
        .where(budgets.c.id.in_(ids))
    )
    return {r.id: (int(r.balance), kst_day(r.created_at)) for r in rows}


def held_at(conn: Connection, budget_ids: Iterable[str], day: date) -> dict[str, int]:
    """What each budget held when ``day`` began: its balance now minus what moved on that
    day and after (the day counters)."""
    ids = sorted(set(budget_ids))
    if not ids:
        return {}
    found = _balances(conn, ids)
    since = dict(
        conn.execute(
            select(budget_days.c.budget_id, func.sum(budget_days.c.funded - budget_days.c.spent))
            .where(budget_days.c.budget_id.in_(ids), budget_days.c.day >= day.isoformat())
            .group_by(budget_days.c.budget_id)
        ).all()
    )
    return {b: balance - int(since.get(b) or 0) for b, (balance, _opened) in found.items()}


def burns(
    conn: Connection,
    budget_ids: Iterable[str],
    today: date,
    days: int = RANGE_DAYS,
    alert_days: int = DEFAULT_ALERT_DAYS,
) -> dict[str, Burn]:
    """Each budget's last ``days`` days (from the day it opened if later; at least the
    range the forecast needs) and its forecast, from the day counters."""
    ids = sorted(set(budget_ids))
    span = max(days, RANGE_DAYS)
    since = today - timedelta(days=span - 1)
    moves = _moves(conn, ids, since)
    found = _balances(conn, ids)
    out: dict[str, Burn] = {}
    for budget_id in ids:
        if budget_id not in found:
            continue
        balance, opened = found[budget_id]
        by_day = moves[budget_id]
        last = today.isoformat()
        left = balance - sum(f - s for d, (f, s) in by_day.items() if d > last)
        remaining_today = left
        first = max(since, min(opened or since, today))
        rows: list[dict[str, Any]] = []
        for k in range((today - first).days, -1, -1):  # newest first, walking back
            day = (first + timedelta(days=k)).isoformat()
            funded, spent = by_day.get(day, (0, 0))
            rows.append({"day": day, "funded": funded, "spent": spent, "remaining": left})
            left -= funded - spent
        rows.reverse()
        fc = forecast(remaining_today, [r["spent"] for r in rows], today, alert_days)
        shown = rows[-days:] if days < len(rows) else rows
        out[budget_id] = Burn(shown, fc)
    return out


def forecasts(
    conn: Connection,
    views: Sequence[Mapping[str, Any]],
    today: date,
    alert_days: int = DEFAULT_ALERT_DAYS,
) -> dict[str, Forecast]:
    """The forecast of every budget view (``policy.views``: id and remaining); a budget
    the counters know nothing of is idle."""
    found = burns(conn, [v["id"] for v in views], today, RANGE_DAYS, alert_days)
    return {
        v["id"]: found[v["id"]].forecast
        if v["id"] in found
        else forecast(int(v["remaining"]), [], today, alert_days)
        for v in views
    }
