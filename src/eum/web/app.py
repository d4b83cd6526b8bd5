"""The web app: server-rendered pages for citizens, merchants and issuer admins on the
same services as the API. ``install`` adds its routes and answers errors on its pages
as HTML (the API keeps problem+json)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from eum import errors
from eum.web import (
    pages,
    routes_admin,
    routes_benefits,
    routes_citizen,
    routes_mall,
    routes_merchant,
    routes_promoters,
    routes_public,
    routes_report,
    routes_whatif,
    session,
)

ROUTERS = [
    routes_public.router,
    routes_citizen.router,
    routes_merchant.router,
    routes_mall.router,
    routes_admin.router,
    routes_report.router,
    routes_whatif.router,
    routes_promoters.router,
    routes_benefits.router,
]


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)


def error_page(request: Request, exc: Exception) -> Response:
    """An error on a page: sign in first, not yours, not found, or what went wrong."""
    if isinstance(exc, errors.Unauthorized) and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if isinstance(exc, errors.EumError):
        status = exc.status
        title = {401: "로그인이 필요합니다.", 403: "이 페이지를 볼 권한이 없습니다."}.get(
            status, "오류"
        )
        text = pages.error_text(exc, session.visitor(request).lang)
        code = exc.code
    elif isinstance(exc, StarletteHTTPException):
        status, code = exc.status_code, "not_found" if exc.status_code == 404 else "error"
        title = "찾을 수 없습니다." if status == 404 else "오류"
        text = str(exc.detail)
    elif isinstance(exc, RequestValidationError):
        status, code, title = 422, "invalid_request", "오류"
        text = "요청 내용이 올바르지 않습니다."
    else:
        status, code, title = 500, "internal_error", "오류"
        text = "일시적인 오류가 발생했습니다. 잠시 뒤 다시 시도해 주세요."
    return pages.render(request, "error.html", status=status, title=title, text=text, code=code)
