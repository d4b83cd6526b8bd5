"""The ASGI application: health, platform totals (JSON and a page) and OpenAPI.

Created by ``create_app`` so that tests can point it at their own database.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eum import __version__
from eum.api import (
    openapi,
    problems,
    routes_auth,
    routes_benefits,
    routes_community,
    routes_foresight,
    routes_mall,
    routes_merchants,
    routes_open_data,
    routes_ops,
    routes_policy,
    routes_promoters,
    routes_wallet,
)
from eum.api.schemas import NOT_TEXT
from eum.config import settings
from eum.db import Database, make_engine, reading
from eum.mall import images
from eum.payments.writer import make_payment_engine
from eum.stats.service import totals
from eum.web import app as web_app

# Where a body may carry a product photo (eum.mall.images: up to 1 MB, plus a form's parts).
PHOTO_UPLOADS = re.compile(r"^(/api/v1/me/products/[^/]+/image|/shop/products(/[^/]+)?/image)$")
PHOTO_BODY_BYTES = images.MAX_BYTES + 64 * 1024


class BodyLimit:
    """Refuse request bodies above a size limit with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if PHOTO_UPLOADS.match(scope.get("path", "")):  # a product photo and its form
            limit = max(limit, PHOTO_BODY_BYTES)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        response = problems.problem(
            413,
            "payload_too_large",
            "요청 본문이 너무 큽니다.",
            "The request body is too large.",
            f"at most {limit} bytes",
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def text_only_url(request: Request) -> None:
    """Refuse a path or query holding a control character (NUL...) before any handler
    reads it: no id or search term has one, and PostgreSQL cannot even compare with it."""
    if NOT_TEXT.search(request.scope["path"]):
        raise HTTPException(404)
    if any(NOT_TEXT.search(k + v) for k, v in request.query_params.multi_items()):
        raise HTTPException(422, "control characters are not allowed")


GIL_SWITCH_INTERVAL_S = 0.0005


def create_app(engine: Engine | None = None, payment_writer: str | None = None) -> FastAPI:
    """The app on ``engine``, or on ``EUM_DATABASE_URL`` when none is given.

    The payment writer is ``payment_writer`` if given; otherwise the setting
    ``EUM_PAYMENT_WRITER`` when the app opens its own database, and a thread on an engine
    handed in (tests and embedders own that engine and the app's lifetime: a writer
    process would reopen their database by URL and outlive an app never closed).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.payments.start()  # a writer process starts before the first payment
        yield
        app.state.payments.close()  # finish and commit what is queued

    app = FastAPI(
        lifespan=lifespan,
        title="Eum API",
        version=__version__,
        description="인천e음 같은 지역사랑상품권을 운영하는 공용 플랫폼의 API",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        dependencies=[Depends(text_only_url)],
    )
    settings().signing_key()  # no default secret outside demo mode: refuse to start
    if payment_writer is None:
        payment_writer = settings().payment_writer if engine is None else "thread"
    app.state.engine = engine or make_engine(settings().database_url)
    app.state.db = Database(app.state.engine)
    app.state.payments = make_payment_engine(app.state.engine, payment_writer)
    # The payment writer gives up the GIL at every database call and must get it back
    # from request threads: a short switch interval keeps it from waiting 5 ms each time.
    # (A writer process's feeder and reader threads too: measured better than 5 ms.)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    problems.install(app, page=web_app.error_page)
    app.add_middleware(BodyLimit, max_bytes=settings().max_body_bytes)
    openapi.install(app)
    for module in (
        routes_auth,
        routes_wallet,
        routes_merchants,
        routes_policy,
        routes_community,
        routes_ops,
        routes_open_data,
        routes_foresight,
        routes_mall,
        routes_promoters,
        routes_benefits,
    ):
        app.include_router(module.router)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Liveness and database reachability."""
        with reading(app.state.engine) as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": __version__,
            "database": app.state.engine.dialect.name,
            "payment_engine": app.state.payments.stats(),
        }

    @app.get("/api/v1/stats/totals", tags=["statistics"])
    def platform_totals() -> dict[str, int]:
        """Platform-wide totals: members, merchants, issuance, payments, donations."""
        with reading(app.state.engine) as conn:
            return totals(conn)

    web_app.install(app)

    return app
