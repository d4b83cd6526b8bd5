"""Use cases of accounts: sign-up, login, tokens, staff accounts."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from eum import errors
from eum.auth.model import ROLES, Principal
from eum.auth.store import sessions, users
from eum.config import settings
from eum.merchants import service as merchants
from eum.policy import service as policy
from eum.wallets import service as wallets

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MAX_LOGIN_LENGTH = 64
TOKEN_BYTES = 32
# A login is a name to sign in with, not free text: letters, digits and . _ @ + - only.
LOGIN = re.compile(r"[a-z0-9][a-z0-9._@+-]*")
CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # a category code, as the API's ids
MAX_NAME_LENGTH = 200

_hashers: dict[tuple[int, int], PasswordHasher] = {}


def _hasher() -> PasswordHasher:
    cfg = settings()
    key = (cfg.password_time_cost, cfg.password_memory_kib)
    if key not in _hashers:
        _hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1])
    return _hashers[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_credentials(login: object, password: object) -> tuple[str, str]:
    if (
        not isinstance(login, str)
        or not 3 <= len(login) <= MAX_LOGIN_LENGTH
        or not login.isprintable()
    ):
        raise errors.InvalidRequest("login must be 3..64 printable characters", field="login")
    if not LOGIN.fullmatch(login.strip().lower()):
        raise errors.InvalidRequest("a login has letters, digits and . _ @ + - only", field="login")
    if (
        not isinstance(password, str)
        or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise errors.InvalidRequest("password must be 8..128 characters", field="password")
    return login.strip().lower(), password


def _new_user(
    conn: Connection,
    *,
    login: str,
    password: str,
    role: str,
    at: datetime,
    display_name: str | None = None,
    member_id: str | None = None,
    merchant_id: str | None = None,
    issuer_id: str | None = None,
) -> str:
    if conn.execute(select(users.c.id).where(users.c.login == login)).first():
        raise errors.AlreadyExists("that login is taken", field="login")
    user_id = "usr_" + secrets.token_hex(8)
    conn.execute(
        insert(users),
        {
            "id": user_id,
            "login": login,
            "password_hash": _hasher().hash(password),
            "role": role,
            "display_name": display_name,
            "member_id": member_id,
            "merchant_id": merchant_id,
            "issuer_id": issuer_id,
            "failed_logins": 0,
            "locked_until": None,
            "active": True,
            "created_at": at,
        },
    )
    return user_id


def signup_member(
    conn: Connection,
    *,
    login: object,
    password: object,
    name: str | None,
    card_issuer_id: str,
    card_kind: str,
    at: datetime,
    home_district: str | None = None,
) -> dict[str, Any]:
    """A citizen signs up and gets one card of the chosen brand and kind (SPEC 3.3)."""
    login_s, password_s = _check_credentials(login, password)
    if name is not None and not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise errors.InvalidRequest(f"name must be 1..{MAX_NAME_LENGTH} characters", field="name")
    if home_district is not None:
        _check_district(conn, home_district, "home_district")
    member_id = "u-" + secrets.token_hex(6)
    wallets.create_member(
        conn,
        id=member_id,
        card_issuer_id=card_issuer_id,
        card_kind=card_kind,
        name=name,
        home_district=home_district,
        at=at,
    )
    user_id = _new_user(
        conn,
        login=login_s,
        password=password_s,
        role="member",
        at=at,
        display_name=name,
        member_id=member_id,
    )
    return {"user_id": user_id, "member_id": member_id}


def _check_district(conn: Connection, district: object, field: str) -> None:
    known = policy.catalog(conn).issuers.districts.values()
    if not any(district in covered for covered in known):
        raise errors.InvalidRequest("not a district of the platform", field=field)


def signup_merchant(
    conn: Connection, *, login: object, password: object, at: datetime, merchant: dict[str, Any]
) -> dict[str, Any]:
    """A shop owner registers a merchant; it waits for the district admin's approval."""
    login_s, password_s = _check_credentials(login, password)
    # in a district some admin covers (no one could approve it elsewhere), of a coded kind
    _check_district(conn, merchant.get("district"), "district")
    category = merchant.get("category")
    if category is not None and not (isinstance(category, str) and CODE.fullmatch(category)):
        raise errors.InvalidRequest(
            "category is a code: letters, digits, _ . : -", field="category"
        )
    merchant_id = "m-" + secrets.token_hex(6)
    merchants.register_merchant(conn, id=merchant_id, at=at, **merchant)
    user_id = _new_user(
        conn,
        login=login_s,
        password=password_s,
        role="merchant",
        at=at,
        display_name=merchant.get("name"),
        merchant_id=merchant_id,
    )
    return {"user_id": user_id, "merchant_id": merchant_id, "status": "pending"}


