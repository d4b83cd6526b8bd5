"""The ASGI application: health, platform totals (JSON and a page) and OpenAPI.

Created by ``create_app`` so that tests can point it at their own database.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine, text

from eum import __version__
from eum.config import settings
from eum.db import make_engine
from eum.errors import EumError
from eum.stats.service import totals
from eum.web import pages


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        title="Eum API",
        version=__version__,
        description="인천e음 같은 지역사랑상품권을 운영하는 공용 플랫폼의 API",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.engine = engine or make_engine(settings().database_url)

    @app.exception_handler(EumError)
    async def _domain_error(_request: Request, exc: EumError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status,
            media_type="application/problem+json",
            content={
                "type": f"https://eum.example/errors/{exc.code}",
                "title": exc.message_ko,
                "title_en": exc.message_en,
                "status": exc.status,
                "code": exc.code,
                "detail": exc.detail,
                "field": exc.field,
            },
        )

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Liveness and database reachability."""
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": app.state.engine.dialect.name}

    @app.get("/api/v1/stats/totals", tags=["statistics"])
    def platform_totals() -> dict[str, int]:
        """Platform-wide totals: members, merchants, issuance, payments, donations."""
        with app.state.engine.connect() as conn:
            return totals(conn)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        with app.state.engine.connect() as conn:
            data = totals(conn)
        return pages.render(request, "home.html", totals=data)

    return app
