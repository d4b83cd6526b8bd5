"""The what-if report: per rule and per budget, what the draft paid in the sandbox next
to what really happened to the same payments.

Per rule: cashback (or fee support) paid, qualifying volume and members (merchants for
fee support) reached, all at their value at the period's end (refunds up to then taken
back as SPEC 3.9 says: floor(X x c' / c)); per budget: what it held at the start, what
it paid, what it held at the end and the day it ran out. The live side is read from
the live database's payments of the period (lines as paid, refunds up to the period's
end), so a replay under the live rules shows a difference of 0 everywhere.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from eum.money.refunds import current
from eum.payments.store import payment_lines, payments, refunds
from eum.stats.foresight import held_at
from eum.stats.store import budget_days
from eum.whatif.replay import Period, Recorded, Replayed


@dataclass
class RuleFigures:
    kind: str = "cashback"
    budget: str | None = None
    paid: int = 0
    qualifying: int = 0
    reached: set[str] = field(default_factory=set)


def rule_figures(
    conn: Connection, start: datetime, end: datetime, refunds_until: datetime
) -> dict[str, RuleFigures]:
    """Per rule, over the payments made in [start, end): paid and qualifying at their
    value once the refunds before ``refunds_until`` are taken back, and who was reached
    (members for cashback, merchants for fee support; a payment that earned 0 reaches no
    one)."""
    in_period = (payments.c.at >= start) & (payments.c.at < end)
    refunded: dict[int, int] = defaultdict(int)
    for r in conn.execute(
        select(refunds.c.payment_id, refunds.c.amount)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .where(in_period, refunds.c.at < refunds_until)
    ):
        refunded[r.payment_id] += int(r.amount)
    out: dict[str, RuleFigures] = {}
    for ln in conn.execute(
        select(
            payment_lines.c.rule_id,
            payment_lines.c.kind,
            payment_lines.c.budget_id,
            payment_lines.c.qualifying,
            payment_lines.c.amount,
            payments.c.id,
            payments.c.charged,
            payments.c.member_id,
            payments.c.merchant_id,
        )
        .join(payments, payments.c.id == payment_lines.c.payment_id)
        .where(in_period)
    ):
        fig = out.setdefault(ln.rule_id, RuleFigures(ln.kind, ln.budget_id))
        charged, back = int(ln.charged), refunded.get(ln.id, 0)
        fig.paid += current(int(ln.amount), charged, back)
        fig.qualifying += current(int(ln.qualifying), charged, back)
        if int(ln.amount) > 0:
            who = ln.member_id if ln.kind == "cashback" else ln.merchant_id
            if who is not None:
                fig.reached.add(who)
    return out


def budget_path(
    conn: Connection, budget_id: str, held_at_start: int, period: Period
) -> dict[str, Any]:
    """A budget through the period from what it held at the start: what it paid (net of
    claw-backs), was funded, held at the end, and the first day it ended at 0 or below."""
    rows = dict(
        (r.day, (int(r.funded), int(r.spent)))
        for r in conn.execute(
            select(budget_days.c.day, budget_days.c.funded, budget_days.c.spent).where(
                budget_days.c.budget_id == budget_id,
                budget_days.c.day >= period.first.isoformat(),
                budget_days.c.day <= period.last.isoformat(),
            )
        )
    )
    left, spent_total, funded_total = held_at_start, 0, 0
    ran_out = None
    for day in period.days():
        funded, spent = rows.get(day, (0, 0))
        funded_total += funded
        spent_total += spent
        left += funded - spent
        if ran_out is None and left <= 0 and (spent > 0 or held_at_start <= 0):
            ran_out = day
    return {
        "start": held_at_start,
        "funded": funded_total,
        "spent": spent_total,
        "end": left,
        "ran_out": ran_out,
    }


def _rule_row(
    rule_id: str, sandbox: RuleFigures | None, live: RuleFigures | None
) -> dict[str, Any]:
    ref = sandbox or live
    assert ref is not None

    def side(f: RuleFigures | None) -> dict[str, Any] | None:
        if f is None:
            return None
        return {"paid": f.paid, "qualifying": f.qualifying, "reached": len(f.reached)}

    drafted = side(sandbox) or {"paid": 0, "qualifying": 0, "reached": 0}
    real = side(live)
    return {
        "rule": rule_id,
        "kind": ref.kind,
        "budget": ref.budget,
        "in_draft": sandbox is not None,
        **drafted,
        "live": real,
        "difference": drafted["paid"] - (real["paid"] if real else 0),
    }


def build(
    live: Connection | None,
    sandbox: Connection,
    recorded: Recorded,
    replayed: Replayed,
    draft_rules: Iterable[Mapping[str, Any]],
    draft_name: str,
) -> dict[str, Any]:
    """The report of one replay (a JSON-able dict); without ``live`` (a simulated city)
    there is nothing real to compare with."""
    period = recorded.period
    start, end = period.start, period.end
    drafted = rule_figures(sandbox, start, end, end)
    real = rule_figures(live, start, end, end) if live is not None else {}
    order = [str(r["id"]) for r in draft_rules]
    for rule_id in order:  # a draft rule no payment matched still gets its line
        kind = next(str(r["kind"]) for r in draft_rules if r["id"] == rule_id)
        budget = next((r.get("budget") for r in draft_rules if r["id"] == rule_id), None)
        drafted.setdefault(rule_id, RuleFigures(kind, budget))
    names = order + sorted(set(real) - set(order))
    rule_rows = [_rule_row(r, drafted.get(r), real.get(r)) for r in names]
    budget_rows = []
    draft_budget_ids = [b["id"] for b in recorded.setup["budgets"]]
    live_start = held_at(live, draft_budget_ids, period.first) if live is not None else {}
    for b in recorded.setup["budgets"]:
        sandbox_path = budget_path(sandbox, b["id"], int(b["amount"]), period)
        live_path = None
        if live is not None and b["id"] in live_start:
            live_path = budget_path(live, b["id"], live_start[b["id"]], period)
        budget_rows.append({"budget": b["id"], **sandbox_path, "live": live_path})

    def total(figs: Mapping[str, RuleFigures], kind: str) -> int:
        return sum(f.paid for f in figs.values() if f.kind == kind)

    totals = {
        "cashback": total(drafted, "cashback"),
        "fee_support": total(drafted, "fee_support"),
        "live_cashback": total(real, "cashback"),
        "live_fee_support": total(real, "fee_support"),
    }
    totals["difference"] = (
        totals["cashback"]
        + totals["fee_support"]
        - totals["live_cashback"]
        - totals["live_fee_support"]
    )
    return {
        "draft": draft_name,
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "payments": {
            "recorded": recorded.payments,
            "replayed": replayed.booked,
            "refused": dict(sorted(replayed.refused.items())),
        },
        "refunds": replayed.refunds,
        "seconds": round(replayed.seconds, 1),
        "compared": live is not None,
        "rules": rule_rows,
        "budgets": budget_rows,
        "totals": totals,
    }


def _won(v: int | None) -> str:
    return "-" if v is None else f"{v:,}원"


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cells(values: Sequence[str], widths: Sequence[int]) -> str:
    """The first value left-aligned, the rest right-aligned, in display columns."""
    out = []
    for i, (value, width) in enumerate(zip(values, widths, strict=True)):
        room = " " * max(0, width - _width(value))
        out.append(value + room if i == 0 else room + value)
    return "  " + " ".join(out)


def text(report: Mapping[str, Any]) -> str:
    """The report as a person reads it in a terminal (Korean first); without a live side
    (a simulated city) the comparison columns are left out."""
    p = report["payments"]
    compared = report.get("compared", True)
    lines = [
        f"정책 시뮬레이션 (what-if): {report['draft']}  기간 {report['from']} ~ {report['to']}",
        f"결제 {p['recorded']:,}건 재현 (성공 {p['replayed']:,}건"
        + (f", 거절 {sum(p['refused'].values()):,}건 {p['refused']}" if p["refused"] else "")
        + f"), 환불 {report['refunds']:,}건, {report['seconds']} 초",
        "",
    ]
    widths = [30, 16, 18, 10] + ([16, 14] if compared else [])
    head = ["규칙 (rule)", "지급액", "적격 결제액", "대상"]
    lines.append(_cells(head + (["실제 지급액", "차이"] if compared else []), widths))
    for r in report["rules"]:
        live = r["live"] or {}
        unit = "명" if r["kind"] == "cashback" else "곳"
        mark = "" if r["in_draft"] else " (초안에 없음)"
        row = [r["rule"] + mark, _won(r["paid"]), _won(r["qualifying"]), f"{r['reached']:,}{unit}"]
        if compared:
            row += [_won(live.get("paid")), f"{r['difference']:+,}원"]
        lines.append(_cells(row, widths))
    lines.append("")
    widths = [30, 16, 16, 16, 12] + ([12] if compared else [])
    head = ["예산 (budget)", "시작 잔액", "지급액", "기간 끝 잔액", "소진일"]
    lines.append(_cells(head + (["실제 소진일"] if compared else []), widths))
    for b in report["budgets"]:
        live = b["live"] or {}
        row = [b["budget"], _won(b["start"]), _won(b["spent"]), _won(b["end"]), b["ran_out"] or "-"]
        if compared:
            row.append(live.get("ran_out") or "-")
        lines.append(_cells(row, widths))
    t = report["totals"]
    lines.append("")
    if compared:
        lines.append(
            f"합계: 캐시백 {_won(t['cashback'])} (실제 {_won(t['live_cashback'])}), "
            f"수수료 지원 {_won(t['fee_support'])} (실제 {_won(t['live_fee_support'])}), "
            f"차이 {t['difference']:+,}원"
        )
    else:
        lines.append(f"합계: 캐시백 {_won(t['cashback'])}, 수수료 지원 {_won(t['fee_support'])}")
    return "\n".join(lines)


def restrict(report: Mapping[str, Any], rule_ids: Iterable[str]) -> dict[str, Any]:
    """The report with only the rules ``rule_ids`` (an admin's area: live rules of other
    issuers the same payments earned are not its to see), totals recomputed."""
    keep = set(rule_ids)
    rows = [r for r in report["rules"] if r["rule"] in keep]

    def total(kind: str, live: bool) -> int:
        if live:
            return sum((r["live"] or {}).get("paid", 0) for r in rows if r["kind"] == kind)
        return sum(r["paid"] for r in rows if r["kind"] == kind)

    totals = {
        "cashback": total("cashback", False),
        "fee_support": total("fee_support", False),
        "live_cashback": total("cashback", True),
        "live_fee_support": total("fee_support", True),
    }
    totals["difference"] = (
        totals["cashback"]
        + totals["fee_support"]
        - totals["live_cashback"]
        - totals["live_fee_support"]
    )
    return {**report, "rules": rows, "totals": totals}
