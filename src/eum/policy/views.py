"""What each person sees of policy: the issuer tree, rules with their history, budgets.

An issuer admin sees what issuers of its subtree own (and merchant-group budgets whose
merchants all lie in its districts); an operator sees everything; a member sees the
active cashback rules that apply to its card, a merchant the active rules that can pay
in its district. Anything else looks the same as what does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from eum import errors
from eum.auth.model import Principal
from eum.ledger.store import accounts, journal_entries, postings
from eum.merchants import service as merchants
from eum.policy import service as policy
from eum.policy.store import FUNDING_KINDS, budgets, issuers, rules
from eum.wallets import service as wallets
from eum.wallets.views import iso

MAX_LIST = 1000  # rules, budgets or issuers in one answer


def issuer_list(conn: Connection) -> list[dict[str, Any]]:
    """Every issuer with its parent, its own districts and all it covers (SPEC 3.3)."""
    tree = policy.issuer_tree(conn)
    rows = conn.execute(select(issuers.c.id, issuers.c.name).order_by(issuers.c.id).limit(MAX_LIST))
    return [
        {
            "id": r.id,
            "name": r.name,
            "parent": tree.parent[r.id],
            "districts": sorted(tree.districts[r.id]),
            "covers": sorted(tree.covers(r.id)),
        }
        for r in rows
    ]


def _rule_view(row: Any) -> dict[str, Any]:
    return {**policy.rule_spec(row), "seq": row.seq, "created_at": iso(row.created_at)}


def _applying_rule_ids(conn: Connection, p: Principal) -> list[str]:
    """Active rules that can pay for this member's card or at this merchant."""
    cat = policy.catalog(conn)
    if p.role == "member":
        member = wallets.find_member(conn, p.member_id)
        return [
            r.id
            for r in cat.cashback_rules
            if (r.card_issuers is None or member.card_issuer_id in r.card_issuers)
            and (r.card_kinds is None or member.card_kind in r.card_kinds)
        ]
    merchant = merchants.find_merchant(conn, p.merchant_id)
    return [
        r.id
        for r in (*cat.cashback_rules, *cat.fee_support_rules)
        if merchant.district in r.districts
    ]


def _visible_rules(conn: Connection, p: Principal) -> Any:
    query = select(rules)
    if p.role in ("member", "merchant"):
        return query.where(rules.c.id.in_(_applying_rule_ids(conn, p)))
    if p.issuers is not None:
        return query.where(rules.c.owner_id.in_(sorted(p.issuers)))
    return query


def rule_list(conn: Connection, p: Principal, active: bool | None) -> list[dict[str, Any]]:
    """Rules in definition order."""
    query = _visible_rules(conn, p).order_by(rules.c.seq).limit(MAX_LIST)
    if active is not None:
        query = query.where(rules.c.active.is_(active))
    return [_rule_view(r) for r in conn.execute(query)]


def rule(conn: Connection, p: Principal, rule_id: str) -> dict[str, Any]:
    """One rule; staff also get its history (who changed what, when)."""
    row = conn.execute(_visible_rules(conn, p).where(rules.c.id == rule_id)).first()
    if row is None:
        raise errors.UnknownRule(f"no rule {rule_id}", field="rule")
    out = _rule_view(row)
    if p.role in ("issuer_admin", "operator"):
        out["history"] = [
            {**v, "changed_at": iso(v["changed_at"])} for v in policy.rule_history(conn, row.id)
        ]
    return out


def _funded(conn: Connection, account_ids: list[int]) -> dict[int, int]:
    if not account_ids:
        return {}
    rows = conn.execute(
        select(postings.c.account_id, func.sum(postings.c.amount))
        .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
        .where(journal_entries.c.kind.in_(FUNDING_KINDS), postings.c.account_id.in_(account_ids))
        .group_by(postings.c.account_id)
    )
    return {int(a): int(total) for a, total in rows}


def _budget_views(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """remaining = the budget account's balance; spent = what left it net of claw-backs."""
    ids = [r.account_id for r in rows]
    funded = _funded(conn, ids)
    balance = dict(
        conn.execute(select(accounts.c.id, accounts.c.balance).where(accounts.c.id.in_(ids))).all()
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "owner": r.owner_id,
            "owner_kind": r.owner_kind,
            "funded": funded.get(r.account_id, 0),
            "remaining": int(balance[r.account_id]),
            "spent": funded.get(r.account_id, 0) - int(balance[r.account_id]),
            "created_at": iso(r.created_at),
            "closed_at": iso(r.closed_at) if r.closed_at is not None else None,
        }
        for r in rows
    ]


def _visible_budget_rows(conn: Connection, p: Principal, budget_id: str | None) -> list[Any]:
    query = select(budgets).order_by(budgets.c.id).limit(MAX_LIST)
    if budget_id is not None:
        query = query.where(budgets.c.id == budget_id)
    if p.issuers is not None:  # issuer-owned in the subtree, or a merchant group's
        query = query.where(
            (budgets.c.owner_kind != "issuer") | budgets.c.owner_id.in_(sorted(p.issuers))
        )
    rows = conn.execute(query).all()
    return [r for r in rows if policy.owner_in_area(conn, p, r.owner_kind, r.owner_id)]


def budget_list(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    return _budget_views(conn, _visible_budget_rows(conn, p, None))


def budget(conn: Connection, p: Principal, budget_id: str) -> dict[str, Any]:
    rows = _visible_budget_rows(conn, p, budget_id)
    if not rows:
        raise errors.UnknownBudget(f"no budget {budget_id}", field="budget")
    history = conn.execute(
        select(
            journal_entries.c.id, journal_entries.c.kind, journal_entries.c.at, postings.c.amount
        )
        .join(postings, postings.c.entry_id == journal_entries.c.id)
        .where(
            postings.c.account_id == rows[0].account_id, journal_entries.c.kind.in_(FUNDING_KINDS)
        )
        .order_by(journal_entries.c.id)
    )
    return {
        **_budget_views(conn, rows)[0],
        "history": [
            {"entry_id": str(h.id), "kind": h.kind, "at": iso(h.at), "amount": int(h.amount)}
            for h in history
        ],
    }
