"""Backup and restore (issue #7, item 6) on SQLite and PostgreSQL.

A backup taken while a thread keeps paying restores, into a fresh database, to exactly
the payments of its snapshot (a prefix of the ones written), and the copy's ledger
verifies, through the service and through `eum ledger verify`. A restore refuses a
database that already has Eum's tables, and a missing or failing tool or file gives a
clear error.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from eum.cli import app
from eum.clock import parse_time
from eum.db import make_engine, normalize_url, reading, run_in_transaction
from eum.ledger.service import verify
from eum.ledger.store import journal_entries
from eum.ops.backup import backup, restore
from eum.payments.service import pay
from eum.payments.store import payments
from tests.conftest import GYEYANG_CITY, PG_URL, Platform, engine_for

AT = parse_time("2020-03-16T12:00")
PAYMENT_KRW = 1_000
PAYERS = [("u-kim", "m-bunsik"), ("u-lee", "m-mart"), ("u-lee", "m-cafe")]
BEFORE_BACKUP = 20  # payments written before the backup starts
AFTER_SNAPSHOT = 5  # payments committed after the snapshot is taken, before it is copied
WAIT_S = 60.0  # a bound on waiting for the load thread (a hang fails; no timing assumed)

runner = CliRunner()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def count_payments(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(payments)).scalar_one())


def table_count(engine: Engine) -> int:
    with reading(engine) as conn:
        return len(inspect(conn).get_table_names())


def small_city(engine: Engine) -> Platform:
    platform = Platform(engine).setup(copy.deepcopy(GYEYANG_CITY))
    for member in ("u-kim", "u-lee"):
        assert platform.event("charge", key=f"c-{member}", member=member, amount=1_000_000)["ok"]
    return platform


class PaymentLoad(threading.Thread):
    """Pays 1,000원 again and again, each payment in its own transaction, until stopped.

    Payment ``i`` carries the reference ``load-i``; one thread commits them in order, so
    a consistent copy holds ``load-0`` .. ``load-(k-1)`` for some k and nothing else.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.committed = 0
        self.errors: list[BaseException] = []
        self._halt = threading.Event()
        self._progress = threading.Condition()

    def run(self) -> None:
        while not self._halt.is_set():
            member, merchant = PAYERS[self.committed % len(PAYERS)]
            try:
                run_in_transaction(
                    self.engine,
                    pay,
                    member_id=member,
                    merchant_id=merchant,
                    amount_krw=PAYMENT_KRW,
                    at=AT,
                    ref=f"load-{self.committed}",
                )
            except BaseException as exc:
                with self._progress:
                    self.errors.append(exc)
                    self._progress.notify_all()
                return
            with self._progress:
                self.committed += 1
                self._progress.notify_all()

    def wait_for_more(self, more: int) -> None:
        """Block until ``more`` payments beyond those committed now are committed."""
        with self._progress:
            target = self.committed + more
            done = self._progress.wait_for(
                lambda: self.committed >= target or bool(self.errors), timeout=WAIT_S
            )
        assert done, f"the load thread did not commit {more} payments in {WAIT_S} s"
        assert not self.errors, self.errors

    def stop(self) -> None:
        self._halt.set()
        self.join(WAIT_S)
        assert not self.is_alive()
        assert not self.errors, self.errors


