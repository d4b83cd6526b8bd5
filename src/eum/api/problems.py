"""problem+json (RFC 9457) for every error: a stable ``code`` equal to SPEC's error names,
a Korean title with its English twin, and the offending field."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from eum.errors import ALL_ERRORS, EumError

PROBLEM = "application/problem+json"
log = logging.getLogger("eum.api")
PageHandler = Callable[[Request, Exception], Response]
GENERIC = {
    400: (
        "malformed_json",
        "요청 본문을 읽을 수 없습니다.",
        "The request body could not be parsed.",
    ),
    401: ("unauthorized", "로그인이 필요합니다.", "Authentication is required."),
    403: ("forbidden", "권한이 없습니다.", "Forbidden."),
    404: ("not_found", "찾을 수 없습니다.", "Not found."),
    405: ("method_not_allowed", "허용되지 않는 메서드입니다.", "Method not allowed."),
    413: ("payload_too_large", "요청 본문이 너무 큽니다.", "The request body is too large."),
    415: ("unsupported_media_type", "JSON 본문이 필요합니다.", "A JSON body is required."),
    422: ("invalid_request", "요청 내용이 올바르지 않습니다.", "The request is not valid."),
    429: ("too_many_requests", "요청이 너무 많습니다.", "Too many requests."),
}


def problem(
    status: int,
    code: str,
    title_ko: str,
    title_en: str,
    detail: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": f"/api/v1/problems/{code}",
        "title": title_ko,
        "title_en": title_en,
        "status": status,
        "code": code,
        "detail": detail or title_en,
        "field": field,
    }
    return JSONResponse(status_code=status, content=body, media_type=PROBLEM, headers=headers)


RETRY_AFTER_SECONDS = "1"


def from_error(exc: EumError) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if exc.status in (429, 503) else None
    return problem(
        exc.status, exc.code, exc.message_ko, exc.message_en, exc.detail, exc.field, headers
    )


def from_stored(result: dict[str, Any]) -> JSONResponse:
    """The problem response of an error result kept under an idempotency key."""
    cls = ALL_ERRORS[result["error"]]
    return problem(
        cls.status,
        cls.code,
        cls.message_ko,
        cls.message_en,
        result.get("detail"),
        result.get("field"),
    )


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return problem(
            400,
            "malformed_json",
            "JSON 형식이 올바르지 않습니다.",
            "Malformed JSON body.",
            str(first.get("msg")),
            None,
        )
    if loc and loc[-1] in ("amount", "value"):
        cls = ALL_ERRORS["invalid_amount"]
        return problem(422, cls.code, cls.message_ko, cls.message_en, str(first.get("msg")), field)
    code, ko, en = GENERIC[422]
    return problem(
        422, code, ko, en, f"{field}: {first.get('msg')}" if field else str(first.get("msg")), field
    )


def install(app: FastAPI, page: PageHandler | None = None) -> None:
    """Answer errors as problem+json; outside ``/api/`` as ``page`` renders them (the
    web app's HTML error pages), when given."""

    def on_page(request: Request) -> bool:
        return page is not None and not request.url.path.startswith("/api/")

    @app.exception_handler(EumError)
    async def _domain(request: Request, exc: EumError) -> Response:
        if page is not None and on_page(request):
            return page(request, exc)
        return from_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if page is not None and on_page(request):
            return page(request, exc)
        return _validation(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        if page is not None and on_page(request):
            return page(request, exc)
        return problem(
            500,
            "internal_error",
            "일시적인 오류가 발생했습니다.",
            "An unexpected error occurred; nothing was changed by a failed request.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if page is not None and on_page(request):
            return page(request, exc)
        code, ko, en = GENERIC.get(exc.status_code, ("error", "오류가 발생했습니다.", "Error."))
        return problem(
            exc.status_code,
            code,
            ko,
            en,
            str(exc.detail),
            None,
            dict(exc.headers) if exc.headers else None,
        )
