"""The benchmark city: the demo's issuers and rule set (three cashback rules and fee
support), 1,000 merchants and 100,000 members with money in their wallets.

Issuers, budgets, rules and merchants go through the same set-up as scenarios. Members
and their opening charges are loaded set-based (a charge entry per member, balanced,
with its charge row and counters), because creating 100,000 members one request at a
time would measure the loader, not the payment path. The ledger verifies afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from eum import bulk, demo
from eum.clock import KST
from eum.db import run_in_transaction
from eum.ledger.service import entry_ids
from eum.ledger.store import accounts, journal_entries, postings
from eum.policy import service as policy
from eum.scenario import apply_setup, fresh_engine, validate
from eum.stats.rollups import Tally
from eum.wallets.store import charge_months, charges, members

OPENING_CHARGE_KRW = 1_000_000
SETUP_AT = datetime(2026, 11, 1, 9, 0, tzinfo=KST)


@dataclass
class City:
    engine: Engine
    members: list[str]
    merchants: list[str]
    hot_merchant: str  # a Gyeyang Benefit Plus merchant: every rule and budget applies


def document(merchants_n: int, seed: int = 7) -> dict[str, Any]:
    doc = demo.setup_document(random.Random(seed), merchants_n, 20)
    for budget in doc["budgets"]:
        budget["amount"] = 10**13  # budgets must not run out during a benchmark
    for key in ("members", "groups", "campaigns"):
        doc[key] = []
    return doc


def load_members(engine: Engine, count: int, seed: int = 7, chunk: int = 20_000) -> list[str]:
    """Members with one card each and ``OPENING_CHARGE_KRW`` charged, set-based."""
    rng = random.Random(seed)
    with engine.connect() as conn:
        issuers = sorted(policy.issuer_tree(conn).parent)
    ids = [f"b-{i:06d}" for i in range(count)]
    for start in range(0, count, chunk):
        part = ids[start : start + chunk]
        cards = [rng.choice(issuers) for _ in part]
        run_in_transaction(engine, _load_chunk, part, cards)
    return ids


def _load_chunk(conn: Any, ids: list[str], cards: list[str]) -> None:
    codes = [(f"member:{m}:cashback", f"member:{m}:charged") for m in ids]
    bulk.insert_rows(
        conn,
        accounts,
        ("code", "kind", "balance", "allow_negative"),
        [
            row
            for cb, ch in codes
            for row in ((cb, "cashback", 0, False), (ch, "charged", 0, False))
        ],
    )
    wanted = [c for pair in codes for c in pair]
    found: dict[str, int] = {}
    for part in bulk.chunks(wanted):
        rows = conn.execute(
            select(accounts.c.code, accounts.c.id).where(bulk.any_of(conn, accounts.c.code, part))
        )
        found.update((r.code, r.id) for r in rows)
    bank = conn.execute(select(accounts.c.id).where(accounts.c.code == "external:bank")).scalar()
    month = SETUP_AT.strftime("%Y-%m")
    member_rows, entry_rows, posting_rows, charge_rows, month_rows, moved = [], [], [], [], [], []
    tally = Tally()
    for m, card, (cb, ch) in zip(ids, cards, codes, strict=True):
        entry = entry_ids.next()
        member_rows.append(
            (m, card, "personal", found[cb], found[ch], OPENING_CHARGE_KRW, 0, SETUP_AT)
        )
        posting_rows += [(entry, bank, -OPENING_CHARGE_KRW), (entry, found[ch], OPENING_CHARGE_KRW)]
        entry_rows.append((entry, "charge", SETUP_AT, m))
        charge_rows.append((entry, m, OPENING_CHARGE_KRW, SETUP_AT))
        month_rows.append((m, month, OPENING_CHARGE_KRW))
        moved.append((found[ch], OPENING_CHARGE_KRW))
        tally.joined(card_issuer_id=card, at=SETUP_AT)
        tally.charged(card_issuer_id=card, at=SETUP_AT, amount=OPENING_CHARGE_KRW)
    bulk.insert_rows(
        conn,
        members,
        (
            "id",
            "card_issuer_id",
            "card_kind",
            "cashback_account_id",
            "charged_account_id",
            "charged_total",
            "spent_net",
            "created_at",
        ),
        member_rows,
    )
    bulk.insert_rows(conn, postings, ("entry_id", "account_id", "amount"), posting_rows)
    bulk.insert_rows(conn, journal_entries, ("id", "kind", "at", "ref"), entry_rows)
    bulk.insert_rows(conn, charges, ("id", "member_id", "amount", "at"), charge_rows)
    bulk.insert_rows(conn, charge_months, ("member_id", "month", "charged"), month_rows)
    bulk.add_to_column(conn, accounts, "id", "balance", sorted(moved))
    bulk.add_to_column(conn, accounts, "id", "balance", [(bank, -OPENING_CHARGE_KRW * len(ids))])
    tally.flush(conn)


@contextmanager
def city(database: str | None, members_n: int, merchants_n: int) -> Iterator[City]:
    """A fresh database (temporary SQLite file, or a schema of its own on PostgreSQL)
    holding the benchmark city."""
    with fresh_engine(database) as engine:
        doc = document(merchants_n)
        scenario = validate({**doc, "events": []})
        run_in_transaction(engine, apply_setup, scenario.setup)
        ids = load_members(engine, members_n)
        merchants = [m["id"] for m in doc["merchants"]]
        hot = next(
            m["id"]
            for m in doc["merchants"]
            if m["district"] == "gyeyang" and m.get("tier") == "benefit_plus"
        )
        _analyze(engine)
        yield City(engine, ids, merchants, hot)


def _analyze(engine: Engine) -> None:
    """Fresh statistics, as a running database would have them."""
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
