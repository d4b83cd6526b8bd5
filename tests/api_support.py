"""A platform behind the ASGI app with a logged-in client for every role.

Users: ``operator``; ``incheon-admin`` (all of Incheon); ``gyeyang-admin`` and
``bupyeong-admin`` (one district each); ``promoter`` (Gyeyang); ``kim`` and ``lee``
(members u-kim, u-lee of GYEYANG_CITY); ``bunsik``, ``mart`` (Gyeyang merchants) and
``cafe`` (a Bupyeong merchant).
"""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eum.api.app import create_app
from eum.auth import service as auth
from eum.clock import now
from tests.conftest import GYEYANG_CITY, Platform

PASSWORD = "correct horse battery"
USERS: dict[str, dict[str, Any]] = {
    "operator": {"role": "operator"},
    "incheon-admin": {"role": "issuer_admin", "issuer_id": "incheon"},
    "gyeyang-admin": {"role": "issuer_admin", "issuer_id": "gyeyang"},
    "bupyeong-admin": {"role": "issuer_admin", "issuer_id": "bupyeong"},
    "promoter": {"role": "promoter", "issuer_id": "gyeyang"},
    "kim": {"role": "member", "member_id": "u-kim"},
    "lee": {"role": "member", "member_id": "u-lee"},
    "bunsik": {"role": "merchant", "merchant_id": "m-bunsik"},
    "mart": {"role": "merchant", "merchant_id": "m-mart"},
    "cafe": {"role": "merchant", "merchant_id": "m-cafe"},
}
_keys = itertools.count(1)


class Api:
    """The app on a fresh platform; ``as_(name)`` gives that user's authorised client."""

    def __init__(self, engine: Engine, setup: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self.platform = Platform(engine).setup(setup or GYEYANG_CITY)
        self.app = create_app(engine)
        self.anonymous = TestClient(self.app)

        def make(conn: Any) -> None:
            for login, spec in USERS.items():
                auth.create_staff(conn, login=login, password=PASSWORD, at=now(), **spec)

        self.platform.run(make)
        self._clients: dict[str, TestClient] = {}

    def as_(self, login: str) -> TestClient:
        if login not in self._clients:
            token = self.anonymous.post(
                "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
            ).json()["access_token"]
            client = TestClient(self.app)
            client.headers["Authorization"] = f"Bearer {token}"
            self._clients[login] = client
        return self._clients[login]

    def money(self, login: str, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        """POST a money request with a fresh (or given) Idempotency-Key."""
        return self.as_(login).post(
            path, json=body, headers={"Idempotency-Key": key or f"k-{next(_keys)}"}
        )
