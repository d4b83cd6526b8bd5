"""The server: health, totals as JSON and as a Korean page with amounts like 12,345원."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eum.api.app import create_app
from eum.web.pages import won
from tests.conftest import GYEYANG_CITY, Platform


def test_won_formats_amounts_the_korean_way() -> None:
    assert won(12345) == "12,345원"
    assert won(0) == "0원"
    assert won(1_000_000_000) == "1,000,000,000원"


def test_health_reports_the_database(engine: Engine) -> None:
    client = TestClient(create_app(engine))
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["database"] == engine.dialect.name


def test_the_home_page_shows_live_totals(engine: Engine) -> None:
    platform = Platform(engine).setup(GYEYANG_CITY)
    platform.event("charge", key="c1", member="u-kim", amount=12_345)
    client = TestClient(create_app(engine))
    assert client.get("/api/v1/stats/totals").json()["issued"] == 12_345
    page = client.get("/")
    assert page.status_code == 200
    assert 'lang="ko"' in page.text
    assert '<div class="value" id="issued">12,345원</div>' in page.text
    assert '<div class="value" id="members">2명</div>' in page.text


def test_openapi_is_served_under_the_versioned_path(sqlite_engine: Engine) -> None:
    client = TestClient(create_app(sqlite_engine))
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/health" in spec["paths"]
