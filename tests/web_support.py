"""Driving the web app's pages without a browser: a client per person that signs in
through the login form and posts forms with the page's CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api_support import PASSWORD, Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Web:
    """A browser-like client of the web app (cookies kept, redirects not followed)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = TestClient(api.app, follow_redirects=False)
        self._csrf: str | None = None

    def get(self, path: str, **kw: Any) -> Any:
        response = self.client.get(path, **kw)
        if "text/html" in response.headers.get("content-type", ""):
            found = CSRF.search(response.text)
            if found:
                self._csrf = found.group(1)
        return response

    def csrf(self) -> str:
        if self._csrf is None:
            self.get("/login" if "eum_session" not in self.client.cookies else "/")
        assert self._csrf is not None
        return self._csrf

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Post a form as the page would (with this visitor's CSRF token); a response
        that signs in or out changes the token the next form needs."""
        response = self.client.post(path, data={"csrf": self.csrf(), **(data or {})}, **kw)
        if "eum_session" in response.headers.get("set-cookie", ""):
            self._csrf = None
        return response

    def login(self, login: str, password: str = PASSWORD) -> Web:
        self.get("/login")
        response = self.post("/login", {"login": login, "password": password})
        assert response.status_code == 303, response.text
        return self


def web_as(engine: Engine, login: str | None = None, api: Api | None = None) -> Web:
    """A web client on ``api`` (a fresh platform if none), signed in as ``login``."""
    web = Web(api or Api(engine))
    return web.login(login) if login else web
