"""Engine, schema metadata and transactions.

One ``MetaData`` holds every table; each room declares its tables in its ``store.py``.
SQLite runs in WAL mode with ``synchronous=FULL`` so that a commit that returned is on
disk (an acknowledged payment survives a power cut), foreign keys on, and every write
transaction opened with ``BEGIN IMMEDIATE`` so that writers queue instead of failing
on a lock upgrade. PostgreSQL runs through psycopg 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "eum_read_only"  # execution option: a transaction that only reads
MAX_TX_RETRIES = 20


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a database URL, with the pragmas and hooks Eum relies on."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.database not in (None, "", ":memory:") and "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)  # request threads read beside the writer
            kwargs.setdefault("max_overflow", 40)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 40)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # durable commits: fsync the WAL on commit
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Readers take a snapshot without the write lock (WAL lets them run beside the
        # writer); writers queue for the lock up front.
        reading = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _retryable(exc: DBAPIError) -> bool:
    """Serialization failures, deadlocks, SQLite busy errors and a lost race for an
    idempotency key (the retry then finds the winner's result and replays it)."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40001", "40P01"):
        return True
    message = str(exc.orig).lower()
    if isinstance(exc, IntegrityError) and "idempotency_keys" in message:
        return True
    return isinstance(exc, OperationalError) and "locked" in message


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One database transaction: commit on success, roll back on any exception."""
    with engine.connect() as conn, conn.begin():
        yield conn


def run_in_transaction(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(conn, ...)`` in its own transaction, retrying on transient conflicts.

    ``fn`` must be safe to run again from the start: it reads and writes only
    through ``conn``.
    """
    for attempt in range(MAX_TX_RETRIES):
        try:
            with transaction(engine) as conn:
                return fn(conn, *args, **kwargs)
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == MAX_TX_RETRIES - 1:
                raise
            time.sleep(min(0.001 * 2**attempt, 0.2))
    raise AssertionError("unreachable")


def add_to_counter(
    conn: Connection, table: Any, keys: dict[str, Any], column: str, delta: int
) -> None:
    """``table[keys].column += delta``, inserting the row at ``delta`` when it is missing."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(table).values(**keys, **{column: delta})
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={column: getattr(table.c, column) + delta}
    )
    conn.execute(stmt)


class Database:
    """What entry points hold: run a use case in a transaction, or read in one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        result: T = run_in_transaction(self.engine, fn, *args, **kwargs)
        return result

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with reading(self.engine) as conn:
            return fn(conn, *args, **kwargs)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: on SQLite its transaction does not take the write lock."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        yield conn
