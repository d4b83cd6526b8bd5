"""Use cases of the community: donation campaigns (SPEC 3.13) and user groups (3.14)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from eum import errors
from eum.audit import service as audit
from eum.auth.model import Principal
from eum.community.store import campaigns, contributions, donations, user_group_members, user_groups
from eum.ledger import service as ledger
from eum.merchants.service import _name
from eum.money.rules import is_valid_amount
from eum.policy.service import _check_id
from eum.policy.store import issuers
from eum.stats.rollups import Tally
from eum.wallets import service as wallets


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    owner_id: str
    pool_account_id: int


def create_campaign(conn: Connection, *, id: str, name: str, owner: str, at: datetime) -> None:
    """A donation campaign run by an issuer."""
    _check_id(id, "id")
    if conn.execute(select(campaigns.c.id).where(campaigns.c.id == id)).first():
        raise errors.AlreadyExists(f"campaign {id} exists", field="id")
    if not conn.execute(select(issuers.c.id).where(issuers.c.id == owner)).first():
        raise errors.UnknownIssuer(f"no issuer {owner}", field="owner")
    account = ledger.open_account(conn, f"campaign:{id}", "campaign")
    conn.execute(
        insert(campaigns).values(
            id=id, name=_name(name), owner_id=owner, account_id=account, created_at=at
        )
    )


def _campaign_account(conn: Connection, campaign_id: object) -> int:
    if not isinstance(campaign_id, str):
        raise errors.UnknownCampaign(field="campaign")
    row = conn.execute(select(campaigns.c.account_id).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise errors.UnknownCampaign(f"no campaign {campaign_id}", field="campaign")
    return int(row.account_id)


def create_group(
    conn: Connection, *, id: str, name: str, owner: str, members: Iterable[str], at: datetime
) -> Group:
    """A user group (club, association); its owner is always a member (SPEC 3.14)."""
    _check_id(id, "id")
    if conn.execute(select(user_groups.c.id).where(user_groups.c.id == id)).first():
        raise errors.AlreadyExists(f"group {id} exists", field="id")
    wallets.find_member(conn, owner)
    everyone = sorted({owner, *members})
    for member_id in everyone:
        wallets.find_member(conn, member_id)
    pool = ledger.open_account(conn, f"group:{id}:pool", "pool")
    conn.execute(
        insert(user_groups).values(
            id=id, name=_name(name), owner_id=owner, pool_account_id=pool, created_at=at
        )
    )
    conn.execute(insert(user_group_members), [{"group_id": id, "member_id": m} for m in everyone])
    return Group(id, name, owner, pool)


def join_group(conn: Connection, *, group_id: str, member_id: str) -> None:
    group = find_group(conn, group_id)
    wallets.find_member(conn, member_id)
    if not is_group_member(conn, group.id, member_id):
        conn.execute(insert(user_group_members).values(group_id=group.id, member_id=member_id))


def find_group(conn: Connection, group_id: object) -> Group:
    if not isinstance(group_id, str):
        raise errors.UnknownGroup(field="group")
    row = conn.execute(select(user_groups).where(user_groups.c.id == group_id)).first()
    if row is None:
        raise errors.UnknownGroup(f"no group {group_id}", field="group")
    return Group(row.id, row.name, row.owner_id, row.pool_account_id)


def is_group_member(conn: Connection, group_id: str, member_id: str) -> bool:
    return (
        conn.execute(
            select(user_group_members.c.member_id).where(
                user_group_members.c.group_id == group_id,
                user_group_members.c.member_id == member_id,
            )
        ).first()
        is not None
    )


def donate(
    conn: Connection, *, member_id: object, campaign_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """A member donates from its cashback, never from charged money (SPEC 3.13)."""
    member = wallets.find_member(conn, member_id)
    campaign = _campaign_account(conn, campaign_id)
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    held, _ = wallets.lock_wallet(conn, member, campaign)
    if held.cashback_krw < amount_krw:
        raise errors.InsufficientCashback(field="amount")
    entry = ledger.post(
        conn,
        "donate",
        at,
        [(member.cashback_account_id, -amount_krw), (campaign, amount_krw)],
        ref=member.id,
    )
    conn.execute(
        insert(donations).values(
            id=entry, campaign_id=campaign_id, member_id=member.id, amount=amount_krw, at=at
        )
    )
    _count_donation(conn, member.card_issuer_id, at, amount_krw)
    return {"donation_id": str(entry), "campaign": campaign_id, "amount": amount_krw}


def group_donate(
    conn: Connection,
    *,
    group_id: object,
    by_member_id: object,
    campaign_id: object,
    amount_krw: object,
    at: datetime,
) -> dict[str, Any]:
    """A group's owner donates from the pool in the group's name (SPEC 3.13, 3.14)."""
    group = find_group(conn, group_id)
    by = wallets.find_member(conn, by_member_id)
    campaign = _campaign_account(conn, campaign_id)
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if by.id != group.owner_id:
        raise errors.NotGroupOwner(field="by")
    locked = ledger.lock_balances(conn, [group.pool_account_id, campaign])
    if locked[group.pool_account_id] < amount_krw:
        raise errors.InsufficientFunds(field="amount")
    entry = ledger.post(
        conn,
        "donate",
        at,
        [(group.pool_account_id, -amount_krw), (campaign, amount_krw)],
        ref=group.id,
    )
    conn.execute(
        insert(donations).values(
            id=entry, campaign_id=campaign_id, group_id=group.id, amount=amount_krw, at=at
        )
    )
    _count_donation(conn, by.card_issuer_id, at, amount_krw)  # by is the owner
    return {"donation_id": str(entry), "campaign": campaign_id, "amount": amount_krw}


def _count_donation(conn: Connection, card_issuer_id: str, at: datetime, amount: int) -> None:
    tally = Tally()
    tally.donated(card_issuer_id=card_issuer_id, at=at, amount=amount)
    tally.flush(conn)


def contribute(
    conn: Connection, *, member_id: object, group_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """A member moves cashback into its group's pool (SPEC 3.14)."""
    member = wallets.find_member(conn, member_id)
    group = find_group(conn, group_id)
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if not is_group_member(conn, group.id, member.id):
        raise errors.NotGroupMember(field="member")
    held, _ = wallets.lock_wallet(conn, member, group.pool_account_id)
    if held.cashback_krw < amount_krw:
        raise errors.InsufficientCashback(field="amount")
    entry = ledger.post(
        conn,
        "contribute",
        at,
        [(member.cashback_account_id, -amount_krw), (group.pool_account_id, amount_krw)],
        ref=group.id,
    )
    conn.execute(
        insert(contributions).values(
            id=entry, group_id=group.id, member_id=member.id, amount=amount_krw, at=at
        )
    )
    return {"contribution_id": str(entry), "group": group.id, "amount": amount_krw}