@pytest.fixture
def new_database(backend: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Makes fresh, empty target databases: a new SQLite file, or a new PostgreSQL
    database whose URL selects ``schema`` (the server's default, public, when None)."""
    if backend == "sqlite":
        files = iter(range(100))
        yield lambda schema=None: f"sqlite:///{tmp_path / f'restored-{next(files)}.sqlite3'}"
        return
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make(schema: str | None = None) -> str:
        name = f"eum_restore_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        url = make_url(normalize_url(PG_URL)).set(database=name)
        if schema is not None:
            url = url.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_backup_under_load_restores_to_the_payments_of_its_snapshot(
    engine: Engine, backend: str, new_database: Callable[..., str], tmp_path: Path
) -> None:
    small_city(engine)
    load = PaymentLoad(engine)
    load.start()
    try:
        load.wait_for_more(BEFORE_BACKUP)
        at_start = count_payments(engine)
        in_snapshot: list[int] = []

        def hold(payments_in_snapshot: int) -> None:
            # The snapshot is taken: let the writer commit more before it is copied.
            in_snapshot.append(payments_in_snapshot)
            load.wait_for_more(AFTER_SNAPSHOT)

        made = backup(url_of(engine), tmp_path / "eum.backup", on_snapshot=hold)
    finally:
        load.stop()
    at_end = count_payments(engine)
    (snapshot,) = in_snapshot
    print(
        f"\n[{backend}] payments at backup start {at_start}, in the snapshot {snapshot}, "
        f"at backup end {at_end} ({load.committed} written by the load thread); "
        f"backup {made.size_bytes:,} bytes, {made.tables} tables, {made.payments} payments"
    )
    assert made.payments == snapshot
    assert made.path.stat().st_mode & 0o077 == 0  # personal data: readable by its owner only
    assert BEFORE_BACKUP <= at_start <= snapshot
    assert snapshot + AFTER_SNAPSHOT <= at_end  # payments went on beside the backup

    # A fresh PostgreSQL database under a schema name of its own (the backup's is renamed).
    target = new_database("eum_restored" if backend == "postgres" else None)
    done = restore(made.path, target)
    print(
        f"[{backend}] restored {done.payments} payments, {done.tables} tables; ledger: "
        f"{done.verification.accounts_checked} accounts, "
        f"{done.verification.entries_checked} entries, ok={done.verification.ok}"
    )
    assert done.payments == snapshot
    assert done.tables == made.tables
    assert done.verification.ok, done.verification.mismatches
    assert done.verification.postings_total_krw == 0
    assert done.verification.entries_checked >= snapshot + 2  # two charges, each payment

    restored = make_engine(target)
    try:
        with reading(restored) as conn:
            refs = set(conn.execute(select(payments.c.ref)).scalars())
            assert refs == {f"load-{i}" for i in range(snapshot)}  # a prefix, no gaps
            assert verify(conn).ok
        verified = runner.invoke(app, ["ledger", "verify", "--database", target])
        print(f"[{backend}] eum ledger verify: {verified.output.strip().splitlines()[-1]}")
        assert verified.exit_code == 0, verified.output
        assert "ledger: balanced" in verified.output

        # The copy is a working database: it takes a payment, and its ledger triggers
        # still refuse an entry without postings.
        paid = run_in_transaction(
            restored, pay, member_id="u-lee", merchant_id="m-mart", amount_krw=PAYMENT_KRW, at=AT
        )
        assert paid["amount"] == PAYMENT_KRW
        with pytest.raises(DBAPIError):
            run_in_transaction(
                restored,
                lambda conn: conn.execute(
                    insert(journal_entries).values(id=1, kind="pay", at=AT, ref=None)
                ),
            )
        assert count_payments(restored) == snapshot + 1
        with reading(restored) as conn:
            assert verify(conn).ok
    finally:
        restored.dispose()


def test_restore_through_the_cli_refuses_a_database_that_has_our_tables(
    engine: Engine, backend: str, new_database: Callable[..., str], tmp_path: Path
) -> None:
    platform = small_city(engine)
    platform.event("pay", key="p1", member="u-kim", merchant="m-bunsik", amount=10_000)
    source = url_of(engine)
    dest = tmp_path / "cli.backup"

    made = runner.invoke(app, ["backup", str(dest), "--database", source])
    print(f"\n[{backend}] eum backup: {made.output.strip()}")
    assert made.exit_code == 0, made.output
    assert f"{table_count(engine)} tables, 1 payments" in made.output

    target = new_database()  # PostgreSQL: a new database's public schema
    first = runner.invoke(app, ["restore", str(dest), "--database", target])
    print(f"[{backend}] eum restore: {first.output.strip()}")
    assert first.exit_code == 0, first.output
    assert "1 payments" in first.output
    assert "ledger: balanced" in first.output

    for busy in (target, source):
        again = runner.invoke(app, ["restore", str(dest), "--database", busy])
        print(f"[{backend}] eum restore into a database with data: exit {again.exit_code}")
        assert again.exit_code == 2, again.output
        assert "already holds Eum tables" in again.output
    assert count_payments(engine) == 1


def test_restore_of_a_missing_or_foreign_file_says_so(tmp_path: Path) -> None:
    target = tmp_path / "target.sqlite3"
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a backup", encoding="utf-8")
    for src, message in (
        (tmp_path / "nope.backup", "no backup file at"),
        (foreign, "not a backup"),
    ):
        done = runner.invoke(app, ["restore", str(src), "--database", f"sqlite:///{target}"])
        print(f"\neum restore {src.name}: exit {done.exit_code}: {done.output.strip()}")
        assert done.exit_code == 2
        assert message in done.output
        assert "Traceback" not in done.output
    assert not target.exists()


def test_backup_without_pg_dump_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    dest = tmp_path / "out" / "eum.backup"
    done = runner.invoke(app, ["backup", str(dest), "--database", PG_URL])
    print(f"\neum backup without pg_dump: exit {done.exit_code}: {done.output.strip()}")
    assert done.exit_code == 1
    assert "pg_dump not found" in done.output
    assert list(dest.parent.iterdir()) == []  # not even a temporary file is left


@pytest.mark.postgres
def test_a_failing_pg_dump_fails_the_backup_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump: error: disk full' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    dest = tmp_path / "eum.backup"
    dest.write_bytes(b"an older backup")
    with engine_for("postgres") as engine:
        small_city(engine)
        monkeypatch.setenv("PATH", str(bin_dir))
        done = runner.invoke(app, ["backup", str(dest), "--database", url_of(engine)])
    print(f"\neum backup with a failing pg_dump: exit {done.exit_code}: {done.output.strip()}")
    assert done.exit_code == 1
    assert "pg_dump failed (exit 1)" in done.output
    assert "disk full" in done.output
    assert dest.read_bytes() == b"an older backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "eum.backup"]


@pytest.mark.postgres
def test_restore_into_an_empty_schema_of_the_backups_name(tmp_path: Path) -> None:
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"eum_restore_{uuid.uuid4().hex[:12]}"
    try:
        with engine_for("postgres") as engine:
            small_city(engine)
            made = backup(url_of(engine), tmp_path / "eum.backup")
            with engine.connect() as conn:
                schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
                expected = verify(conn)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalize_url(PG_URL)).set(database=name)
        target = url.update_query_dict({"options": f"-csearch_path={schema}"})
        target_engine = make_engine(target.render_as_string(hide_password=False))
        with target_engine.begin() as conn:  # the schema is there, and empty
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        target_engine.dispose()
        done = restore(made.path, target.render_as_string(hide_password=False))
        print(f"\nrestored into the existing empty schema {schema}: {done.tables} tables")
        assert done.tables == made.tables
        assert done.verification == expected
        assert done.verification.ok
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_restore_of_a_backup_whose_ledger_does_not_balance_exits_1(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    small_city(sqlite_engine)
    made = backup(url_of(sqlite_engine), tmp_path / "eum.backup")
    tampered = sqlite3.connect(made.path)
    with tampered:  # a balance that its postings do not explain
        tampered.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
    tampered.close()
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    done = runner.invoke(app, ["restore", str(made.path), "--database", target])
    print(f"\neum restore of a tampered backup: exit {done.exit_code}: {done.output.strip()}")
    assert done.exit_code == 1
    assert "MISMATCH" in done.output
    assert "ledger: NOT balanced" in done.output