def create_staff(
    conn: Connection,
    *,
    login: object,
    password: object,
    role: str,
    at: datetime,
    issuer_id: str | None = None,
    display_name: str | None = None,
    member_id: str | None = None,
    merchant_id: str | None = None,
) -> str:
    """An operator, issuer admin or promoter account (or a linked member/merchant login)."""
    login_s, password_s = _check_credentials(login, password)
    if role not in ROLES:
        raise errors.InvalidRequest(f"role must be one of {', '.join(ROLES)}", field="role")
    if role in ("issuer_admin", "promoter") and issuer_id is None:
        raise errors.InvalidRequest(f"a {role} belongs to an issuer", field="issuer_id")
    if issuer_id is not None and issuer_id not in policy.catalog(conn).issuers.parent:
        raise errors.UnknownIssuer(field="issuer_id")
    return _new_user(
        conn,
        login=login_s,
        password=password_s,
        role=role,
        at=at,
        display_name=display_name,
        issuer_id=issuer_id,
        member_id=member_id,
        merchant_id=merchant_id,
    )


def login(
    conn: Connection, *, login: object, password: object, at: datetime
) -> dict[str, Any] | None:
    """Exchange a login and password for a token; repeated failures lock the account.

    A wrong password returns None rather than raising, so that the caller commits the
    failure count before it answers ``unauthorized``.
    """
    if (
        not isinstance(login, str)
        or not isinstance(password, str)
        or len(password) > MAX_PASSWORD_LENGTH
    ):
        raise errors.Unauthorized(field="login")
    row = conn.execute(select(users).where(users.c.login == login.strip().lower())).first()
    if row is None or not row.active:
        _hasher().hash(password)  # spend the same time as a real check
        raise errors.Unauthorized(field="login")
    if row.locked_until is not None and _aware(row.locked_until) > at:
        raise errors.AccountLocked(field="login")
    try:
        _hasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        failures = row.failed_logins + 1
        cfg = settings()
        locked = (
            at + timedelta(minutes=cfg.login_lockout_minutes)
            if failures >= cfg.login_max_failures
            else None
        )
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(failed_logins=0 if locked else failures, locked_until=locked)
        )
        return None
    conn.execute(
        update(users).where(users.c.id == row.id).values(failed_logins=0, locked_until=None)
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = at + timedelta(minutes=settings().token_ttl_minutes)
    conn.execute(
        insert(sessions),
        {
            "token_hash": _digest(token),
            "user_id": row.id,
            "created_at": at,
            "expires_at": expires,
            "revoked_at": None,
        },
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_at": expires,
        "role": row.role,
        "user_id": row.id,
    }


def _aware(value: datetime) -> datetime:
    from eum.clock import as_kst

    return as_kst(value) if value.tzinfo is None else value


def logout(conn: Connection, *, token: str, at: datetime) -> None:
    """Revoke a token; it stops working at once (in this process; see ``recent``)."""
    recent.forget(token)
    conn.execute(
        update(sessions)
        .where(sessions.c.token_hash == _digest(token), sessions.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def authenticate(conn: Connection, token: str, at: datetime) -> tuple[Principal, datetime]:
    """The principal behind a token that exists, is not revoked and has not expired,
    with the token's expiry."""
    row = conn.execute(
        select(sessions.c.expires_at, sessions.c.revoked_at, users)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == _digest(token))
    ).first()
    if row is None or row.revoked_at is not None or not row.active or _aware(row.expires_at) <= at:
        raise errors.Unauthorized()
    issuers = districts = None
    if row.role in ("issuer_admin", "promoter"):
        tree = policy.catalog(conn).issuers
        issuers, districts = tree.subtree(row.issuer_id), tree.covers(row.issuer_id)
    principal = Principal(
        user_id=row.id,
        login=row.login,
        role=row.role,
        member_id=row.member_id,
        merchant_id=row.merchant_id,
        issuer_id=row.issuer_id,
        issuers=issuers,
        districts=districts,
    )
    return principal, _aware(row.expires_at)


class RecentTokens:
    """Principals of tokens checked in the last ``ttl`` seconds, so that a burst of
    requests with one token reads its session once.

    A token revoked by ``logout`` in this process stops working at once; a change made
    by another process (a logout served by another worker, a deactivated account) is
    seen within ``ttl``. A token never outlives its own expiry.
    """

    def __init__(self, ttl: float = 2.0, size: int = 100_000) -> None:
        self.ttl = ttl
        self.size = size
        self._seen: dict[str, tuple[Principal, float, datetime]] = {}
        self._lock = threading.Lock()

    def known(self, token: str, at: datetime) -> Principal | None:
        """The principal of a token checked less than ``ttl`` ago, if any."""
        hit = self._seen.get(_digest(token))
        if hit is not None and time.monotonic() < hit[1] and at < hit[2]:
            return hit[0]
        return None

    def authenticate(self, conn_factory: Any, token: str, at: datetime) -> Principal:
        found_recently = self.known(token, at)
        if found_recently is not None:
            return found_recently
        digest, clock = _digest(token), time.monotonic()
        with conn_factory() as conn:
            found, expires = authenticate(conn, token, at)
        with self._lock:
            if len(self._seen) >= self.size:
                self._seen.clear()
            self._seen[digest] = (found, clock + self.ttl, expires)
        return found

    def forget(self, token: str) -> None:
        with self._lock:
            self._seen.pop(_digest(token), None)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


recent = RecentTokens()