# --- the same use cases started by a person through an entry point ----------------------

GROUP_ID_BYTES = 6
MAX_GROUP_MEMBERS_AT_START = 100


def create_campaign_as(
    conn: Connection, *, id: str, name: str, owner: str, by: Principal, at: datetime
) -> None:
    """An issuer admin (for an owner in its subtree) or an operator opens a campaign."""
    if not by.sees_issuer(owner):
        raise errors.Forbidden(f"issuer {owner} is outside your area", field="owner")
    create_campaign(conn, id=id, name=name, owner=owner, at=at)
    audit.record(
        conn,
        at=at,
        actor_id=by.user_id,
        actor_role=by.role,
        action="campaign.create",
        target=f"campaign:{id}",
        issuer_id=owner,
        detail={"by": by.login, "name": name},
    )


def start_group(
    conn: Connection,
    *,
    owner: str,
    name: str,
    members: Iterable[str],
    at: datetime,
    id: str | None = None,
) -> Group:
    """A member starts a user group and owns it; without an id one is made up."""
    others = sorted(set(members))
    if len(others) > MAX_GROUP_MEMBERS_AT_START:
        raise errors.InvalidRequest(
            f"at most {MAX_GROUP_MEMBERS_AT_START} members at the start", field="members"
        )
    group_id = id if id is not None else "g-" + secrets.token_hex(GROUP_ID_BYTES)
    return create_group(conn, id=group_id, name=name, owner=owner, members=others, at=at)
