"""Who is using the browser, in which language, and whether a form came from our page.

- The login token (the same one the API hands out, so logout and expiry work alike) sits
  in an HttpOnly, SameSite=Lax cookie; ``Secure`` when the request came over HTTPS, or
  always with ``EUM_COOKIE_SECURE=true`` (behind a proxy that ends TLS).
- Every form carries a CSRF token: an HMAC of the session's token (or, before login, of a
  random value kept in its own cookie) under the server key; a POST without the right
  one is refused before anything is read or written.
- The language is a cookie (``ko`` unless ``en`` was chosen).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from eum import errors
from eum.auth import service as auth
from eum.auth.model import Principal
from eum.clock import now
from eum.config import settings
from eum.db import reading

SESSION_COOKIE = "eum_session"
ANON_COOKIE = "eum_anon"
LANG_COOKIE = "eum_lang"
LANGS = ("ko", "en")
MAX_AGE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Visitor:
    """The person in front of the browser: signed in (``principal``) or not."""

    principal: Principal | None
    token: str | None
    lang: str
    csrf: str

    @property
    def role(self) -> str | None:
        return self.principal.role if self.principal else None


def _mac(value: str) -> str:
    key = settings().signing_key()
    return hmac.new(key, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()[:32]


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "ko")
    return lang if lang in LANGS else "ko"


def visitor(request: Request) -> Visitor:
    """The visitor of this request (cached on the request)."""
    cached = getattr(request.state, "visitor", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    principal = None
    if token:
        try:
            engine = request.app.state.engine
            principal = auth.recent.authenticate(lambda: reading(engine), token, now())
        except errors.EumError:
            token = None  # expired or revoked: as if signed out
    anon = request.cookies.get(ANON_COOKIE)
    if not anon:
        anon = secrets.token_urlsafe(16)
        request.state.new_anon = anon
    csrf = _mac(token if token else "anon:" + anon)
    found = Visitor(principal, token if principal else None, lang_of(request), csrf)
    request.state.visitor = found
    return found


def check_csrf(request: Request, form: Any) -> None:
    """Refuse a form that does not carry this visitor's CSRF token."""
    sent = form.get("csrf") if form is not None else None
    if not isinstance(sent, str) or not hmac.compare_digest(sent, visitor(request).csrf):
        raise errors.Forbidden("the form expired or came from another site: reload the page")


def secure(request: Request) -> bool:
    """Whether cookies set on this request's response are marked Secure."""
    return settings().cookie_secure or request.url.scheme == "https"


def finish(request: Request, response: Response) -> Response:
    """Set the anonymous cookie a new visitor got while rendering (the CSRF token of the
    forms on this page depends on it)."""
    anon = getattr(request.state, "new_anon", None)
    if anon:
        response.set_cookie(
            ANON_COOKIE,
            anon,
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure(request),
        )
    return response


def sign_in(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings().token_ttl_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)


def set_lang(request: Request, response: Response, lang: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang if lang in LANGS else "ko",
        max_age=365 * 24 * 3600,
        samesite="lax",
        secure=secure(request),
    )
