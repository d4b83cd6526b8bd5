"""The database itself keeps the ledger honest: it refuses unbalanced entries, postings
added to a sealed entry, edits and deletions, and negative balances where they are not
allowed. ``eum ledger verify`` finds a balance that does not equal its postings."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from eum.ledger import service as ledger
from eum.ledger.model import UnbalancedEntry, build_postings
from eum.ledger.store import accounts, journal_entries, postings

AT = datetime(2020, 3, 16, 3, 0, tzinfo=UTC)


def _two_accounts(engine: Engine) -> tuple[int, int]:
    with engine.begin() as conn:
        a = ledger.open_account(conn, "test:a", "test", allow_negative=True)
        b = ledger.open_account(conn, "test:b", "test")
    return a, b


def test_a_balanced_entry_moves_both_balances(engine: Engine) -> None:
    a, b = _two_accounts(engine)
    with engine.begin() as conn:
        ledger.post(conn, "test", AT, [(a, -700), (b, 700)])
    with engine.connect() as conn:
        assert ledger.balances(conn, [a, b]) == {a: -700, b: 700}
        assert ledger.verify(conn).ok


def test_the_database_refuses_an_entry_whose_postings_do_not_sum_to_zero(engine: Engine) -> None:
    a, b = _two_accounts(engine)
    with pytest.raises(DBAPIError, match="unbalanced"), engine.begin() as conn:
        conn.execute(
            insert(postings),
            [
                {"entry_id": 1, "account_id": a, "amount": -700},
                {"entry_id": 1, "account_id": b, "amount": 699},
            ],
        )
        conn.execute(insert(journal_entries).values(id=1, kind="bad", at=AT))
    with engine.connect() as conn:
        assert conn.execute(select(postings)).all() == []


def test_the_database_refuses_an_entry_with_no_postings(engine: Engine) -> None:
    with pytest.raises(DBAPIError, match="unbalanced"), engine.begin() as conn:
        conn.execute(insert(journal_entries).values(id=2, kind="empty", at=AT))


def test_the_database_refuses_a_posting_added_to_a_sealed_entry(engine: Engine) -> None:
    a, b = _two_accounts(engine)
    with engine.begin() as conn:
        entry = ledger.post(conn, "test", AT, [(a, -5), (b, 5)])
    with pytest.raises(DBAPIError, match="sealed"), engine.begin() as conn:
        conn.execute(insert(postings).values(entry_id=entry, account_id=b, amount=1))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount = amount + 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET kind = 'changed'",
        "DELETE FROM journal_entries",
    ],
)
def test_the_journal_is_append_only(engine: Engine, statement: str) -> None:
    a, b = _two_accounts(engine)
    with engine.begin() as conn:
        ledger.post(conn, "test", AT, [(a, -5), (b, 5)])
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_an_account_that_may_not_go_negative_never_does(engine: Engine) -> None:
    a, b = _two_accounts(engine)
    with pytest.raises(DBAPIError), engine.begin() as conn:
        ledger.post(conn, "test", AT, [(a, 5), (b, -5)])
    with engine.connect() as conn:
        assert ledger.balances(conn, [a, b]) == {a: 0, b: 0}


def test_entries_are_checked_where_they_are_built() -> None:
    with pytest.raises(UnbalancedEntry):
        build_postings([(1, 100), (2, -99)])
    assert [(p.account_id, p.amount_krw) for p in build_postings([(2, 5), (1, -5), (2, 0)])] == [
        (1, -5),
        (2, 5),
    ]


def test_verify_reports_a_balance_row_that_differs_from_its_postings(engine: Engine) -> None:
    a, b = _two_accounts(engine)
    with engine.begin() as conn:
        ledger.post(conn, "test", AT, [(a, -300), (b, 300)])
        conn.execute(update(accounts).where(accounts.c.id == b).values(balance=301))
    with engine.connect() as conn:
        result = ledger.verify(conn)
    assert not result.ok
    assert result.mismatches == ["account test:b: balance 301 but postings sum to 300"]


def test_ledger_verify_command_exits_1_with_a_report(tmp_path: object) -> None:
    from pathlib import Path

    from eum.db import make_engine
    from eum.migrate import upgrade

    url = f"sqlite:///{Path(str(tmp_path)) / 'books.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    a, b = _two_accounts(engine)
    with engine.begin() as conn:
        ledger.post(conn, "test", AT, [(a, -300), (b, 300)])
    cmd = [sys.executable, "-m", "eum.cli", "ledger", "verify", "--database", url]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ledger: balanced" in ok.stdout
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == a).values(balance=0))
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "MISMATCH account test:a: balance 0 but postings sum to -300" in bad.stdout
    engine.dispose()


def test_sqlite_commits_are_durable_and_in_wal_mode(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: fsync on commit
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
