"""Public pages: sign-in with CSRF and safe redirects, sign-up, the language switch,
error pages, and the finder with each citizen's own cashback rate."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.api_support import Api
from tests.web_support import Web, web_as


def test_sign_in_sets_an_httponly_session_and_goes_home_by_role(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    web.get("/login")
    response = web.post("/login", {"login": "kim", "password": "correct horse battery"})
    assert response.status_code == 303
    assert response.headers["location"] == "/wallet"
    cookie = next(h for h in response.headers.get_list("set-cookie") if "eum_session" in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert web.get("/").text.count("로그아웃") == 1


def test_a_wrong_password_shows_the_form_again_with_a_korean_message(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    web.get("/login")
    response = web.post("/login", {"login": "kim", "password": "wrong password!"})
    assert response.status_code == 401
    assert "아이디 또는 비밀번호가 맞지 않습니다." in response.text
    assert 'role="alert"' in response.text


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    sqlite_engine: Engine,
) -> None:
    web = Web(Api(sqlite_engine))
    web.get("/login")
    response = web.client.post("/login", data={"login": "kim", "password": "correct horse battery"})
    assert response.status_code == 403
    assert "eum_session" not in response.headers.get("set-cookie", "")
    forged = web.client.post("/login", data={"csrf": "0" * 32, "login": "kim", "password": "x"})
    assert forged.status_code == 403


def test_sign_in_never_redirects_to_another_site(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        web = Web(api)
        web.get("/login")
        response = web.post(
            "/login", {"login": "kim", "password": "correct horse battery", "next": target}
        )
        assert response.headers["location"] == "/wallet"


def test_a_page_for_members_sends_strangers_to_sign_in_and_others_to_a_403(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    anonymous = Web(api)
    response = anonymous.get("/wallet")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/wallet")
    shop = web_as(sqlite_engine, "bunsik", api)
    refused = shop.get("/wallet")
    assert refused.status_code == 403
    assert "권한" in refused.text
    missing = shop.get("/no-such-page")
    assert missing.status_code == 404
    assert "찾을 수 없습니다." in missing.text


def test_a_citizen_signs_up_and_lands_signed_in_on_the_wallet(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    page = web.get("/signup")
    assert "카드 브랜드" in page.text and "계양" in page.text
    response = web.post(
        "/signup",
        {"login": "newbie", "password": "long enough 1", "card": "gyeyang", "kind": "personal"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/wallet"
    taken = web.post(
        "/signup",
        {"login": "newbie", "password": "long enough 1", "card": "gyeyang", "kind": "personal"},
    )
    assert taken.status_code == 409
    assert 'data-code="already_exists"' in taken.text
    assert 'name="login" id="f-login" value="newbie"' in taken.text


def test_a_shop_registers_and_waits_for_approval(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    web.get("/signup/shop")
    bad = web.post(
        "/signup/shop",
        {
            "login": "shopkeeper",
            "password": "long enough 1",
            "name": "새 가게",
            "district": "gyeyang",
            "annual_sales": "삼억",
        },
    )
    assert bad.status_code == 422
    assert 'data-code="invalid_amount"' in bad.text
    response = web.post(
        "/signup/shop",
        {
            "login": "shopkeeper",
            "password": "long enough 1",
            "name": "새 가게",
            "district": "gyeyang",
            "category": "cafe",
            "annual_sales": "300,000,000",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/shop"


def test_english_on_request(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    assert "로그인" in web.get("/login").text
    switch = web.get("/lang/en?back=/login")
    assert switch.headers["location"] == "/login"
    page = web.get("/login")
    assert 'lang="en"' in page.text and "Sign in" in page.text


def test_the_finder_shows_this_card_s_cashback_rate_at_each_shop(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    anonymous = Web(api).get("/shops")
    assert anonymous.status_code == 200
    assert "m-bunsik" in anonymous.text
    assert "로그인하면 내 카드의 캐시백이 보입니다." in anonymous.text
    kim = web_as(sqlite_engine, "kim", api)
    page = kim.get("/shops?district=gyeyang")
    assert 'data-merchant="m-bunsik"' in page.text
    assert "내 카드로 오늘 받는 캐시백" in page.text
    assert "m-cafe" not in page.text
