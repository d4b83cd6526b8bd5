"""The OpenAPI document says what the API really answers: every error is
application/problem+json, money operations require an Idempotency-Key, and public reads
take a token only optionally. FastAPI's generated document is completed in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from eum.api.problems import PROBLEM

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "title_en", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string", "description": "한국어 설명"},
        "title_en": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "SPEC 오류 이름 (예: insufficient_funds)"},
        "detail": {"type": "string"},
        "field": {"type": ["string", "null"]},
    },
}
ANSWERS = {
    "400": "malformed_json, idempotency_key_required",
    "401": "unauthorized",
    "403": "forbidden, not_group_owner, not_group_member",
    "404": "unknown_* (also for what lies outside the caller's area)",
    "409": "idempotency_conflict, already_exists, invalid_state, coupon_already_claimed",
    "413": "payload_too_large",
    "422": "invalid_amount, invalid_request and the SPEC 3 money errors",
    "423": "account_locked",
    "500": "internal_error",
}
# Reads anyone may make; a token, when given, shows the owner and admins more.
OPTIONAL_AUTH = {
    ("get", "/api/v1/merchants/{merchant_id}"),
    ("get", "/api/v1/merchants/{merchant_id}/coupons"),
}


def _problem_answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            answers = operation.setdefault("responses", {})
            for status, description in ANSWERS.items():
                answers[status] = _problem_answer(description)
            for status, answer in answers.items():  # a route's own 429, 503
                if status[0] in "45" and status not in ANSWERS:
                    answers[status] = _problem_answer(answer.get("description", ""))
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "Idempotency-Key":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 200}
            if (method, path) in OPTIONAL_AUTH and operation.get("security"):
                operation["security"] = [{}, *operation["security"]]
    schemas = doc["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
