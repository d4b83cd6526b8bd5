"""Use cases of members and wallets: sign-up, charge (SPEC 3.5), withdraw (SPEC 3.11)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from eum import errors
from eum.clock import kst_month
from eum.ledger import service as ledger
from eum.money.model import BPS, CARD_KINDS, CardKind
from eum.money.rules import is_valid_amount
from eum.policy import service as policy
from eum.policy.store import issuers
from eum.stats.rollups import Tally
from eum.wallets.store import charge_months, charges, members, withdrawals

BANK_ACCOUNT = "external:bank"  # money arriving from and leaving to members' banks


@dataclass(frozen=True)
class Member:
    id: str
    card_issuer_id: str
    card_kind: CardKind
    cashback_account_id: int
    charged_account_id: int
    charged_total_krw: int
    spent_net_krw: int


@dataclass(frozen=True)
class Wallet:
    cashback_krw: int
    charged_krw: int

    @property
    def total_krw(self) -> int:
        return self.cashback_krw + self.charged_krw


def external_account(conn: Connection, code: str) -> int:
    """The id of a platform-level account (opened by the first migration)."""
    return policy.catalog(conn).external_accounts[code]


def create_member(
    conn: Connection,
    *,
    id: str,
    card_issuer_id: str,
    at: datetime,
    card_kind: str = "personal",
    name: str | None = None,
    home_district: str | None = None,
) -> Member:
    """Sign a member up with one card of one issuer (its brand) and one kind (SPEC 3.3)."""
    policy._check_id(id, "id")
    if conn.execute(select(members.c.id).where(members.c.id == id)).first():
        raise errors.AlreadyExists(f"member {id} exists", field="id")
    if card_kind not in CARD_KINDS:
        raise errors.InvalidRequest(
            "card kind must be personal, business or corporate", field="kind"
        )
    if not conn.execute(select(issuers.c.id).where(issuers.c.id == card_issuer_id)).first():
        raise errors.UnknownIssuer(f"no issuer {card_issuer_id}", field="card")
    cashback = ledger.open_account(conn, f"member:{id}:cashback", "cashback")
    charged = ledger.open_account(conn, f"member:{id}:charged", "charged")
    conn.execute(
        insert(members).values(
            id=id,
            name=name,
            card_issuer_id=card_issuer_id,
            card_kind=card_kind,
            home_district=home_district,
            cashback_account_id=cashback,
            charged_account_id=charged,
            charged_total=0,
            spent_net=0,
            created_at=at,
        )
    )
    tally = Tally()
    tally.joined(card_issuer_id=card_issuer_id, at=at)
    tally.flush(conn)
    return Member(id, card_issuer_id, card_kind, cashback, charged, 0, 0)


def find_member(conn: Connection, member_id: object) -> Member:
    if not isinstance(member_id, str):
        raise errors.UnknownMember(field="member")
    row = conn.execute(select(members).where(members.c.id == member_id)).first()
    if row is None:
        raise errors.UnknownMember(f"no member {member_id}", field="member")
    return member_from_row(row)


def member_from_row(row: Any) -> Member:
    return Member(
        row.id,
        row.card_issuer_id,
        row.card_kind,
        row.cashback_account_id,
        row.charged_account_id,
        row.charged_total,
        row.spent_net,
    )


def lock_wallet(conn: Connection, member: Member, *extra: int) -> tuple[Wallet, dict[int, int]]:
    """Lock the wallet's balance rows (and ``extra`` accounts) in id order and read them."""
    locked = ledger.lock_balances(
        conn, [member.cashback_account_id, member.charged_account_id, *extra]
    )
    wallet = Wallet(locked[member.cashback_account_id], locked[member.charged_account_id])
    return wallet, locked


def wallet(conn: Connection, member_id: str) -> Wallet:
    member = find_member(conn, member_id)
    got = ledger.balances(conn, [member.cashback_account_id, member.charged_account_id])
    return Wallet(got[member.cashback_account_id], got[member.charged_account_id])


def _month_charged(conn: Connection, member_id: str, month: str) -> int:
    row = conn.execute(
        select(charge_months.c.charged).where(
            charge_months.c.member_id == member_id, charge_months.c.month == month
        )
    ).first()
    return 0 if row is None else int(row.charged)


def charge(
    conn: Connection, *, member_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """Charge a wallet from the member's bank: adds to ``charged``, counts as issuance."""
    member = find_member(conn, member_id)
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    cat = policy.catalog(conn)
    limits = cat.platform.limits_for(member.card_kind)
    bank = cat.external_accounts[BANK_ACCOUNT]
    held, _ = lock_wallet(conn, member)  # the wallet's lock also guards its month counter
    month = kst_month(at)
    month_total = _month_charged(conn, member.id, month) + amount_krw
    if limits.monthly_charge_krw is not None and month_total > limits.monthly_charge_krw:
        raise errors.MonthlyChargeLimit(field="amount")
    if limits.max_balance_krw is not None and held.total_krw + amount_krw > limits.max_balance_krw:
        raise errors.MaxBalance(field="amount")
    entry = ledger.post(
        conn,
        "charge",
        at,
        [(bank, -amount_krw), (member.charged_account_id, amount_krw)],
        ref=member.id,
    )
    assert entry is not None
    conn.execute(
        insert(charges), {"id": entry, "member_id": member.id, "amount": amount_krw, "at": at}
    )
    _bump_month(conn, member.id, month, amount_krw, first=month_total == amount_krw)
    conn.execute(
        update(members)
        .where(members.c.id == member.id)
        .values(charged_total=members.c.charged_total + amount_krw)
    )
    tally = Tally()
    tally.charged(card_issuer_id=member.card_issuer_id, at=at, amount=amount_krw)
    tally.flush(conn)
    return {"charge_id": str(entry), "member": member.id, "amount": amount_krw}


def _bump_month(conn: Connection, member_id: str, month: str, amount: int, *, first: bool) -> None:
    if (
        first
        and not conn.execute(
            select(charge_months.c.member_id).where(
                charge_months.c.member_id == member_id, charge_months.c.month == month
            )
        ).first()
    ):
        conn.execute(insert(charge_months).values(member_id=member_id, month=month, charged=amount))
        return
    conn.execute(
        update(charge_months)
        .where(charge_months.c.member_id == member_id, charge_months.c.month == month)
        .values(charged=charge_months.c.charged + amount)
    )


def withdraw(
    conn: Connection, *, member_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """Pay charged money back to the member's bank, once enough of it was spent (SPEC 3.11)."""
    member = find_member(conn, member_id)
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    cat = policy.catalog(conn)
    bank = cat.external_accounts[BANK_ACCOUNT]
    held, _ = lock_wallet(conn, member)
    if amount_krw > held.charged_krw:
        raise errors.InsufficientFunds(field="amount")
    member = find_member(conn, member.id)  # counters as of the lock
    required_bps = cat.platform.withdraw_min_used_bps
    if member.spent_net_krw * BPS < required_bps * member.charged_total_krw:
        raise errors.WithdrawalNotAllowed(field="amount")
    entry = ledger.post(
        conn,
        "withdraw",
        at,
        [(member.charged_account_id, -amount_krw), (bank, amount_krw)],
        ref=member.id,
    )
    assert entry is not None
    conn.execute(
        insert(withdrawals).values(id=entry, member_id=member.id, amount=amount_krw, at=at)
    )
    return {"withdrawal_id": str(entry), "member": member.id, "amount": amount_krw}
