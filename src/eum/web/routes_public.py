"""Pages anyone can open: the home page, sign-in and sign-out, sign-up for citizens and
shops, the language switch, and the merchant finder (with the signed-in citizen's own
cashback at each shop)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from eum import errors
from eum.auth import service as auth
from eum.auth import throttle
from eum.clock import now
from eum.merchants import service as merchants
from eum.merchants import views as merchant_views
from eum.payments import quote
from eum.stats.service import totals
from eum.wallets import service as wallets
from eum.web import i18n, names, pages, session

router = APIRouter(include_in_schema=False)

HOME_OF = {
    "member": "/wallet",
    "merchant": "/shop",
    "issuer_admin": "/admin",
    "operator": "/admin",
    "promoter": "/",
}
FINDER_PAGE = 20


_db = pages.database


def _safe_next(target: str | None) -> str | None:
    """A local path to go back to after sign-in (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@router.get("/")
def home(request: Request) -> Response:
    data = _db(request).read(totals)
    return pages.render(request, "public/home.html", totals=data)


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, back: str | None = None) -> Response:
    response = pages.redirect(request, _safe_next(back) or "/")
    session.set_lang(request, response, lang)
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return pages.render(request, "public/login.html", next=_safe_next(next), form={})


@router.post("/login")
def login(request: Request, form: pages.Posted) -> Response:
    target = _safe_next(form.get("next"))
    try:
        throttle.logins.attempt(request.client.host if request.client else None)
        out = _db(request).run(
            lambda c: auth.login(
                c, login=form.get("login", ""), password=form.get("password", ""), at=now()
            )
        )
        if out is None:
            raise errors.Unauthorized(field="login")
    except errors.EumError as exc:
        context = pages.form_error(request, exc)
        if isinstance(exc, errors.Unauthorized):
            context["error"]["text"] = i18n.translate(
                "아이디 또는 비밀번호가 맞지 않습니다.", session.visitor(request).lang
            )
        return pages.render(
            request,
            "public/login.html",
            status=exc.status,
            next=target,
            form={"login": form.get("login", "")},
            **context,
        )
    response = pages.redirect(request, target or HOME_OF.get(out["role"], "/"), "로그인했습니다.")
    session.sign_in(request, response, out["access_token"])
    return response


@router.post("/logout")
def logout(request: Request, form: pages.Posted) -> Response:
    who = session.visitor(request)
    if who.token:
        token = who.token
        _db(request).run(lambda c: auth.logout(c, token=token, at=now()))
    response = pages.redirect(request, "/", "로그아웃했습니다.")
    session.sign_out(response)
    return response


def _signup_context(request: Request) -> dict[str, Any]:
    db = _db(request)
    return {
        "brands": db.read(names.brands),
        "districts": db.read(names.districts_known),
        "categories": names.CATEGORIES,
    }


@router.get("/signup")
def signup_page(request: Request) -> Response:
    return pages.render(request, "public/signup.html", form={}, **_signup_context(request))


def _sign_up(
    request: Request,
    form: dict[str, str],
    template: str,
    create: Callable[[Connection, datetime], Any],
    target: str,
    message: str,
) -> Response:
    """Create the account with ``create``, sign it in and go to ``target``; on an error,
    the form again (without the password) with the error at its field."""
    db = _db(request)
    try:
        db.run(lambda c: create(c, now()))
        out = db.run(
            lambda c: auth.login(
                c, login=form.get("login", ""), password=form.get("password", ""), at=now()
            )
        )
    except errors.EumError as exc:
        form.pop("password", None)
        return pages.render(
            request,
            template,
            status=exc.status,
            form=form,
            **pages.form_error(request, exc),
            **_signup_context(request),
        )
    response = pages.redirect(request, target, message)
    if out is not None:
        session.sign_in(request, response, out["access_token"])
    return response


@router.post("/signup")
def signup(request: Request, form: pages.Posted) -> Response:
    def create(conn: Connection, at: datetime) -> Any:
        return auth.signup_member(
            conn,
            login=form.get("login", ""),
            password=form.get("password", ""),
            name=form.get("name") or None,
            card_issuer_id=form.get("card", ""),
            card_kind=form.get("kind", "personal"),
            home_district=form.get("home_district") or None,
            at=at,
        )

    return _sign_up(
        request,
        form,
        "public/signup.html",
        create,
        "/wallet",
        "가입을 환영합니다! 충전하고 바로 쓰세요.",
    )


@router.get("/signup/shop")
def shop_signup_page(request: Request) -> Response:
    return pages.render(request, "public/signup_shop.html", form={}, **_signup_context(request))


@router.post("/signup/shop")
def shop_signup(request: Request, form: pages.Posted) -> Response:
    def create(conn: Connection, at: datetime) -> Any:
        typed = form.get("annual_sales")
        return auth.signup_merchant(
            conn,
            login=form.get("login", ""),
            password=form.get("password", ""),
            at=at,
            merchant={
                "name": form.get("name", ""),
                "district": form.get("district", ""),
                "category": form.get("category") or None,
                "annual_sales": pages.amount(typed, "annual_sales") if typed else 0,
            },
        )

    return _sign_up(
        request,
        form,
        "public/signup_shop.html",
        create,
        "/shop",
        "등록 신청을 받았습니다. 관할 구·군의 승인 뒤에 결제를 받을 수 있습니다.",
    )


@router.get("/shops")
def finder(
    request: Request,
    q: str | None = None,
    district: str | None = None,
    category: str | None = None,
    benefit_plus: str | None = None,
    after: str | None = None,
) -> Response:
    """가맹점 찾기: 이름·업종·구·군, 혜택플러스; 시민에게는 내 카드의 오늘 캐시백."""
    who = session.visitor(request)
    q = (q or "").strip()[:100] or None
    bp = True if benefit_plus == "1" else None
    db = _db(request)

    def read(conn: Any) -> dict[str, Any]:
        items, last = merchant_views.search(
            conn,
            q=q,
            district=district or None,
            category=category or None,
            benefit_plus=bp,
            limit=FINDER_PAGE,
            after=(after or None),
        )
        rates: dict[str, quote.ShopRate] = {}
        if who.principal is not None and who.principal.member_id:
            member = wallets.find_member(conn, who.principal.member_id)
            shops = [merchants.find_merchant(conn, m["id"]) for m in items]
            rates = quote.shop_rates(conn, member, shops, now())
        return {"items": items, "last": last, "rates": rates}

    found = db.read(read)
    return pages.render(
        request,
        "public/finder.html",
        shops=found["items"],
        next_after=found["last"],
        rates=found["rates"],
        query={
            "q": q or "",
            "district": district or "",
            "category": category or "",
            "benefit_plus": benefit_plus or "",
        },
        districts=db.read(names.districts_known),
        categories=names.CATEGORIES,
    )
