"""The API against its own OpenAPI document: schemathesis generates requests for every
operation of /api/v1/openapi.json (schema-valid and schema-violating ones) and checks that
no answer is a 5xx and that every answer conforms to the document: status code, content
type, body schema, headers.

Each operation runs on a fresh GYEYANG_CITY platform (the ``Api`` set-up), and every
generated request is sent twice: as the operator, who may do the most, and as the member
kim. Generation is bounded and derandomized so that CI sends the same requests every run.

The document leaves out the problem+json answers the API gives (and a few other things);
``_documentation_gap`` drops exactly those failures, one named case at a time, and in their
place ``problem_details_are_consistent`` checks every error answer. The strict xfail tests
at the end say what the document should declare, so that fixing it retires the exclusion.
Server errors are never dropped: the one found is kept as a strict xfail test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import (
    AllowHeaderMismatch,
)
from sqlalchemy import Engine

from eum.api.app import create_app
from eum.api.problems import GENERIC
from eum.auth import throttle
from eum.db import make_engine
from eum.errors import ALL_ERRORS
from tests.api_support import Api

MAX_EXAMPLES = 15  # fuzzed requests per operation, besides the deterministic coverage phase
CALLERS = ("operator", "kim")
PROBLEM = "application/problem+json"
PROBLEM_STATUS = {code: status for status, (code, _ko, _en) in GENERIC.items()} | {
    code: cls.status for code, cls in ALL_ERRORS.items()
}
# Anyone may call these, with or without a token, yet they declare the bearer scheme as
# required: the optional ``viewer`` dependency is built on HTTPBearer.
PUBLIC_BUT_DECLARED_SECURED = (
    "GET /api/v1/merchants/{merchant_id}",
    "GET /api/v1/merchants/{merchant_id}/coupons",
)

# The document does not depend on the database, so it is read from an app on an in-memory
# engine at import time; the requests go to each test's own platform (``app=`` below).
# (``schemathesis.pytest.from_fixture`` would load it lazily, but schemathesis 4.32.5 reads
# ``request.node._nodeid``, which pytest 9.2 no longer has.)
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json",
    create_app(make_engine("sqlite://")),
    config=schemathesis.Config.from_dict(
        {
            "seed": 20_261_122,
            "generation": {
                "mode": "all",
                # FastAPI ignores query parameters it does not know, as most HTTP APIs do:
                # adding some does not make a request one the API must refuse.
                "allow-extra-parameters": False,
                # The Authorization header is ours to set, per caller; it is not generated.
                "with-security-parameters": False,
            },
            "phases": {
                "coverage": {"enabled": True, "generate-duplicate-query-parameters": False},
                "stateful": {"enabled": False},
            },
            "checks": {
                # Schema-valid requests meet business rules: unknown ids (404), a taken
                # login or id (409), insufficient funds or a bad cursor (422), a locked
                # account (423). A schema-valid request must still never be called
                # malformed (400), of the wrong media type (415) or fail with a 5xx.
                "positive_data_acceptance": {
                    "expected-statuses": ["2XX", "401", "403", "404", "409", "422", "423"]
                },
            },
        }
    ),
)


def _problem_code(response: Any) -> str | None:
    """The ``code`` of a problem+json answer, or None for anything else."""
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _documentation_gap(failure: Failure, response: Any) -> bool:
    """A failure that comes from what the document leaves out, not from what the API does."""
    # Starlette's 405 names the methods of one route only
    # (test_a_405_names_every_method_of_the_path).
    return isinstance(failure, AllowHeaderMismatch)


@schema.hook
def filter_failure(_context: Any, failure: Failure, case: Any, response: Any) -> bool:
    return not _documentation_gap(failure, response)


def problem_details_are_consistent(_ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is problem+json (RFC 9457) with a known code, the status of that code,
    and the Korean and English titles."""
    if not 400 <= response.status_code < 500:
        return None
    code = _problem_code(response)
    assert code is not None, f"{case.operation.label}: {response.status_code} is not {PROBLEM}"
    body = response.json()
    assert code in PROBLEM_STATUS, f"unknown problem code {code!r}"
    assert body["status"] == response.status_code == PROBLEM_STATUS[code], body
    assert body["type"] == f"/api/v1/problems/{code}" and body["title"] and body["title_en"]
    return True


@pytest.fixture
def api(sqlite_engine: Engine) -> Iterator[Api]:
    # The fuzzer signs in from one address far more often than a person would: the
    # per-address limit is tested on its own (tests/test_security.py).
    throttle.logins.limit = 1_000_000
    try:
        yield Api(sqlite_engine)
    finally:
        throttle.logins.limit = None


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_to_the_openapi_document(case: Any, api: Api) -> None:
    for login in CALLERS:
        case.call_and_validate(
            app=api.app,
            headers={"Authorization": api.as_(login).headers["Authorization"]},
            additional_checks=[problem_details_are_consistent],
        )


# --- what the fuzzing found -------------------------------------------------------------


def as_operator(api: Api) -> TestClient:
    client = TestClient(api.app, raise_server_exceptions=False)
    client.headers["Authorization"] = api.as_("operator").headers["Authorization"]
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stats/overview?month=0000-01",
        "/api/v1/stats/overview?month=9999-12",
        "/api/v1/stats/monthly?until=0000-01",
        "/api/v1/stats/monthly?until=9999-12",
    ],
)
def test_a_month_outside_the_calendar_is_a_problem_not_a_crash(api: Api, path: str) -> None:
    response = as_operator(api).get(path)
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)


@pytest.mark.xfail(
    strict=True,
    reason="RFC 9110 15.5.6: a 405 MUST list the methods the resource supports; for "
    "OPTIONS /api/v1/payments Starlette answers 'Allow: POST' though GET is served too",
)
def test_a_405_names_every_method_of_the_path(api: Api) -> None:
    response = as_operator(api).options("/api/v1/payments")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


# --- what the document should declare ---------------------------------------------------


def _document() -> dict[str, Any]:
    return dict(schema.raw_schema)


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_declares_the_problem_answers() -> None:
    for label, operation in _operations():
        answers = operation["responses"]
        wanted = {"401", "403"} if operation.get("security") else set()
        assert wanted <= set(answers), label
        for status, answer in answers.items():
            if status.startswith("4"):
                assert list(answer.get("content", {})) == [PROBLEM], (label, status)


def test_the_document_requires_the_idempotency_key() -> None:
    for label, operation in _operations():
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["required"] is True, label


def test_the_document_lets_anyone_call_the_public_operations() -> None:
    operations = dict(_operations())
    for label in PUBLIC_BUT_DECLARED_SECURED:
        assert {} in operations[label].get("security", [{}]), label
