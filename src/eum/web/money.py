"""Money from a page: each form carries an idempotency key made when the page was
drawn, so a double tap or a resent form books once and shows the first result; an
error result is raised as its domain error for the page to show."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from eum import errors, idempotency
from eum.auth.model import Principal
from eum.clock import now
from eum.db import Database
from eum.errors import ALL_ERRORS
from eum.payments.engine import PaymentEngine, PayRequest

MAX_KEY = idempotency.MAX_KEY_LENGTH


def new_key() -> str:
    """A fresh idempotency key for a form (put it in a hidden field named ``key``)."""
    return "web-" + secrets.token_hex(12)


def _key(form: dict[str, str]) -> str:
    key = (form.get("key") or "").strip()
    if not key or len(key) > MAX_KEY:
        raise errors.IdempotencyKeyRequired(field="key")
    return key


def raise_if_failed(result: dict[str, Any]) -> dict[str, Any]:
    """The result of a money operation, or its error raised."""
    if result.get("ok"):
        return result
    cls = ALL_ERRORS.get(str(result.get("error")), errors.EumError)
    raise cls(result.get("detail"), field=result.get("field"))


def once(
    request: Request,
    who: Principal,
    form: dict[str, str],
    what: str,
    fields: dict[str, Any],
    action: Callable[[Connection, datetime], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``action(conn, at)`` once for the form's key: ``what`` names the operation
    and ``fields`` are what the key is bound to (the same key with other fields is
    ``idempotency_conflict``). Returns the result (with ``replayed``) or raises."""
    digest = idempotency.fingerprint("web:" + what, fields)
    db: Database = request.app.state.db
    return raise_if_failed(
        idempotency.once(db, scope=who.scope, key=_key(form), digest=digest, action=action)
    )


def pay(
    request: Request,
    who: Principal,
    form: dict[str, str],
    *,
    merchant_id: str,
    amount_krw: int,
    channel: str = "card",
    coupon_id: str | None = None,
) -> dict[str, Any]:
    """A member's payment through the payment engine (the same queue as the API), once
    for the form's key, waiting in this worker thread. Returns the result or raises its
    error (``payment_pending`` when no answer came in time: the same form tells)."""
    key = _key(form)
    fields = {
        "merchant": merchant_id,
        "amount": amount_krw,
        "channel": channel,
        "coupon": coupon_id,
    }
    engine: PaymentEngine = request.app.state.payments
    outcome = engine.pay_waiting(
        PayRequest(
            member_id=who.member_id,
            merchant_id=merchant_id,
            amount_krw=amount_krw,
            at=now(),
            channel=channel,
            coupon_id=coupon_id,
            scope=who.scope,
            key=key,
            fingerprint=idempotency.fingerprint("web:pay", fields),
        )
    )
    return raise_if_failed(outcome)
