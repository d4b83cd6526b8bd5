from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api_support import Api
from tests.conftest import engine_for


@pytest.fixture(scope="module")
def platform_api() -> Iterator[Api]:
    with engine_for("sqlite") as engine:
        yield Api(engine)


@pytest.fixture(scope="module")
def eum_schema(platform_api: Api):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", platform_api.app, config=schemathesis.Config.from_dict({"seed": 1, "phases": {"coverage": {"enabled": False}}}))


schema = schemathesis.pytest.from_fixture("eum_schema")


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_conformance(case, platform_api: Api) -> None:
    auth = platform_api.as_("operator").headers["Authorization"]
    case.call_and_validate(headers={"Authorization": auth})
