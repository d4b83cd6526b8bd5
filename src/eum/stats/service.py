"""Platform state and totals: what the scenario runner prints and the totals page shows.

Current values of a payment's derived quantities are recomputed from the values as
paid and the refunds so far (SPEC 3.9), never stored twice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, select

from eum.community.store import campaigns, donations, user_groups
from eum.ledger import service as ledger
from eum.ledger.store import accounts
from eum.merchants.store import merchants
from eum.money.refunds import current
from eum.payments.store import payment_lines, payments
from eum.policy.store import budgets
from eum.stats.store import card_months, payment_months
from eum.wallets.store import charges, members, withdrawals


def _balances(conn: Connection) -> dict[int, int]:
    return {r.id: r.balance for r in conn.execute(select(accounts.c.id, accounts.c.balance))}


def _sum(conn: Connection, column: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(column), 0))).scalar_one())


def payment_views(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every payment by its reference (or id), with current values after refunds."""
    lines: dict[int, list[Any]] = defaultdict(list)
    for ln in conn.execute(
        select(payment_lines).order_by(payment_lines.c.payment_id, payment_lines.c.seq)
    ):
        lines[ln.payment_id].append(ln)
    out: dict[str, dict[str, Any]] = {}
    for p in conn.execute(select(payments).order_by(payments.c.id)):

        def now(x: int, p: Any = p) -> int:
            return current(x, p.charged, p.refunded)

        out[p.ref or str(p.id)] = {
            "amount": p.amount,
            "discount": p.discount,
            "coupon_off": p.coupon_off,
            "charged": p.charged,
            "refunded": p.refunded,
            "status": p.status,
            "from_cashback": now(p.from_cashback),
            "cashback": {ln.rule_id: now(ln.amount) for ln in lines[p.id] if ln.kind == "cashback"},
            "fee": now(p.fee),
            "fee_support": {
                ln.rule_id: now(ln.amount) for ln in lines[p.id] if ln.kind == "fee_support"
            },
        }
    return out


def platform_state(conn: Connection) -> dict[str, Any]:
    """The whole platform's state in the scenario output format."""
    bal = _balances(conn)
    member_rows = conn.execute(select(members).order_by(members.c.id)).all()
    merchant_rows = conn.execute(select(merchants).order_by(merchants.c.id)).all()
    pays = payment_views(conn)
    verification = ledger.verify(conn)
    return {
        "members": {
            m.id: {"cashback": bal[m.cashback_account_id], "charged": bal[m.charged_account_id]}
            for m in member_rows
        },
        "merchants": {
            m.id: {"receivable": bal[m.receivable_account_id], "settled": bal[m.payout_account_id]}
            for m in merchant_rows
        },
        "budgets": {
            b.id: {"remaining": bal[b.account_id]}
            for b in conn.execute(select(budgets).order_by(budgets.c.id))
        },
        "payments": pays,
        "groups": {
            g.id: {"pool": bal[g.pool_account_id]}
            for g in conn.execute(select(user_groups).order_by(user_groups.c.id))
        },
        "campaigns": {
            c.id: {"donated": bal[c.account_id]}
            for c in conn.execute(select(campaigns).order_by(campaigns.c.id))
        },
        "totals": {
            "members": len(member_rows),
            "issued": _sum(conn, charges.c.amount),
            "withdrawn": _sum(conn, withdrawals.c.amount),
            "paid": sum(p["charged"] - p["refunded"] for p in pays.values()),
            "cashback": sum(sum(p["cashback"].values()) for p in pays.values()),
            "fee": sum(p["fee"] for p in pays.values()),
            "fee_support": sum(sum(p["fee_support"].values()) for p in pays.values()),
            "donated": _sum(conn, donations.c.amount),
            "settled": sum(bal[m.payout_account_id] for m in merchant_rows),
        },
        "ledger": {"balanced": verification.ok},
    }


def totals(conn: Connection) -> dict[str, int]:
    """Platform totals for pages and health checks, from the dashboard counters where a
    scan would grow with every payment."""
    count, paid = conn.execute(
        select(
            func.coalesce(func.sum(payment_months.c.payments), 0),
            func.coalesce(func.sum(payment_months.c.paid), 0),
        )
    ).one()
    joined, issued = conn.execute(
        select(
            func.coalesce(func.sum(card_months.c.joined), 0),
            func.coalesce(func.sum(card_months.c.issued), 0),
        )
    ).one()
    return {
        "members": int(joined),
        "merchants": int(conn.execute(select(func.count()).select_from(merchants)).scalar_one()),
        "payments": int(count),
        "issued": int(issued),
        "withdrawn": _sum(conn, withdrawals.c.amount),
        "paid": int(paid),
        "donated": _sum(conn, donations.c.amount),
    }
