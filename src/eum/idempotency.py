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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, String, Table, insert, select

from eum.db import metadata
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
    digest = fingerprint(op, fields)
    row = conn.execute(
        select(idempotency_keys.c.fingerprint, idempotency_keys.c.result).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()
    if row is not None:
        if row.fingerprint != digest:
            raise IdempotencyConflict(f"key {key!r} was used for a different request", field="key")
        return dict(row.result, replayed=True)
    try:
        result = {"ok": True, **action()}
    except EumError as exc:  # services raise before writing: nothing to undo
        result = {"ok": False, "error": exc.code, "detail": exc.detail, "field": exc.field}
    conn.execute(
        insert(idempotency_keys),
        {"scope": scope, "key": key, "fingerprint": digest, "result": result, "created_at": at},
    )
    return dict(result, replayed=False)
