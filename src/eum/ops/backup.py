"""Backup and restore of the whole database, on SQLite and PostgreSQL.

A backup is one consistent snapshot taken while the server keeps writing. On SQLite it
is a read transaction copied with SQLite's online backup API in a single step (WAL lets
the writer go on beside the reader); on PostgreSQL it is ``pg_dump --format=custom`` of
the schema Eum's tables live in, run on a snapshot exported from a REPEATABLE READ
transaction. Either way the tables and payments the backup reports are counted in the
very snapshot that is copied. The file is written beside the destination under a
temporary name, synced and renamed, so the destination is never half-written.

A restore goes only into a database that has none of Eum's tables: it never merges into
or overwrites live books. It ends by verifying the ledger of the copy (every balance
equals its postings; the postings sum to zero).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from eum.db import make_engine, normalize_url, reading
from eum.ledger.service import Verification, verify
from eum.payments.store import payments as payments_table
from eum.schema import metadata

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
SQLITE_LOCK_WAIT_S = 30.0  # as long as the server's connections wait (db.SQLITE_BUSY_TIMEOUT_MS)
TOOL_ERROR_LINES = 20  # the last lines of pg_dump's or pg_restore's errors shown to the user
SHOWN_TABLES = 5  # table names quoted in the "target is not empty" error
OUR_TABLES = frozenset(metadata.tables)


class BackupError(Exception):
    """Raised when a backup or restore could not be done (a tool missing or failing)."""

    exit_code = 1


class BadInput(BackupError):
    """Raised for a missing or foreign backup file, a non-empty target or an unusable URL."""

    exit_code = 2


@dataclass(frozen=True)
class BackupReport:
    """What a backup wrote: figures counted in the snapshot the file holds."""

    path: Path
    backend: str  # sqlite | postgresql
    size_bytes: int
    tables: int
    payments: int


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put into the target, and the ledger verification of the copy."""

    path: Path
    backend: str
    tables: int
    payments: int
    verification: Verification


def _ignore(_payments: int) -> None:
    return None


