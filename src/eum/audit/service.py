"""Recording and reading administrative actions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select

from eum.audit.store import audit_log

MAX_AUDIT_PAGE = 200


class Actor(Protocol):
    """Whoever acts: anything with a user id, a login and a role (an auth Principal)."""

    @property
    def user_id(self) -> str: ...
    @property
    def login(self) -> str: ...
    @property
    def role(self) -> str: ...


def record(
    conn: Connection,
    *,
    at: datetime,
    actor_id: str,
    actor_role: str,
    action: str,
    target: str,
    detail: dict[str, Any],
    issuer_id: str | None = None,
) -> None:
    """Append one action, in the same transaction as the change it describes."""
    conn.execute(
        insert(audit_log),
        {
            "at": at,
            "actor_id": actor_id,
            "actor_role": actor_role,
            "action": action,
            "target": target,
            "issuer_id": issuer_id,
            "detail": detail,
        },
    )


def record_by(
    conn: Connection,
    by: Actor,
    *,
    at: datetime,
    action: str,
    target: str,
    issuer_id: str | None,
    detail: dict[str, Any],
) -> None:
    """Append one action taken by an authenticated person, naming its login."""
    record(
        conn,
        at=at,
        actor_id=by.user_id,
        actor_role=by.role,
        action=action,
        target=target,
        issuer_id=issuer_id,
        detail={"by": by.login, **detail},
    )


def entries(
    conn: Connection, *, issuers: Collection[str] | None, limit: int, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Newest first; ``issuers`` limits to those areas (None: everything)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(min(limit, MAX_AUDIT_PAGE))
    if issuers is not None:
        query = query.where(audit_log.c.issuer_id.in_(list(issuers)))
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(query)]
