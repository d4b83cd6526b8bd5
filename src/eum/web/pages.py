"""Rendering pages: templates, the filters every page uses (12,345원), the visitor, its
language and CSRF token, messages carried across a redirect, and form errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from eum import errors
from eum.auth.model import Principal
from eum.db import Database
from eum.web import charts, i18n, names, session
from eum.web.session import Visitor, check_csrf, finish, visitor

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "eum_flash"


def won(amount: int | None) -> str:
    """12345 -> '12,345원' (Korean money format)."""
    return f"{int(amount or 0):,}원"


def count(n: int | None) -> str:
    return f"{int(n or 0):,}"


def percent(bps: int | None) -> str:
    """Basis points as a percentage: 150 -> '1.5%'."""
    value = int(bps or 0) / 100
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def kst(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time (aware datetime or ISO text) in KST."""
    from eum.clock import as_kst, parse_time

    if value is None or value == "":
        return ""
    try:
        return as_kst(parse_time(value)).strftime(fmt)
    except (ValueError, TypeError):
        return str(value)


env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
env.filters["won"] = won
env.filters["count"] = count
env.filters["percent"] = percent
env.filters["kst"] = kst
env.globals["charts"] = charts
env.globals["names"] = names


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``name`` for this request's visitor (language, CSRF token, message)."""
    who = visitor(request)
    flash = _take_flash(request)

    def t(text: str, **values: Any) -> str:
        return i18n.translate(text, who.lang, **values)

    html = env.get_template(name).render(
        request=request,
        me=who.principal,
        visitor=who,
        lang=who.lang,
        _=t,
        csrf_field=Markup(f'<input type="hidden" name="csrf" value="{who.csrf}">'),
        flash=flash,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE)
    finish(request, response)
    return response


def redirect(request: Request, url: str, message: str | None = None, **values: Any) -> Response:
    """Go to ``url`` after a form (303), with a message (Korean text, translated on show)."""
    response = RedirectResponse(url, status_code=303)
    if message:
        payload = json.dumps({"text": message, "values": values}, ensure_ascii=False)
        response.set_cookie(
            FLASH_COOKIE,
            quote(payload),
            max_age=60,
            httponly=True,
            samesite="lax",
            secure=session.secure(request),
        )
    finish(request, response)
    return response


def _take_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
        return i18n.translate(str(data["text"]), visitor(request).lang, **dict(data["values"]))
    except (ValueError, KeyError, TypeError):
        return None


def error_text(error: errors.EumError, lang: str) -> str:
    """What a person reads for a domain error: its SPEC message in their language."""
    return error.message_en if lang == "en" else error.message_ko


def form_error(request: Request, error: errors.EumError) -> dict[str, Any]:
    """Context for a form shown again after ``error``: the message, its field and code."""
    return {
        "error": {
            "code": error.code,
            "field": error.field,
            "text": error_text(error, visitor(request).lang),
        }
    }


def require(request: Request, *roles: str) -> Visitor:
    """The visitor, who must be signed in with one of ``roles``; otherwise a domain error
    (shown as the login page or a 403 page by the web error handler)."""
    who = visitor(request)
    if who.principal is None:
        raise errors.Unauthorized("sign in first")
    if roles and who.principal.role not in roles:
        raise errors.Forbidden(f"this page is for: {', '.join(roles)}")
    return who


def database(request: Request) -> Database:
    """The app's database (``app.state.db``)."""
    db: Database = request.app.state.db
    return db


def member(request: Request) -> Principal:
    """The signed-in member (others are sent to sign in or shown a 403 page)."""
    who = require(request, "member")
    assert who.principal is not None and who.principal.member_id is not None
    return who.principal


def shop(request: Request) -> tuple[Principal, str]:
    """The signed-in merchant and its own merchant id."""
    who = require(request, "merchant")
    p = who.principal
    assert p is not None and p.merchant_id is not None, "a merchant login has its merchant"
    return p, p.merchant_id


def admin(request: Request) -> Principal:
    """The signed-in issuer admin or operator (otherwise the login or a 403 page)."""
    who = require(request, "issuer_admin", "operator")
    assert who.principal is not None
    return who.principal


# C0 controls but tab and line breaks, DEL, and U+FFFD, which stands where the posted
# bytes were not UTF-8: no field of ours takes them (and PostgreSQL cannot store NUL).
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


async def form_of(request: Request) -> dict[str, str]:
    """The posted form as text fields, after its CSRF token was checked (in a worker
    thread: telling the visitor may read the session); a field that is not text is
    refused before anything reads it."""
    raw = await request.form()
    fields = {k: v for k, v in raw.items() if isinstance(v, str)}
    await run_in_threadpool(check_csrf, request, fields)
    for name, value in fields.items():
        if NOT_TEXT.search(name + value):
            raise errors.InvalidRequest("control characters are not allowed", field=name)
    return fields


# A handler's posted form: read on the event loop, so that the handler itself can be a
# plain function, which FastAPI runs in a worker thread (database work and password
# hashing never hold up the loop).
Posted = Annotated[dict[str, str], Depends(form_of)]


def amount(value: str | None, field: str = "amount") -> int:
    """A won amount typed by a person: '50,000', '50000원' and ' 50 000 ' all mean 50000."""
    text = (value or "").replace(",", "").replace("원", "").replace(" ", "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise errors.InvalidAmount(field=field)
    return int(text)
