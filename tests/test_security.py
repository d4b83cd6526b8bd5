"""Security: login lockout, CSRF on forms, cookie flags, token expiry and revocation, no
default secret outside the demo, card numbers only as tokens, personal data masked for
staff, and an audit log the database will not let anyone alter.

Time moves by replacing ``now`` where the entry points read it (``travel``), never by
sleeping; limits come from the settings, changed for the test.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from eum import clock, errors
from eum.audit.store import audit_log
from eum.config import DEMO_SECRET, Settings, settings
from eum.privacy import card_token, mask_name, mask_phone, member_name_for
from eum.schema import metadata
from tests.api_support import PASSWORD, Api
from tests.test_hostile_input import fingerprint
from tests.web_support import Web, web_as

REAL_NOW = clock.now


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    return Api(sqlite_engine)


def travel(monkeypatch: pytest.MonkeyPatch, ahead: timedelta) -> None:
    """Make every entry point's clock read ``ahead`` of the real time (from now on)."""

    def later() -> Any:
        return REAL_NOW() + ahead

    later.travelled = True  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        found = getattr(module, "now", None)
        if name.startswith("eum.") and (found is REAL_NOW or hasattr(found, "travelled")):
            monkeypatch.setattr(module, "now", later)


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings, to change for one test (put back afterwards)."""
    current = settings()
    for name in type(current).model_fields:
        monkeypatch.setattr(current, name, getattr(current, name))
    yield current


def login(api: Api, who: str, password: str = PASSWORD) -> Any:
    return api.anonymous.post("/api/v1/auth/login", json={"login": who, "password": password})


# --- login rate limiting and lockout -----------------------------------------------------


def test_failed_logins_lock_the_account_until_the_lockout_ends(
    api: Api, cfg: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.login_max_failures, cfg.login_lockout_minutes = 3, 10
    for _ in range(cfg.login_max_failures - 1):
        assert login(api, "lee", "wrong password").status_code == 401
    assert login(api, "lee").status_code == 200  # two failures do not lock; success resets
    for _ in range(cfg.login_max_failures):
        assert login(api, "lee", "wrong password").status_code == 401
    locked = login(api, "lee")  # the right password, while locked
    assert (locked.status_code, locked.json()["code"]) == (423, "account_locked")
    assert locked.headers["content-type"] == "application/problem+json"
    travel(monkeypatch, timedelta(minutes=9))
    assert login(api, "lee").json()["code"] == "account_locked"
    travel(monkeypatch, timedelta(minutes=10, seconds=1))
    assert login(api, "lee").status_code == 200


def test_the_login_form_says_the_account_is_locked(api: Api, cfg: Settings) -> None:
    cfg.login_max_failures = 2
    web = Web(api)
    web.get("/login")
    for _ in range(2):
        assert web.post("/login", {"login": "kim", "password": "wrong password"}).status_code == 401
    locked = web.post("/login", {"login": "kim", "password": PASSWORD})
    assert locked.status_code == 423 and 'data-code="account_locked"' in locked.text
    assert "eum_session" not in locked.headers.get("set-cookie", "")


# --- CSRF ------------------------------------------------------------------------------


def test_a_money_form_without_the_right_csrf_token_is_refused_and_writes_nothing(
    api: Api,
) -> None:
    kim = web_as(api.engine, "kim", api)
    page = kim.get("/wallet/charge").text
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key is not None
    form = {"key": key.group(1), "amount": "50,000"}
    lee = web_as(api.engine, "lee", api)
    before = fingerprint(api.engine)
    for token in (None, "0" * 32, lee.csrf()):  # none, forged, another person's
        data = form if token is None else {**form, "csrf": token}
        refused = kim.client.post("/wallet/charge", data=data)
        assert refused.status_code == 403, token
    assert fingerprint(api.engine) == before
    assert kim.post("/wallet/charge", form).status_code == 303  # with the page's token
    assert api.as_("kim").get("/api/v1/me/wallet").json()["charged"] == 50_000


# --- cookies ---------------------------------------------------------------------------


def _cookies_of_sign_in(api: Api, base_url: str) -> dict[str, str]:
    """The Set-Cookie headers of the login page and of signing in there (the anonymous
    cookie is sent back by hand: a cookie jar keeps a Secure cookie from plain HTTP,
    as a browser would, while the server here sits behind a proxy that ended TLS)."""
    client = TestClient(api.app, base_url=base_url, follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    anon = re.search(r"eum_anon=([^;]+)", page.headers["set-cookie"])
    assert csrf is not None and anon is not None
    client.cookies.clear()
    signed_in = client.post(
        "/login",
        data={"csrf": csrf.group(1), "login": "kim", "password": PASSWORD},
        headers={"cookie": f"eum_anon={anon.group(1)}"},
    )
    assert signed_in.status_code == 303
    headers = page.headers.get_list("set-cookie") + signed_in.headers.get_list("set-cookie")
    return {h.split("=", 1)[0]: h for h in headers}


def test_session_cookies_are_httponly_samesite_and_secure_over_https(api: Api) -> None:
    cookies = _cookies_of_sign_in(api, "https://eum.example")
    assert {"eum_session", "eum_anon", "eum_flash"} <= set(cookies)
    for name, header in cookies.items():
        flags = {part.strip().lower() for part in header.split(";")}
        assert "secure" in flags and "samesite=lax" in flags, header
        assert name == "eum_lang" or "httponly" in flags, header
    plain = _cookies_of_sign_in(api, "http://eum.example")
    assert "secure" not in plain["eum_session"].lower()


def test_cookies_are_secure_on_plain_http_when_the_setting_says_tls_ends_at_a_proxy(
    api: Api, cfg: Settings
) -> None:
    cfg.cookie_secure = True
    cookies = _cookies_of_sign_in(api, "http://eum.example")
    for header in cookies.values():
        assert "secure" in {p.strip().lower() for p in header.split(";")}, header


def test_the_cookie_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EUM_COOKIE_SECURE", "true")
    assert Settings().cookie_secure is True
    monkeypatch.delenv("EUM_COOKIE_SECURE")
    assert Settings().cookie_secure is False


# --- tokens expire and are revoked --------------------------------------------------------


def test_an_api_token_expires_after_its_time_to_live(
    api: Api, cfg: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.token_ttl_minutes = 30
    kim = api.as_("kim")
    assert kim.get("/api/v1/auth/me").status_code == 200
    travel(monkeypatch, timedelta(minutes=29))
    assert kim.get("/api/v1/auth/me").status_code == 200
    travel(monkeypatch, timedelta(minutes=30))
    expired = kim.get("/api/v1/auth/me")
    assert (expired.status_code, expired.json()["code"]) == (401, "unauthorized")


def test_logout_revokes_an_api_token_at_once(api: Api) -> None:
    kim = api.as_("kim")
    assert kim.get("/api/v1/me/wallet").status_code == 200  # the token is now cached
    assert kim.post("/api/v1/auth/logout").status_code == 204
    assert kim.get("/api/v1/me/wallet").status_code == 401
    assert api.money("kim", "/api/v1/charges", {"amount": 1_000}).status_code == 401


def test_a_web_session_expires_and_signing_out_revokes_its_token(
    api: Api, cfg: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.token_ttl_minutes = 30
    kim = web_as(api.engine, "kim", api)
    assert kim.get("/wallet").status_code == 200
    stolen = kim.client.cookies["eum_session"]
    assert kim.post("/logout").status_code == 303
    thief = TestClient(api.app, follow_redirects=False, cookies={"eum_session": stolen})
    assert thief.get("/wallet").status_code == 303  # back to sign in: the token is dead
    assert (
        thief.get("/api/v1/me/wallet", headers={"Authorization": f"Bearer {stolen}"}).status_code
        == 401
    )

    lee = web_as(api.engine, "lee", api)
    assert lee.get("/wallet").status_code == 200
    travel(monkeypatch, timedelta(minutes=31))
    expired = lee.get("/wallet")
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")


# --- no default secret outside the demo --------------------------------------------------


def test_outside_demo_mode_there_is_no_default_secret() -> None:
    with pytest.raises(RuntimeError, match="EUM_SECRET_KEY"):
        Settings(demo=False, secret_key=None).signing_key()
    assert Settings(demo=True, secret_key=None).signing_key() == DEMO_SECRET
    assert Settings(demo=False, secret_key="k" * 40).signing_key() == b"k" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_eum_serve_refuses_to_start_in_production_without_a_secret(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUM_")}
    env |= {"EUM_DEMO": "false", "EUM_DATABASE_URL": f"sqlite:///{tmp_path / 'eum.sqlite3'}"}
    eum = Path(sys.executable).with_name("eum")
    done = subprocess.run(
        [str(eum), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "EUM_SECRET_KEY must be set when EUM_DEMO is false" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout
    with socket.socket() as s:  # nothing is listening there
        assert s.connect_ex(("127.0.0.1", port)) != 0


# --- card numbers ----------------------------------------------------------------------


def test_no_table_has_a_column_for_a_card_number() -> None:
    """A card is its brand (issuer) and kind (SPEC 3.3); rules name which brands and
    kinds they pay for, merchants their card fee: nothing holds a card's number."""
    carded = {
        column.name
        for table in metadata.sorted_tables
        for column in table.columns
        if re.search(r"card|pan|number|pin|cvc|cvv", column.name)
    }
    assert carded == {"card_issuer_id", "card_kind", "card_kinds", "cards", "card_fee_bps"}


