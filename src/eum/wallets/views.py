"""What a member sees of its own wallet: balances, this month's cashback per rule and
the cap left, each rule's rate today and its changes announced in advance, and a history
of everything that moved its money."""

from __future__ import annotations

import heapq
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from eum.clock import as_kst, kst_day, kst_month
from eum.community.store import contributions, donations
from eum.money.model import Rule
from eum.money.refunds import current
from eum.payments.store import payment_lines, payments, refunds
from eum.policy import service as policy
from eum.policy.store import cap_usage, rules
from eum.wallets import service as wallets
from eum.wallets.store import charges, withdrawals


def iso(at: datetime) -> str:
    """Times go out in ISO 8601 with the KST offset (+09:00)."""
    return as_kst(at).isoformat()


def upcoming(rule: Rule, today: date) -> list[dict[str, Any]]:
    """A rule's scheduled rate changes not begun yet, each with the rate it replaces."""
    out = []
    before = rule.rate_on(today)
    for day, rate_bps in rule.steps_after(today):
        out.append({"from": day.isoformat(), "rate_bps": rate_bps, "before_bps": before})
        before = rate_bps
    return out


def overview(conn: Connection, member_id: str | None, at: datetime) -> dict[str, Any]:
    member = wallets.find_member(conn, member_id)
    held = wallets.wallet(conn, member.id)
    month = kst_month(at)
    cat = policy.catalog(conn)
    used = {
        r.rule_id: int(r.used)
        for r in conn.execute(
            select(cap_usage.c.rule_id, cap_usage.c.used).where(
                cap_usage.c.member_id == member.id, cap_usage.c.month == month
            )
        )
    }
    earned: dict[str, int] = {}
    rows = conn.execute(
        select(
            payment_lines.c.rule_id, payment_lines.c.amount, payments.c.charged, payments.c.refunded
        )
        .join(payments, payments.c.id == payment_lines.c.payment_id)
        .where(
            payments.c.member_id == member.id,
            payments.c.month == month,
            payment_lines.c.kind == "cashback",
        )
    )
    for r in rows:
        earned[r.rule_id] = earned.get(r.rule_id, 0) + current(r.amount, r.charged, r.refunded)
    names = {r.id: r.name for r in conn.execute(select(rules.c.id, rules.c.name))}
    per_rule = []
    today = kst_day(at)
    for rule in cat.cashback_rules:
        if rule.card_issuers is not None and member.card_issuer_id not in rule.card_issuers:
            continue
        if rule.card_kinds is not None and member.card_kind not in rule.card_kinds:
            continue
        cap = rule.monthly_cap_krw
        per_rule.append(
            {
                "rule": rule.id,
                "name": names.get(rule.id),
                "rate_bps": rule.rate_on(today),
                "changes": upcoming(rule, today),
                "cashback_this_month": earned.get(rule.id, 0),
                "monthly_cap": cap,
                "cap_used": used.get(rule.id, 0),
                "cap_left": None if cap is None else max(0, cap - used.get(rule.id, 0)),
            }
        )
    return {
        "member": member.id,
        "card": member.card_issuer_id,
        "card_kind": member.card_kind,
        "cashback": held.cashback_krw,
        "charged": held.charged_krw,
        "total": held.total_krw,
        "month": month,
        "cashback_this_month": sum(earned.values()),
        "rules": per_rule,
    }


MAX_HISTORY = 100


def history(
    conn: Connection, member_id: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, across charges, payments, refunds, withdrawals and donations."""
    member = wallets.find_member(conn, member_id)
    limit = min(limit, MAX_HISTORY)
    before = int(cursor) if cursor and cursor.isdigit() else None

    def q(table: Any, kind: str, cols: list[Any], where: Any) -> list[dict[str, Any]]:
        query = (
            select(table.c.id, table.c.at, *cols)
            .where(where)
            .order_by(table.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(table.c.id < before)
        return [{"kind": kind, **r._mapping} for r in conn.execute(query)]

    streams = [
        q(charges, "charge", [charges.c.amount], charges.c.member_id == member.id),
        q(withdrawals, "withdrawal", [withdrawals.c.amount], withdrawals.c.member_id == member.id),
        q(
            payments,
            "payment",
            [
                payments.c.amount,
                payments.c.charged,
                payments.c.refunded,
                payments.c.status,
                payments.c.merchant_id,
                payments.c.discount,
                payments.c.coupon_off,
                payments.c.from_cashback,
            ],
            payments.c.member_id == member.id,
        ),
        q(
            donations,
            "donation",
            [donations.c.amount, donations.c.campaign_id],
            donations.c.member_id == member.id,
        ),
        q(
            contributions,
            "contribution",
            [contributions.c.amount, contributions.c.group_id],
            contributions.c.member_id == member.id,
        ),
        q(
            refunds,
            "refund",
            [refunds.c.amount, refunds.c.payment_id],
            refunds.c.payment_id.in_(
                select(payments.c.id).where(payments.c.member_id == member.id)
            ),
        ),
    ]
    merged = list(heapq.merge(*streams, key=lambda r: -r["id"]))[: limit + 1]
    page, more = merged[:limit], len(merged) > limit
    items = [
        {
            **r,
            "id": str(r["id"]),
            "at": iso(r["at"]),
            **({"payment_id": str(r["payment_id"])} if "payment_id" in r else {}),
        }
        for r in page
    ]
    return items, (str(page[-1]["id"]) if more and page else None)
