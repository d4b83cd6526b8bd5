"""Open data (issue #6): payments per month, district and category, public, small cells
suppressed and no identifier of anyone in it; on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from eum.auth.store import users
from eum.clock import kst_month, now
from eum.merchants.store import merchant_groups, merchants
from eum.payments.store import payments, refunds
from eum.stats.open_data import COLUMNS, MIN_CELL
from eum.wallets.store import members
from eum.web import names
from tests.api_support import Api
from tests.conftest import GYEYANG_CITY

PROBLEM = "application/problem+json"
SHOPS = {"m-bunsik": "snack", "m-mart": "mart", "m-cafe": "cafe"}


def _city() -> dict[str, Any]:
    city = copy.deepcopy(GYEYANG_CITY)
    for shop in city["merchants"]:
        shop["category"] = SHOPS[shop["id"]]
    return city


def _ids(conn: Connection) -> tuple[set[str], set[str]]:
    """Every text id (members, merchants, groups, users and logins) and payment and refund id."""
    text: set[str] = set()
    for column in (
        members.c.id,
        merchants.c.id,
        merchant_groups.c.id,
        users.c.id,
        users.c.login,
    ):
        text |= {str(v) for v in conn.execute(select(column)).scalars()}
    numbers = {str(v) for v in conn.execute(select(payments.c.id)).scalars()}
    numbers |= {str(v) for v in conn.execute(select(refunds.c.id)).scalars()}
    return text, numbers


def test_open_data_publishes_big_cells_suppresses_small_ones_and_names_no_one(
    engine: Engine,
) -> None:
    api = Api(engine, _city())
    month = kst_month(now())
    assert api.money("kim", "/api/v1/charges", {"amount": 200_000}).status_code == 201
    assert api.money("lee", "/api/v1/charges", {"amount": 50_000}).status_code == 201
    amounts = [1_000 * (i + 1) for i in range(MIN_CELL)]  # m-mart gives no discount
    paid = []
    for amount in amounts:
        done = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": amount})
        assert done.status_code == 201, done.text
        paid.append(done.json()["payment_id"])
    back = api.money("mart", f"/api/v1/payments/{paid[3]}/refunds", {"amount": 1_500})
    assert back.status_code == 201, back.text
    for _ in range(2):  # a small cell: two payments at one Bupyeong cafe
        done = api.money("lee", "/api/v1/payments", {"merchant": "m-cafe", "amount": 3_000})
        assert done.status_code == 201, done.text
    assert kst_month(now()) == month  # (not run across a month's end)

    body = api.anonymous.get(f"/api/v1/open-data/{month}.json")
    assert body.status_code == 200, body.text
    doc = body.json()
    assert (doc["month"], doc["min_cell"]) == (month, MIN_CELL)
    cells = {(r["district"], r["category"]): r for r in doc["rows"]}
    assert set(cells) == {("gyeyang", "mart"), ("bupyeong", "cafe")}
    assert all(set(r) == set(COLUMNS) for r in doc["rows"])
    net = sum(amounts) - 1_500
    assert cells["gyeyang", "mart"] == {
        "month": month,
        "district": "gyeyang",
        "district_name": "계양구",
        "category": "mart",
        "category_name": "마트·식료품",
        "payments": MIN_CELL,
        "paid": net,
        "suppressed": False,
    }
    small = cells["bupyeong", "cafe"]
    assert (small["payments"], small["paid"], small["suppressed"]) == (None, None, True)
    assert small["district_name"] == "부평구"

    sheet = api.anonymous.get(f"/api/v1/open-data/{month}.csv")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert table[0] == list(COLUMNS)
    by_cell = {(line[1], line[3]): line for line in table[1:]}
    assert by_cell["gyeyang", "mart"][5:] == [str(MIN_CELL), str(net), "false"]
    assert by_cell["bupyeong", "cafe"][5:] == ["", "", "true"]

    text_ids, number_ids = api.platform.read(_ids)
    assert {"u-kim", "m-mart", "kim", "mart"} <= text_ids and set(map(str, paid)) <= number_ids
    allowed = {month[:4], month[5:], str(MIN_CELL), str(net)}  # the only numbers in them
    for text in (body.text, sheet.content.decode("utf-8-sig")):
        assert set(re.findall(r"\d+", text)) <= allowed  # so no payment or refund id
    # logins "mart" and "cafe" are spelled like category codes: those cells are codes
    assert {line[3] for line in table[1:]} <= set(names.CATEGORIES)
    cells_text = [
        json.dumps({k: v for k, v in r.items() if k != "category"}, ensure_ascii=False)
        for r in doc["rows"]
    ] + [",".join(line[:3] + line[4:]) for line in table]
    assert not [(found, t) for found in text_ids for t in cells_text if found in t]


@pytest.mark.parametrize("month", ["2024-13", "2024-1", "24-01", "2024-00", "abcd-ef", "1899-12"])
def test_a_bad_month_is_a_problem(engine: Engine, month: str) -> None:
    api = Api(engine)
    for suffix in ("json", "csv"):
        response = api.anonymous.get(f"/api/v1/open-data/{month}.{suffix}")
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "invalid_request"


def test_a_month_without_payments_has_no_rows_but_a_header(engine: Engine) -> None:
    api = Api(engine)
    assert api.anonymous.get("/api/v1/open-data/2020-01.json").json()["rows"] == []
    sheet = api.anonymous.get("/api/v1/open-data/2020-01.csv").content.decode("utf-8-sig")
    assert sheet == ",".join(COLUMNS) + "\r\n"
