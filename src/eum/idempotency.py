"""Idempotency keys (SPEC 3.16): the first result under a key is stored and replayed.

One key space per scope (the scenario runner uses one scope for a whole file; API
clients get their own). The same key with the same request gives back the first
result, success or error, and changes nothing more; the same key with a different
request raises ``idempotency_conflict``, which is not stored. The stored row is
written in the same transaction as the operation's entry, so a result is stored if
and only if its effects are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    String,
    Table,
    insert,
    select,
    text,
    tuple_,
)

from eum import bulk
from eum.clock import now
from eum.db import Database, metadata
from eum.errors import EumError, IdempotencyConflict

MAX_KEY_LENGTH = 200

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(100), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def fingerprint(op: str, fields: Mapping[str, Any]) -> str:
    """A digest of the operation and its fields exactly as given (types included)."""
    canonical = json.dumps([op, fields], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


Result = dict[str, Any]


def run(
    conn: Connection,
    *,
    scope: str,
    key: str,
    op: str,
    fields: Mapping[str, Any],
    at: datetime,
    action: Callable[[], Result],
) -> Result:
    """Run ``action`` once per key; replay its stored result (or error) afterwards.

    Returns ``{"ok": True, ...}`` or ``{"ok": False, "error": code}``. Raises
    ``IdempotencyConflict`` for a reused key with a different request.
    """
    return run_digest(
        conn, scope=scope, key=key, digest=fingerprint(op, fields), at=at, action=action
    )


def run_digest(
    conn: Connection,
    *,
    scope: str,
    key: str,
    digest: str,
    at: datetime,
    action: Callable[[], Result],
) -> Result:
    """``run`` for a request whose fingerprint the caller computed."""
    row = conn.execute(
        select(idempotency_keys.c.fingerprint, idempotency_keys.c.result).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()
    if row is not None:
        return replay(key, row.fingerprint, row.result, digest)
    result = outcome(action)
    conn.execute(insert(idempotency_keys), row_for(scope, key, digest, result, at))
    return dict(result, replayed=False)


def once(
    db: Database,
    *,
    scope: str,
    key: str,
    digest: str,
    action: Callable[[Connection, datetime], Result],
) -> Result:
    """``run_digest`` of ``action(conn, at)`` in a transaction of its own, at the current
    time: what an entry point (API route, web form) does for one money request."""
    at = now()

    def unit(conn: Connection) -> Result:
        return run_digest(
            conn, scope=scope, key=key, digest=digest, at=at, action=lambda: action(conn, at)
        )

    return db.run(unit)


def outcome(action: Callable[[], Result]) -> Result:
    """What is stored under a key: the action's result, or the domain error it raised."""
    try:
        return {"ok": True, **action()}
    except EumError as exc:  # services raise before writing: nothing to undo
        return {"ok": False, "error": exc.code, "detail": exc.detail, "field": exc.field}


def replay(key: str, stored_fingerprint: str, stored: Result, digest: str) -> Result:
    """The stored result of a key, or ``IdempotencyConflict`` for another request."""
    if stored_fingerprint != digest:
        raise IdempotencyConflict(f"key {key!r} was used for a different request", field="key")
    return dict(stored, replayed=True)


def row_for(scope: str, key: str, digest: str, result: Result, at: datetime) -> dict[str, Any]:
    return {"scope": scope, "key": key, "fingerprint": digest, "result": result, "created_at": at}


def stored_many(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The stored rows of many (scope, key) pairs at once, by pair: one query per chunk."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, str], Any] = {}
    for chunk in bulk.chunks(wanted, 400):
        if conn.dialect.name == "postgresql":
            # One primary-key probe per pair, whatever the table's statistics say.
            rows = conn.execute(
                text(
                    "SELECT k.* FROM unnest(CAST(:scopes AS text[]), CAST(:keys AS text[]))"
                    " AS u(scope, key) CROSS JOIN LATERAL (SELECT * FROM idempotency_keys i"
                    " WHERE i.scope = u.scope AND i.key = u.key) AS k"
                ).columns(*idempotency_keys.c),
                {"scopes": [s for s, _ in chunk], "keys": [k for _, k in chunk]},
            )
        else:
            rows = conn.execute(
                select(idempotency_keys).where(
                    tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(list(chunk))
                )
            )
        for r in rows:
            found[(r.scope, r.key)] = r
    return found


def store_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store the results of many new keys (rows made by ``row_for``)."""
    columns = ("scope", "key", "fingerprint", "result", "created_at")
    bulk.insert_rows(conn, idempotency_keys, columns, [[r[c] for c in columns] for r in rows])