def backup(url: str, dest: Path, *, on_snapshot: Callable[[int], None] = _ignore) -> BackupReport:
    """Write a consistent copy of the database at ``url`` to ``dest`` while it is in use.

    ``on_snapshot`` is called with the snapshot's payments count once the snapshot is
    taken and before it is copied.
    """
    parsed = _parse(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        if parsed.get_backend_name() == "sqlite":
            source = _sqlite_path(parsed)
            if dest.resolve() == source.resolve():
                raise BadInput(f"{dest} is the database itself: back it up to another file")
            tables, payments = _sqlite_backup(source, part, on_snapshot)
        else:
            tables, payments = _pg_backup(parsed, part, on_snapshot)
        _fsync(part)
        os.replace(part, dest)
        _fsync(dest.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite: {exc}") from exc
    except DBAPIError as exc:
        raise BackupError(f"database: {exc.orig}") from exc
    finally:
        part.unlink(missing_ok=True)
    backend = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    return BackupReport(dest, backend, dest.stat().st_size, tables, payments)


def restore(src: Path, url: str) -> RestoreReport:
    """Restore the backup ``src`` into the empty database at ``url``; verify its ledger."""
    src = Path(src)
    kind = _backup_kind(src)
    parsed = _parse(url)
    backend = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    if kind != backend:
        raise BadInput(f"{src} is a {kind} backup: restore it into a {kind} database")
    try:
        if backend == "sqlite":
            _sqlite_restore(src, _sqlite_path(parsed))
        else:
            _pg_restore(src, parsed)
        return _examine(src, backend, parsed)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite: {exc}") from exc
    except DBAPIError as exc:
        raise BackupError(f"database: {exc.orig}") from exc


def _parse(url: str) -> URL:
    try:
        return make_url(normalize_url(url))
    except ArgumentError as exc:
        raise BadInput(f"not a database URL: {exc}") from None


def _sqlite_path(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise BadInput("backup and restore need a SQLite database file, not an in-memory one")
    return Path(url.database)


def _backup_kind(src: Path) -> str:
    if not src.is_file():
        raise BadInput(f"no backup file at {src}")
    with src.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise BadInput(f"{src} is not a backup: neither a SQLite database nor a pg_dump archive")


def _refuse_ours(names: Iterable[str], where: str) -> None:
    ours = sorted(OUR_TABLES.intersection(names))
    if ours:
        shown = ", ".join(ours[:SHOWN_TABLES]) + (", ..." if len(ours) > SHOWN_TABLES else "")
        raise BadInput(
            f"{where} already holds Eum tables ({shown}): a restore goes only into an "
            "empty database; give a new database or drop these tables first"
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# SQLite -------------------------------------------------------------------------------


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions begin where this module says BEGIN.
    return sqlite3.connect(path, timeout=SQLITE_LOCK_WAIT_S, isolation_level=None)


def _sqlite_tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {str(row[0]) for row in rows}


def _sqlite_backup(source: Path, part: Path, on_snapshot: Callable[[int], None]) -> tuple[int, int]:
    if not source.is_file():
        raise BadInput(f"no SQLite database at {source}")
    src = _sqlite_connect(source)
    try:
        src.execute("BEGIN")  # deferred: the first read below fixes the snapshot
        tables = _sqlite_tables(src)
        if payments_table.name not in tables:
            raise BadInput(f"{source} is not an Eum database (it has no payments table)")
        payments = int(src.execute("SELECT count(*) FROM payments").fetchone()[0])
        on_snapshot(payments)
        dst = _sqlite_connect(part)
        try:
            # One step (pages=-1) copies the whole snapshot of the open read transaction;
            # a copy in several steps would restart whenever the server commits.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
        src.execute("ROLLBACK")
    finally:
        src.close()
    return len(tables), payments


def _sqlite_restore(src: Path, target: Path) -> None:
    if target.exists():
        conn = _sqlite_connect(target)
        try:
            _refuse_ours(_sqlite_tables(conn), str(target))
        finally:
            conn.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _sqlite_connect(src)
    try:
        dst = _sqlite_connect(target)
        try:
            source.backup(dst)  # one step: one write transaction on the target
        finally:
            dst.close()
    finally:
        source.close()


# PostgreSQL ---------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            "(postgresql-client, of the server's major version or newer)"
        )
    return found


def _libpq(url: URL) -> str:
    """The URL as libpq reads it, without the password (it goes in the environment)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(argv: list[str], url: URL, what: str) -> str:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()[-TOOL_ERROR_LINES:]
        raise BackupError(f"{what} failed (exit {done.returncode}):\n" + "\n".join(lines))
    return done.stdout


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _pg_tables(conn: Connection, schema: str) -> set[str]:
    return set(inspect(conn).get_table_names(schema=schema))


def _pg_backup(url: URL, part: Path, on_snapshot: Callable[[int], None]) -> tuple[int, int]:
    pg_dump = _tool("pg_dump")
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                if schema is None:
                    raise BadInput("the database URL's search_path names no existing schema")
                tables = _pg_tables(conn, schema)
                if payments_table.name not in tables:
                    raise BadInput(f"schema {schema} is not an Eum database (no payments table)")
                payments = conn.execute(
                    text(f"SELECT count(*) FROM {_quote(conn, schema)}.payments")
                ).scalar_one()
                # pg_dump reads the snapshot this transaction counted in; the transaction
                # stays open until pg_dump is done so that the snapshot stays valid.
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                on_snapshot(int(payments))
                pattern = '"' + schema.replace('"', '""') + '"'  # the name, not a pattern
                argv = [pg_dump, "--format=custom", f"--schema={pattern}"]
                argv += [f"--snapshot={snapshot}", f"--file={part}", f"--dbname={_libpq(url)}"]
                _run(argv, url, "pg_dump")
    finally:
        engine.dispose()
    return len(tables), int(payments)


_TOC_SCHEMA = re.compile(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", re.MULTILINE)


def _archive_schema(pg_restore: str, src: Path, url: URL) -> tuple[str, list[str]]:
    """The one schema a backup holds, and the archive's table of contents."""
    listing = _run([pg_restore, "--list", str(src)], url, "pg_restore --list")
    schemas = _TOC_SCHEMA.findall(listing)
    if len(schemas) != 1:
        raise BadInput(f"{src} holds {len(schemas)} schemas; an Eum backup holds one")
    return str(schemas[0]), listing.splitlines()


def _target_schema(conn: Connection) -> str:
    """The schema the target URL's search_path puts new tables in, existing or not."""
    search_path = str(conn.execute(text("SHOW search_path")).scalar_one())
    for item in search_path.split(","):
        name = item.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('""', '"')
        if name == "$user":
            user = str(conn.execute(text("SELECT current_user")).scalar_one())
            if _schema_exists(conn, user):
                return user
            continue
        if name:
            return name
    raise BadInput("the target's search_path names no schema")


def _schema_exists(conn: Connection, schema: str) -> bool:
    query = text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
    return conn.execute(query, {"name": schema}).first() is not None


def _schema_is_empty(conn: Connection, schema: str) -> bool:
    query = text(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = :name)"
        " AND NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n"
        " ON n.oid = p.pronamespace WHERE n.nspname = :name)"
    )
    return bool(conn.execute(query, {"name": schema}).scalar_one())


def _pg_restore(src: Path, url: URL) -> None:
    """Restore into the target's schema: the archive's schema is created there (or
    reused, when it exists and is empty) and renamed when the target names another."""
    pg_restore = _tool("pg_restore")
    archived, toc = _archive_schema(pg_restore, src, url)
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with engine.connect() as conn:
            target = _target_schema(conn)
            target_exists = _schema_exists(conn, target)
            if target_exists:
                _refuse_ours(_pg_tables(conn, target), f"schema {target}")
            if target != archived:
                if _schema_exists(conn, archived):
                    raise BadInput(
                        f"the backup holds schema {archived}, which the target database "
                        "already has: restore into another database"
                    )
                if target_exists and not _schema_is_empty(conn, target):
                    raise BadInput(f"schema {target} is not empty")
        if target == archived and target_exists:
            # The schema is there (public in a new database): restore only its contents.
            entry = re.compile(rf"^\d+; \d+ \d+ (COMMENT - )?SCHEMA (- )?{re.escape(archived)} ")
            toc = [line for line in toc if not entry.match(line)]
        with tempfile.NamedTemporaryFile("w", suffix=".list") as use_list:
            use_list.write("\n".join(toc) + "\n")
            use_list.flush()
            argv = [pg_restore, "--no-owner", "--no-privileges", "--single-transaction"]
            argv += [f"--use-list={use_list.name}", f"--dbname={_libpq(url)}", str(src)]
            _run(argv, url, "pg_restore")
        if target != archived:
            with engine.begin() as conn:
                if target_exists:
                    conn.execute(text(f"DROP SCHEMA {_quote(conn, target)}"))
                rename = f"ALTER SCHEMA {_quote(conn, archived)} RENAME TO {_quote(conn, target)}"
                conn.execute(text(rename))
    finally:
        engine.dispose()


# Both ---------------------------------------------------------------------------------


def _examine(src: Path, backend: str, url: URL) -> RestoreReport:
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with reading(engine) as conn:
            tables = len(inspect(conn).get_table_names())
            count = conn.execute(select(func.count()).select_from(payments_table)).scalar_one()
            verification = verify(conn)
    finally:
        engine.dispose()
    return RestoreReport(src, backend, tables, int(count), verification)
