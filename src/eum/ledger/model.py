"""Ledger domain types: postings and entries, with the sum-to-zero rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple


class Posting(NamedTuple):
    """A signed amount on one account; an entry's postings sum to zero."""

    account_id: int
    amount_krw: int


class UnbalancedEntry(AssertionError):
    """A programmer error: an entry whose postings do not sum to zero."""


def build_postings(pairs: Iterable[tuple[int, int]]) -> list[Posting]:
    """Merge amounts per account, drop zeros, check the entry balances.

    Postings come out sorted by account id: the order in which balance rows are locked.
    """
    by_account: dict[int, int] = defaultdict(int)
    for account_id, amount in pairs:
        by_account[account_id] += amount
    postings = [Posting(a, v) for a, v in sorted(by_account.items()) if v != 0]
    total = sum(p.amount_krw for p in postings)
    if total != 0:
        raise UnbalancedEntry(f"postings sum to {total}, not 0")
    return postings


def transfer(source: int, target: int, amount_krw: int) -> list[tuple[int, int]]:
    """The two halves of moving ``amount`` from one account to another."""
    return [(source, -amount_krw), (target, amount_krw)]
