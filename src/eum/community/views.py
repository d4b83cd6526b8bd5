"""What each person sees of the community: campaigns with what they raised, and a
member's own user groups with their pool and members (a group is visible to its
members only; to anyone else it looks the same as one that does not exist)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from eum import errors
from eum.auth.model import Principal
from eum.community.store import campaigns, user_group_members, user_groups
from eum.ledger.store import accounts
from eum.policy import service as policy
from eum.wallets import service as wallets
from eum.wallets.views import iso

MAX_LIST = 500  # campaigns or groups in one answer


def campaign_list(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    """Admins see their subtree's campaigns; members those of their card's metro region."""
    query = (
        select(campaigns, accounts.c.balance)
        .join(accounts, accounts.c.id == campaigns.c.account_id)
        .order_by(campaigns.c.id)
        .limit(MAX_LIST)
    )
    if p.issuers is not None:
        query = query.where(campaigns.c.owner_id.in_(sorted(p.issuers)))
    elif p.role == "member":
        tree = policy.catalog(conn).issuers
        root = tree.root(wallets.find_member(conn, p.member_id).card_issuer_id)
        query = query.where(campaigns.c.owner_id.in_(sorted(tree.subtree(root))))
    return [
        {
            "id": r.id,
            "name": r.name,
            "owner": r.owner_id,
            "donated": int(r.balance),
            "created_at": iso(r.created_at),
        }
        for r in conn.execute(query)
    ]


def _group_views(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    members: dict[str, list[str]] = {i: [] for i in ids}
    for m in conn.execute(
        select(user_group_members)
        .where(user_group_members.c.group_id.in_(ids))
        .order_by(user_group_members.c.member_id)
    ):
        members[m.group_id].append(m.member_id)
    return [
        {
            "id": r.id,
            "name": r.name,
            "owner": r.owner_id,
            "pool": int(r.balance),
            "members": members[r.id],
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]


def _groups_of(member_id: str | None) -> Any:
    mine = select(user_group_members.c.group_id).where(user_group_members.c.member_id == member_id)
    return (
        select(user_groups, accounts.c.balance)
        .join(accounts, accounts.c.id == user_groups.c.pool_account_id)
        .where(user_groups.c.id.in_(mine))
    )


def my_groups(conn: Connection, member_id: str | None) -> list[dict[str, Any]]:
    rows = conn.execute(_groups_of(member_id).order_by(user_groups.c.id).limit(MAX_LIST)).all()
    return _group_views(conn, list(rows))


def group(conn: Connection, member_id: str | None, group_id: str) -> dict[str, Any]:
    row = conn.execute(_groups_of(member_id).where(user_groups.c.id == group_id)).first()
    if row is None:
        raise errors.UnknownGroup(f"no group {group_id}", field="group")
    return _group_views(conn, [row])[0]
