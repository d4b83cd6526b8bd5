"""Real-browser tests: the real server (``eum serve``) on a fresh SQLite file holding the
GYEYANG_CITY platform and the users of tests/api_support.py, driven by Debian's
Chromium through Playwright.

One server and one browser per session; every test gets fresh browser contexts (a
phone, 375x812, for citizen and merchant pages; a desk, 1280x900, for admin pages), so
no cookie leaks from one test into another. The platform's data is shared by the tests
of the session: each test signs up its own citizens and names its own rules and budgets,
and reads what it depends on (a budget's balance) before it pays.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from eum.auth import service as auth
from eum.clock import now
from eum.db import make_engine
from eum.migrate import upgrade
from tests.api_support import PASSWORD, USERS
from tests.conftest import GYEYANG_CITY, Platform

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("EUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 375, "height": 812}
DESK: ViewportSize = {"width": 1280, "height": 900}
START_TIMEOUT_SECONDS = 30
ACTION_TIMEOUT_MS = 10_000
_keys = count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build_platform(url: str) -> None:
    """GYEYANG_CITY and the test users, written before the server opens the file."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        platform = Platform(engine).setup(GYEYANG_CITY)

        def users(conn: Any) -> None:
            for login, spec in USERS.items():
                auth.create_staff(conn, login=login, password=PASSWORD, at=now(), **spec)

        platform.run(users)
    finally:
        engine.dispose()


@dataclass
class Server:
    """The running ``eum serve`` and a JSON API client for setting the stage."""

    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, login: str, password: str = PASSWORD) -> str:
        if login not in self.tokens:
            response = httpx.post(
                f"{self.base_url}/api/v1/auth/login",
                json={"login": login, "password": password},
            )
            assert response.status_code == 200, response.text
            self.tokens[login] = response.json()["access_token"]
        return self.tokens[login]

    def api(self, login: str, method: str, path: str, json: Any = None) -> httpx.Response:
        """Call the JSON API as ``login`` (a fresh Idempotency-Key on every call)."""
        return httpx.request(
            method,
            f"{self.base_url}/api/v1{path}",
            json=json,
            headers={
                "Authorization": f"Bearer {self.token(login)}",
                "Idempotency-Key": f"browser-{os.getpid()}-{next(_keys)}",
            },
            timeout=20,
        )


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="eum-browser-") as tmp:
        url = f"sqlite:///{tmp}/eum.sqlite3"
        _build_platform(url)
        port = _free_port()
        env = {
            **os.environ,
            "EUM_DATABASE_URL": url,
            "EUM_DEMO": "true",
            # every journey signs in from 127.0.0.1: not a password-guessing client
            "EUM_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
        }
        eum = Path(sys.executable).with_name("eum")
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(eum), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base_url, proc, log_path)
            yield Server(base_url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"eum serve exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"eum serve did not answer in {START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")


# Module scope: Playwright's sync API keeps an event loop running in the main thread while
# it lives; ending it with the module leaves later test modules free to use asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` to install it")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser, server: Server) -> Iterator[OpenPage]:
    """``open_page(phone=True)``: a page in a fresh context (its own cookies)."""
    contexts: list[BrowserContext] = []

    def make(phone: bool = True) -> Page:
        context = browser.new_context(
            base_url=server.base_url,
            viewport=PHONE if phone else DESK,
            locale="ko-KR",
            timezone_id="Asia/Seoul",
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def phone(open_page: OpenPage) -> Page:
    return open_page(phone=True)


@pytest.fixture
def desk(open_page: OpenPage) -> Page:
    return open_page(phone=False)


def sign_in(page: Page, login: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (lands on the person's home page)."""
    page.goto("/login")
    page.fill("#f-login", login)
    page.fill("#f-password", password)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Page, name: str) -> None:
    """Keep a full-page PNG of a main page under tests/artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fits_phone(page: Page) -> bool:
    """No horizontal scroll at 375 px wide."""
    width = page.evaluate("document.documentElement.scrollWidth")
    return int(width) <= PHONE["width"]


def won(amount: int) -> str:
    """An amount as the pages write it: 12,345원."""
    return f"{amount:,}원"


def unique(prefix: str) -> str:
    """A login or id no other test of the session uses."""
    return f"{prefix}-{next(_keys)}-{os.getpid() % 1000}"


def rate_of(rule_id: str) -> int:
    """A rule's rate in bps, as GYEYANG_CITY defines it."""
    return int(next(r for r in GYEYANG_CITY["rules"] if r["id"] == rule_id)["rate_bps"])


def merchant_of(merchant_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in GYEYANG_CITY["merchants"] if m["id"] == merchant_id)
    return found
