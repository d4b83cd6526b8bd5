"""Ledger use cases: open accounts, post entries, read balances, verify the books."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from eum import bulk
from eum.ledger.model import Posting, UnbalancedEntry, build_postings
from eum.ledger.store import accounts, journal_entries, postings

_EPOCH_MS = 1_700_000_000_000


class _EntryIds:
    """Entry ids: milliseconds, a per-process node number and a counter, no DB sequence.

    Ids grow with time, so entries sort by when they were written, and no single hot
    sequence row is shared by every writer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._node = (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0x3FF
        self._last_ms = 0
        self._seq = 0

    def next(self) -> int:
        with self._lock:
            now = int(time.time() * 1000) - _EPOCH_MS
            if now <= self._last_ms:
                self._seq += 1
                if self._seq >= 4096:
                    self._last_ms += 1
                    self._seq = 0
                now = self._last_ms
            else:
                self._last_ms, self._seq = now, 0
            return (now << 22) | (self._node << 12) | self._seq


entry_ids = _EntryIds()


def open_account(conn: Connection, code: str, kind: str, *, allow_negative: bool = False) -> int:
    """Create an account with a zero balance and return its id."""
    result = conn.execute(
        insert(accounts).values(code=code, kind=kind, balance=0, allow_negative=allow_negative)
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def account_id(conn: Connection, code: str) -> int | None:
    return conn.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar()


def lock_balances(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """Read balances and lock their rows (PostgreSQL) in ascending id order."""
    ids = sorted(set(account_ids))
    found: dict[int, int] = {}
    for chunk in bulk.chunks(ids):  # ascending chunks keep the locking order
        query = (
            select(accounts.c.id, accounts.c.balance)
            .where(bulk.any_of(conn, accounts.c.id, chunk))
            .order_by(accounts.c.id)
            .with_for_update()
        )
        found.update((row.id, row.balance) for row in conn.execute(query))
    return found


def balances(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(account_ids))
    query = select(accounts.c.id, accounts.c.balance).where(accounts.c.id.in_(ids))
    return {row.id: row.balance for row in conn.execute(query)}


def post(
    conn: Connection,
    kind: str,
    at: datetime,
    pairs: Iterable[tuple[int, int]],
    *,
    ref: str | None = None,
    entry_id: int | None = None,
) -> int | None:
    """Write one balanced entry and move the balance rows with it.

    Returns the entry id, or None when every posting nets to zero (nothing moved).
    """
    lines = build_postings(pairs)
    if not lines:
        return None
    assert sum(p.amount_krw for p in lines) == 0
    if entry_id is None:
        entry_id = entry_ids.next()
    conn.execute(
        insert(postings),
        [{"entry_id": entry_id, "account_id": p.account_id, "amount": p.amount_krw} for p in lines],
    )
    conn.execute(insert(journal_entries), {"id": entry_id, "kind": kind, "at": at, "ref": ref})
    _move_balances(conn, lines)
    return entry_id


_MOVE_BALANCE = (
    update(accounts)
    .where(accounts.c.id == bindparam("aid"))
    .values(balance=accounts.c.balance + bindparam("delta"))
)


def _move_balances(conn: Connection, lines: Sequence[Posting]) -> None:
    # lines are sorted by account id: rows are locked in a fixed order.
    conn.execute(_MOVE_BALANCE, [{"aid": p.account_id, "delta": p.amount_krw} for p in lines])


@dataclass
class Verification:
    """The result of recomputing the books from the postings."""

    accounts_checked: int = 0
    entries_checked: int = 0
    postings_total_krw: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.postings_total_krw == 0


def verify(conn: Connection) -> Verification:
    """Recompute every balance from the postings and check that the ledger sums to zero."""
    result = Verification()
    sums = dict(
        conn.execute(
            select(postings.c.account_id, func.sum(postings.c.amount)).group_by(
                postings.c.account_id
            )
        ).all()
    )
    for row in conn.execute(
        select(accounts.c.id, accounts.c.code, accounts.c.balance, accounts.c.allow_negative)
    ):
        result.accounts_checked += 1
        derived = int(sums.get(row.id) or 0)
        if derived != row.balance:
            result.mismatches.append(
                f"account {row.code}: balance {row.balance} but postings sum to {derived}"
            )
        if not row.allow_negative and row.balance < 0:
            result.mismatches.append(f"account {row.code}: negative balance {row.balance}")
    result.postings_total_krw = int(
        conn.execute(select(func.coalesce(func.sum(postings.c.amount), 0))).scalar_one()
    )
    if result.postings_total_krw != 0:
        result.mismatches.append(f"postings sum to {result.postings_total_krw}, not 0")
    unbalanced = conn.execute(
        select(postings.c.entry_id, func.sum(postings.c.amount))
        .group_by(postings.c.entry_id)
        .having(func.sum(postings.c.amount) != 0)
    ).all()
    for entry_id, total in unbalanced:
        result.mismatches.append(f"entry {entry_id}: postings sum to {total}")
    orphans = conn.execute(
        select(func.count())
        .select_from(postings)
        .where(~postings.c.entry_id.in_(select(journal_entries.c.id)))
    ).scalar_one()
    if orphans:
        result.mismatches.append(f"{orphans} postings belong to no entry")
    result.entries_checked = int(
        conn.execute(select(func.count()).select_from(journal_entries)).scalar_one()
    )
    return result


__all__ = [
    "UnbalancedEntry",
    "Verification",
    "account_id",
    "balances",
    "lock_balances",
    "open_account",
    "post",
    "verify",
]