def test_a_card_number_is_kept_as_a_keyed_token_and_its_last_four_digits() -> None:
    token, last4 = card_token("9410 1234 5678 4321", b"server key")
    assert last4 == "4321" and len(token) == 64
    assert "94101234" not in token and "5678" not in token
    assert card_token("9410-1234-5678-4321", b"server key") == (token, last4)  # same card
    assert card_token("9410123456784321", b"another key")[0] != token  # needs the key
    assert card_token("9410123456784322", b"server key")[0] != token
    for bad in ("1234", "9410 1234 5678 432x", "٩٤١٠١٢٣٤٥٦٧٨٤٣٢١", "1" * 20):
        with pytest.raises(ValueError):
            card_token(bad, b"server key")


# --- personal data masked for staff ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("홍길동", "홍*동"), ("김수", "김*"), ("남궁민수", "남**수"), ("이", "*"), (None, None)],
)
def test_names_are_masked(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("010-1234-5678", "010-****-5678"),
        ("010-123-4567", "010-***-4567"),
        ("01012345678", "010****5678"),
        (None, None),
    ],
)
def test_phone_numbers_are_masked(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


NAME = "홍길동"


def _hong_pays_in_gyeyang(api: Api) -> str:
    signed_up = api.anonymous.post(
        "/api/v1/auth/signup/member",
        json={"login": "hong", "password": "hong-pass-1", "name": NAME, "card": "gyeyang"},
    )
    assert signed_up.status_code == 201, signed_up.text
    token = login(api, "hong", "hong-pass-1").json()["access_token"]
    hong = TestClient(api.app)
    hong.headers["Authorization"] = f"Bearer {token}"
    for path, body in (
        ("/api/v1/charges", {"amount": 50_000}),
        ("/api/v1/payments", {"merchant": "m-bunsik", "amount": 10_000}),
    ):
        done = hong.post(path, json=body, headers={"Idempotency-Key": path})
        assert done.status_code == 201, done.text
    mine = hong.get("/api/v1/payments").json()["items"]
    assert [p["member_name"] for p in mine] == [NAME]  # the member sees its own in full
    return str(signed_up.json()["member_id"])


def test_an_admin_sees_a_member_s_name_masked_and_never_in_full(api: Api) -> None:
    member_id = _hong_pays_in_gyeyang(api)
    admin = api.as_("incheon-admin")
    payments = admin.get("/api/v1/payments").json()["items"]
    assert [p["member_name"] for p in payments if p["member"] == member_id] == ["홍*동"]
    payment_id = next(p["id"] for p in payments if p["member"] == member_id)
    for who in ("incheon-admin", "gyeyang-admin", "operator", "bunsik"):
        seen = api.as_(who).get(f"/api/v1/payments/{payment_id}").json()
        assert seen["member_name"] == "홍*동", who
    gets = [
        "/api/v1/payments",
        f"/api/v1/payments/{payment_id}",
        "/api/v1/audit",
        "/api/v1/stats/overview",
        "/api/v1/stats/monthly",
        "/api/v1/merchants",
        "/api/v1/merchants/m-bunsik/sales",
        "/api/v1/rules",
        "/api/v1/budgets",
        "/api/v1/issuers",
        "/api/v1/campaigns",
    ]
    for who in ("incheon-admin", "operator", "promoter"):
        for path in gets:
            body = api.as_(who).get(path).text
            assert NAME not in body, (who, path)


def test_the_admin_pages_and_exports_never_show_a_member_s_full_name(api: Api) -> None:
    _hong_pays_in_gyeyang(api)
    admin = web_as(api.engine, "incheon-admin", api)
    seen: set[str] = set()
    todo = ["/admin"]
    while todo and len(seen) < 80:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = admin.get(path)
        assert response.status_code == 200, path
        assert NAME not in response.text, path
        for link in re.findall(r'href="(/admin[^"#]*)"', response.text):
            todo.append(link.replace("&amp;", "&"))
    assert len(seen) >= 10 and any(p.startswith("/admin/export/") for p in seen), seen


def test_a_big_budget_burning_slowly_runs_out_on_the_calendar_s_last_day() -> None:
    """Found by the crawl above: 10 billion won paying 388 won a week ran out after
    9999-12-31, and /admin answered 500."""
    from datetime import date

    from eum.stats.foresight import forecast

    today = date(2026, 12, 1)
    slow = forecast(10_000_000_000, [388, 0, 0, 0, 0, 0, 0], today)
    assert slow.runs_out == date.max and slow.days_left == 180_412_372 and slow.state == "ok"
    assert slow.latest == slow.earliest == date.max
    assert forecast(7_000, [1_000] * 7, today).runs_out == date(2026, 12, 8)


def test_only_the_member_itself_sees_its_name_in_full() -> None:
    from eum.auth.model import Principal, Role

    def who(role: Role, member_id: str | None = None) -> Principal:
        return Principal(user_id="u", login="x", role=role, member_id=member_id)

    assert member_name_for(who("member", "u-1"), "u-1", NAME) == NAME
    for viewer in (who("member", "u-2"), who("issuer_admin"), who("operator"), None):
        assert member_name_for(viewer, "u-1", NAME) == "홍*동"


# --- the audit log is append-only ------------------------------------------------------


def test_the_database_refuses_to_alter_or_delete_the_audit_log(engine: Engine) -> None:
    api = Api(engine)
    made = api.as_("gyeyang-admin").post(
        "/api/v1/budgets", json={"id": "audited", "owner": "gyeyang", "amount": 1_000}
    )
    assert made.status_code == 201
    with engine.connect() as conn:
        before = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert [r.target for r in before if r.action.startswith("budget")] == ["budget:audited"]
    attempts: list[Any] = [
        update(audit_log).values(actor_role="operator"),
        update(audit_log).where(audit_log.c.target == "budget:audited").values(detail={}),
        delete(audit_log).where(audit_log.c.target == "budget:audited"),
        delete(audit_log),
    ]
    if engine.dialect.name == "postgresql":
        attempts.append(text("TRUNCATE audit_log"))
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        assert conn.execute(select(audit_log).order_by(audit_log.c.id)).all() == before
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() > 0


def test_one_address_is_slowed_down_whatever_logins_it_tries(sqlite_engine: Engine) -> None:
    """Past the per-minute limit of sign-in attempts from one address, any login (even a
    right password) gets 429 too_many_attempts with Retry-After, on the API and the web
    form; the window slides, and other addresses are not affected."""
    from eum.auth import throttle

    limit = settings().login_attempts_per_minute
    api = Api(sqlite_engine)
    for n in range(limit):
        who = f"nobody{n}"
        answer = api.anonymous.post("/api/v1/auth/login", json={"login": who, "password": "x"})
        assert answer.status_code == 401
    refused = api.anonymous.post("/api/v1/auth/login", json={"login": "kim", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert refused.headers["Retry-After"]
    web = Web(api)
    web.get("/login")
    page = web.post("/login", {"login": "kim", "password": PASSWORD})
    assert page.status_code == 429 and "eum_session" not in page.headers.get("set-cookie", "")
    window = throttle.LoginThrottle(limit=2, window=60.0)
    window.attempt("10.0.0.1", at=0.0)
    window.attempt("10.0.0.1", at=1.0)
    with pytest.raises(errors.TooManyAttempts):
        window.attempt("10.0.0.1", at=2.0)
    window.attempt("10.0.0.2", at=2.0)  # another address
    window.attempt("10.0.0.1", at=60.5)  # the first attempt left the window
