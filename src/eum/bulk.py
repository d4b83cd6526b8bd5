"""Set-based writes through the database driver, for the hot path and bulk loaders.

Many rows cost one statement: COPY on PostgreSQL, one prepared statement executed many
times on SQLite, and for counters an UPDATE joined to arrays (PostgreSQL) or
executemany (SQLite). Values go through the same SQLAlchemy type processors as any
other write, so a row written here reads back exactly like one written by ``insert``.
They run on the connection's own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

Row = Sequence[Any]


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Any]:
    dialect = conn.dialect
    return [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]


def _prepared(rows: Sequence[Row], processors: list[Callable[[Any], Any] | None]) -> list[Row]:
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not active:
        return list(rows)
    out: list[Row] = []
    for row in rows:
        values = list(row)
        for i, p in active:
            v = values[i]
            if v is not None:
                values[i] = p(v)
        out.append(values)
    return out


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """INSERT every row (values in ``columns`` order) in one driver call."""
    if not rows:
        return
    values = _prepared(rows, _processors(conn, table, columns))
    names = ", ".join(columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values)
    finally:
        cur.close()


def add_to_column(
    conn: Connection, table: Table, key: str, column: str, deltas: Sequence[tuple[Any, int]]
) -> int:
    """``column += delta`` on the row whose ``key`` is given, for every (key, delta);
    keys should be sorted (rows are then locked in a fixed order). Returns rows changed."""
    if not deltas:
        return 0
    raw = conn.connection.driver_connection
    assert raw is not None
    name = table.name
    if conn.dialect.name == "postgresql":
        key_type = "text" if table.c[key].type.python_type is str else "bigint"
        with raw.cursor() as cur:
            cur.execute(
                f"UPDATE {name} SET {column} = {name}.{column} + v.d "
                f"FROM unnest(%s::{key_type}[], %s::bigint[]) AS v(k, d) WHERE {name}.{key} = v.k",
                ([k for k, _ in deltas], [d for _, d in deltas]),
            )
            return int(cur.rowcount)
    cur = raw.cursor()
    try:
        cur.executemany(
            f"UPDATE {name} SET {column} = {column} + ? WHERE {key} = ?",
            [(d, k) for k, d in deltas],
        )
        return int(cur.rowcount)
    finally:
        cur.close()


def upsert_add(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    columns: str | Sequence[str],
    rows: Sequence[Row],
) -> None:
    """``column += delta`` per key tuple for each of ``columns``, inserting the row at the
    deltas when missing. Each row is (*key values, *deltas). Callers sort ``rows`` by key,
    so that concurrent transactions take the row locks in the same order."""
    if not rows:
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    name = table.name
    added = [columns] if isinstance(columns, str) else list(columns)
    cols = [*keys, *added]
    names = ", ".join(cols)
    conflict = ", ".join(keys)
    update = ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in added)
    if conn.dialect.name == "postgresql":
        types = ["text" if table.c[k].type.python_type is str else "bigint" for k in keys]
        arrays = ", ".join(f"%s::{t}[]" for t in [*types, *("bigint" for _ in added)])
        values = [[row[i] for row in rows] for i in range(len(cols))]
        with raw.cursor() as cur:
            cur.execute(
                f"INSERT INTO {name} ({names}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {update}",
                values,
            )
        return
    marks = ", ".join("?" for _ in cols)
    cur = raw.cursor()
    try:
        cur.executemany(
            f"INSERT INTO {name} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {update}",
            list(rows),
        )
    finally:
        cur.close()


def any_of(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` as one array parameter on PostgreSQL (one plan whatever the
    count), as an expanded IN list on SQLite. SQLite callers keep lists under
    ``IN_CHUNK``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


IN_CHUNK = 900


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
