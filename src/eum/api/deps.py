"""Dependencies every router uses: the database, the caller, roles, idempotency keys."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from eum import errors, idempotency
from eum.api.problems import from_stored
from eum.auth import service as auth
from eum.auth.model import Principal
from eum.clock import now
from eum.db import Database, reading

MAX_PAGE = 100
DEFAULT_PAGE = 20

# What money requests document besides success: a reused key with another request, and
# the SPEC's domain errors.
MONEY: dict[int | str, dict[str, Any]] = {
    409: {"description": "idempotency_conflict"},
    422: {"description": "SPEC error codes"},
}

# Payments go through the payment engine's queue, which may be full.
MONEY_QUEUED: dict[int | str, dict[str, Any]] = {
    **MONEY,
    429: {"description": "overloaded: the payment queue is full, retry after Retry-After"},
    503: {"description": "payment_pending: not answered in time, retry with the same key"},
}

bearer = HTTPBearer(auto_error=False, description="로그인으로 받은 토큰 (POST /api/v1/auth/login)")


async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DB = Annotated[Database, Depends(database)]


async def principal(
    db: DB, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    # Dependencies are async so that a request does not hop to a worker thread for each;
    # only a token not seen in the last seconds is read, in a worker thread.
    if creds is None or not creds.credentials:
        raise errors.Unauthorized("an Authorization: Bearer token is required")
    token, at = creds.credentials, now()
    known = auth.recent.known(token, at)
    if known is not None:
        return known
    return await run_in_threadpool(auth.recent.authenticate, lambda: reading(db.engine), token, at)


Caller = Annotated[Principal, Depends(principal)]


def role(*allowed: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(p: Caller) -> Principal:
        if p.role not in allowed:
            raise errors.Forbidden(f"this needs one of: {', '.join(allowed)}")
        return p

    return check


Member = Annotated[Principal, Depends(role("member"))]
MerchantOwner = Annotated[Principal, Depends(role("merchant"))]
Admin = Annotated[Principal, Depends(role("issuer_admin", "operator"))]
Operator = Annotated[Principal, Depends(role("operator"))]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=idempotency.MAX_KEY_LENGTH,
            description="클라이언트가 만든 고유 키: 같은 키와 요청은 첫 결과를 돌려줍니다.",
        ),
    ] = None,
) -> str:
    if not key or not key.strip():
        raise errors.IdempotencyKeyRequired(field="Idempotency-Key")
    return key


IdemKey = Annotated[str, Depends(idempotency_key)]


def request_fingerprint(request: Request, body: BaseModel | None) -> str:
    """What a key is bound to: the method, the path and the body as sent."""
    fields = {
        "path": request.url.path,
        "body": body.model_dump(mode="json", exclude_unset=True) if body else None,
    }
    return idempotency.fingerprint(request.method, fields)


def money_response(result: dict[str, Any], status: int = 201) -> JSONResponse:
    """The response of a stored result: the success body, or its problem."""
    headers = {"Idempotent-Replayed": "true" if result.get("replayed") else "false"}
    if not result["ok"]:
        response = from_stored(result)
        response.headers.update(headers)
        return response
    content = {k: v for k, v in result.items() if k not in ("ok", "replayed")}
    return JSONResponse(status_code=status, content=content, headers=headers)


def money_call(
    db: Database,
    caller: Principal,
    key: str,
    request: Request,
    body: BaseModel | None,
    action: Callable[[Any, Any], dict[str, Any]],
    *,
    status: int = 201,
) -> JSONResponse:
    """Run a money operation once per key: the first response, success or error, is kept
    with the operation's own transaction and replayed for the same key and request."""
    digest = request_fingerprint(request, body)
    result = idempotency.once(db, scope=caller.scope, key=key, digest=digest, action=action)
    return money_response(result, status)


class Page(BaseModel):
    """A page of a list; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None


def encode_cursor(value: int | str) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidRequest("bad cursor", field="cursor") from None
