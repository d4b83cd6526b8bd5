"""Hostile input, catalogued: every POST, PUT and PATCH operation of /api/v1 (read from
the OpenAPI document, so a new operation joins by itself) and the web app's forms get
oversized bodies, deeply nested JSON, invalid UTF-8, SQL and script fragments, NUL and
very long strings in every string field and path parameter, and negative, huge, float,
string and boolean numbers in every integer field.

Each input is a valid request (``BASES``: a test shows each is accepted as it is) with
one thing made hostile, sent by a caller allowed to make the request. What must hold:
never a 5xx; a 4xx is problem+json (a page on the web) and writes nothing: every table's
row count and every ledger balance are as before, and the ledger verifies. The one row
a refusal may leave is the one SPEC 3.16 asks for: a money request refused by a domain
rule keeps that error under its idempotency key (checked: only error results).

SQL and script text in a free-text field (a name, a note, an invoice reference, a
password) is text a person may type, not an attack on a parameterised query or an
escaped template: such a request may succeed, and then the text must be stored exactly
as sent (no statement ran, every table is still there and the ledger verifies) and show
escaped on the pages. Everything else, in every field, is refused.

``pytest -s`` prints how many inputs were tried and the statuses they got.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Engine, String, Text, cast, func, select

from eum.clock import now
from eum.config import settings
from eum.idempotency import idempotency_keys
from eum.ledger.service import verify
from eum.ledger.store import accounts
from eum.schema import metadata
from tests.api_support import PASSWORD, Api
from tests.web_support import Web, web_as

PROBLEM = "application/problem+json"
MAX_BODY = settings().max_body_bytes
NESTING = 10_000
SQL = "'; DROP TABLE payments;--"
SCRIPT = "<script>alert(1)</script>"
NUL = "a\u0000b"
SURROGATE = "a\ud800b"  # valid JSON ("\ud800"), not a character: no column can store it
LONG = "가" * 10_000  # longer than any field allows, well under the body limit
HOSTILE_TEXT = {"sql": SQL, "script": SCRIPT, "nul": NUL, "surrogate": SURROGATE, "long": LONG}
# In a path: no surrogate (UTF-8 cannot spell one), and a shorter long text (a URL of
# 64 KiB is more than HTTP clients send).
HOSTILE_PATH_TEXT = {"sql": SQL, "script": SCRIPT, "nul": NUL, "long": "가" * 700}
# Text a person may type into a free-text field: these may be accepted, stored verbatim.
TYPABLE = {"sql", "script"}
HOSTILE_NUMBERS: dict[str, Any] = {
    "negative": -1,
    "huge": 10**30,
    "float": 1000.0,
    "string": "1000",
    "boolean": True,
}

# --- the requests ----------------------------------------------------------------------

# Consultation slots are published for the future only: a week from the test's day.
SLOT_START = (now() + timedelta(days=7)).replace(hour=14, minute=0, second=0, microsecond=0)

# Operation label -> (caller, path with {placeholders}, a valid body or None).
BASES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "POST /api/v1/auth/signup/member": (
        "anonymous",
        "/api/v1/auth/signup/member",
        {
            "login": "newcomer",
            "password": "long enough 1",
            "name": "홍길동",
            "card": "gyeyang",
            "kind": "personal",
            "home_district": "gyeyang",
        },
    ),
    "POST /api/v1/auth/signup/merchant": (
        "anonymous",
        "/api/v1/auth/signup/merchant",
        {
            "login": "newshop",
            "password": "long enough 1",
            "merchant": {
                "name": "새 가게",
                "district": "gyeyang",
                "category": "food",
                "annual_sales": 100_000_000,
                "card_fee_bps": 80,
            },
        },
    ),
    "POST /api/v1/auth/login": (
        "anonymous",
        "/api/v1/auth/login",
        {"login": "lee", "password": PASSWORD},
    ),
    "POST /api/v1/auth/logout": ("kim", "/api/v1/auth/logout", None),
    "POST /api/v1/auth/staff": (
        "operator",
        "/api/v1/auth/staff",
        {
            "login": "new-staff",
            "password": "long enough 1",
            "role": "promoter",
            "issuer_id": "gyeyang",
            "display_name": "박지원",
        },
    ),
    "POST /api/v1/charges": ("kim", "/api/v1/charges", {"amount": 1_000}),
    "POST /api/v1/withdrawals": ("kim", "/api/v1/withdrawals", {"amount": 1_000}),
    "POST /api/v1/payments": (
        "kim",
        "/api/v1/payments",
        {"merchant": "m-mart", "amount": 1_000, "channel": "card", "invoice": "INV-1"},
    ),
    "POST /api/v1/me/products": (
        "mart",
        "/api/v1/me/products",
        {
            "name": "천연 비누",
            "price": 3_000,
            "stock": 5,
            "description": "설명",
            "category": "food",
        },
    ),
    "PATCH /api/v1/me/products/{product_id}": (
        "mart",
        "/api/v1/me/products/{product_id}",
        {
            "name": "천연 비누",
            "price": 3_000,
            "stock": 50,
            "description": "설명",
            "category": "food",
            "active": True,
        },
    ),
    "PUT /api/v1/me/products/{product_id}/image": (  # a raw photo body: see RAW_BODIES
        "mart",
        "/api/v1/me/products/{product_id}/image",
        None,
    ),
    "PUT /api/v1/me/cart/{product_id}": ("kim", "/api/v1/me/cart/{product_id}", {"quantity": 1}),
    "POST /api/v1/me/checkout": ("kim", "/api/v1/me/checkout", {"ship_to": "인천 계양구 1-2"}),
    "POST /api/v1/me/orders/{order_id}/cancel": (
        "kim",
        "/api/v1/me/orders/{paid_order}/cancel",
        None,
    ),
    "POST /api/v1/me/orders/{order_id}/delivered": (
        "kim",
        "/api/v1/me/orders/{shipped_order}/delivered",
        None,
    ),
    "POST /api/v1/shop/orders/{order_id}/ship": (
        "mart",
        "/api/v1/shop/orders/{order_to_ship}/ship",
        {"tracking": "CJ 1234"},
    ),
    "POST /api/v1/shop/orders/{order_id}/delivered": (
        "mart",
        "/api/v1/shop/orders/{order_to_deliver}/delivered",
        None,
    ),
    "POST /api/v1/shop/orders/{order_id}/cancel": (
        "mart",
        "/api/v1/shop/orders/{order_to_cancel}/cancel",
        None,
    ),
    "POST /api/v1/shop/orders/{order_id}/refunds": (
        "mart",
        "/api/v1/shop/orders/{delivered_order}/refunds",
        {"amount": 100},
    ),
    "POST /api/v1/payments/{payment_id}/refunds": (
        "mart",
        "/api/v1/payments/{payment_id}/refunds",
        {"amount": 100},
    ),
    "POST /api/v1/merchants/{merchant_id}/approval": (
        "gyeyang-admin",
        "/api/v1/merchants/{pending_merchant}/approval",
        {"approve": True, "note": "서류 확인"},
    ),
    "PUT /api/v1/merchants/{merchant_id}/benefit-plus": (
        "bunsik",
        "/api/v1/merchants/{merchant_id}/benefit-plus",
        {"discount_bps": 500},
    ),
    "POST /api/v1/merchants/{merchant_id}/coupons": (
        "bunsik",
        "/api/v1/merchants/{merchant_id}/coupons",
        {
            "name": "천원 할인",
            "value": 1_000,
            "min_spend": 5_000,
            "quantity": 10,
            "from": "2020-01-01",
            "until": "2099-12-31",
        },
    ),
    "POST /api/v1/coupons/{coupon_id}/claims": ("kim", "/api/v1/coupons/{coupon_id}/claims", None),
    # phone orders and Benefit Plus services (the kit is cancelled before bunsik asks again)
    "PUT /api/v1/me/phone-listing": (
        "bunsik",
        "/api/v1/me/phone-listing",
        {"phone": "032-555-1234", "hours": "매일 11:00~21:00", "menu": "떡볶이 4,500원\n김밥"},
    ),
    "POST /api/v1/consult-slots": (
        "gyeyang-admin",
        "/api/v1/consult-slots",
        {
            "issuer": "gyeyang",
            "kind": "tax",
            "starts_at": SLOT_START.isoformat(),
            "minutes": 60,
            "place": "계양구청 3층 상담실",
        },
    ),
    "POST /api/v1/consult-slots/{slot_id}/booking": (
        "bunsik",
        "/api/v1/consult-slots/{slot_id}/booking",
        {"note": "부가세 신고 상담"},
    ),
    "POST /api/v1/me/benefit-certificates": ("bunsik", "/api/v1/me/benefit-certificates", None),
    "PATCH /api/v1/qr-kit-requests/{kit_id}": (
        "gyeyang-admin",
        "/api/v1/qr-kit-requests/{kit_id}",
        {"status": "cancelled"},
    ),
    "POST /api/v1/me/qr-kit-requests": (
        "bunsik",
        "/api/v1/me/qr-kit-requests",
        {"address": "인천 계양구 계산동 1"},
    ),
    "POST /api/v1/merchant-groups": (
        "gyeyang-admin",
        "/api/v1/merchant-groups",
        {"id": "market", "name": "계산시장", "merchants": ["m-bunsik", "m-mart"]},
    ),
    "POST /api/v1/me/visits": (
        "promoter",
        "/api/v1/me/visits",
        {"merchant": "m-mart", "note": "방문 상담"},
    ),
    "POST /api/v1/me/signups": ("promoter", "/api/v1/me/signups", {"merchant": "m-mart"}),
    "PUT /api/v1/me/stickers/{merchant_id}": (
        "promoter",
        "/api/v1/me/stickers/{merchant_id}",
        {"status": "attached"},
    ),
    "POST /api/v1/issuers": (
        "operator",
        "/api/v1/issuers",
        {"id": "ganghwa-e", "name": "강화e음", "districts": ["ganghwa"], "parent": "incheon"},
    ),
    "POST /api/v1/rules": (
        "gyeyang-admin",
        "/api/v1/rules",
        {
            "id": "new-rule",
            "kind": "cashback",
            "owner": "gyeyang",
            "name": "새 규칙",
            "budget": "gyeyang-event",
            "rate_bps": 100,
            "monthly_cap": 100_000,
            "cards": "gyeyang",
            "districts": ["gyeyang"],
            "card_kinds": ["personal"],
            "merchant_tiers": ["general"],
            "max_annual_sales": 1_000_000_000,
            "channels": ["card"],
            "from": "2020-01-01",
            "until": "2099-12-31",
            "steps": [{"from": "2099-01-01", "rate_bps": 50}],
        },
    ),
    "PATCH /api/v1/rules/{rule_id}": (
        "gyeyang-admin",
        "/api/v1/rules/{rule_id}",
        {
            "name": "계양 출시 이벤트",
            "rate_bps": 150,
            "steps": [{"from": "2099-01-01", "rate_bps": 50}],
        },
    ),
    "POST /api/v1/rules/{rule_id}/close": ("gyeyang-admin", "/api/v1/rules/{rule_id}/close", None),
    "POST /api/v1/budgets": (
        "gyeyang-admin",
        "/api/v1/budgets",
        {"id": "new-budget", "owner": "gyeyang", "amount": 1_000, "name": "새 예산"},
    ),
    "PATCH /api/v1/budgets/{budget_id}": (
        "gyeyang-admin",
        "/api/v1/budgets/{budget_id}",
        {"name": "이벤트 예산"},
    ),
    "POST /api/v1/budgets/{budget_id}/fundings": (
        "gyeyang-admin",
        "/api/v1/budgets/{budget_id}/fundings",
        {"amount": 1_000},
    ),
    "POST /api/v1/budgets/{budget_id}/close": (
        "gyeyang-admin",
        "/api/v1/budgets/{closable_budget}/close",
        None,
    ),
    "POST /api/v1/campaigns": (
        "incheon-admin",
        "/api/v1/campaigns",
        {"id": "winter", "name": "겨울 나눔", "owner": "incheon"},
    ),
    "POST /api/v1/campaigns/{campaign_id}/donations": (
        "kim",
        "/api/v1/campaigns/{campaign_id}/donations",
        {"amount": 10},
    ),
    "POST /api/v1/groups": (
        "kim",
        "/api/v1/groups",
        {"id": "book-club", "name": "독서 모임", "members": ["u-lee"]},
    ),
    "POST /api/v1/groups/{group_id}/members": ("lee", "/api/v1/groups/{open_group}/members", None),
    "POST /api/v1/groups/{group_id}/contributions": (
        "kim",
        "/api/v1/groups/{group_id}/contributions",
        {"amount": 10},
    ),
    "POST /api/v1/groups/{group_id}/payments": (
        "kim",
        "/api/v1/groups/{group_id}/payments",
        {"merchant": "m-mart", "amount": 100, "channel": "card"},
    ),
    "POST /api/v1/groups/{group_id}/donations": (
        "kim",
        "/api/v1/groups/{group_id}/donations",
        {"campaign": "nanum", "amount": 10},
    ),
    "POST /api/v1/settlements": ("operator", "/api/v1/settlements", None),
}


def _mall_orders(api: Api) -> dict[str, str]:
    """A mart product, and kim's orders of it in each state a base acts on; kim's cart
    holds one for the checkout base."""
    made = api.as_("mart").post(
        "/api/v1/me/products", json={"name": "과일 상자", "price": 1_000, "stock": 100}
    )
    assert made.status_code == 201, made.text
    product = str(made.json()["id"])
    mart = api.as_("mart")
    out = {"product_id": product}
    for name, steps in (
        ("paid_order", ()),
        ("shipped_order", ("ship",)),
        ("order_to_ship", ()),
        ("order_to_deliver", ("ship",)),
        ("order_to_cancel", ()),
        ("delivered_order", ("ship", "delivered")),
    ):
        api.as_("kim").put(f"/api/v1/me/cart/{product}", json={"quantity": 1})
        bought = api.money("kim", "/api/v1/me/checkout", {"ship_to": "인천 계양구 1-2"})
        assert bought.status_code == 201, bought.text
        order = str(bought.json()["orders"][0]["order"])
        for step in steps:
            done = mart.post(f"/api/v1/shop/orders/{order}/{step}", json={})
            assert done.status_code == 200, done.text
        out[name] = order
    assert api.as_("kim").put(f"/api/v1/me/cart/{product}", json={"quantity": 1}).status_code == 200
    return out


def _benefit_values(api: Api) -> dict[str, str]:
    """A Gyeyang consultation slot for bunsik to book, and bunsik's QR kit request (open)
    for the Gyeyang admin to move."""
    slot = {"kind": "tax", "starts_at": SLOT_START.isoformat(), "minutes": 60, "place": "구청"}
    published = api.as_("gyeyang-admin").post("/api/v1/consult-slots", json=slot)
    assert published.status_code == 201, published.text
    kit = api.as_("bunsik").post("/api/v1/me/qr-kit-requests", json={"address": "계산동 1"})
    assert kit.status_code == 201, kit.text
    return {"slot_id": str(published.json()["id"]), "kit_id": str(kit.json()["id"])}


def prepare(api: Api) -> dict[str, str]:
    """Give every base something to act on (what its placeholders stand for): money in
    kim's wallet, spent past the 60% that lets kim withdraw; a payment to refund;
    cashback in the group's pool; a pending shop; a coupon; a group lee can join; a
    budget to close."""
    assert api.money("kim", "/api/v1/charges", {"amount": 100_000}).status_code == 201
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 70_000})
    assert paid.status_code == 201, paid.text
    contributed = api.money("kim", "/api/v1/groups/club/contributions", {"amount": 1_000})
    assert contributed.status_code == 201, contributed.text
    shop = api.anonymous.post(
        "/api/v1/auth/signup/merchant",
        json={
            "login": "pending-shop",
            "password": "long enough 1",
            "merchant": {"name": "심사 중 가게", "district": "gyeyang"},
        },
    )
    assert shop.status_code == 201, shop.text
    coupon = api.as_("bunsik").post(
        "/api/v1/merchants/m-bunsik/coupons", json={"value": 500, "quantity": 100}
    )
    assert coupon.status_code == 201, coupon.text
    walkers = api.as_("kim").post("/api/v1/groups", json={"id": "walkers", "name": "걷기 모임"})
    assert walkers.status_code == 201, walkers.text
    budget = api.as_("gyeyang-admin").post(
        "/api/v1/budgets", json={"id": "spare", "owner": "gyeyang", "amount": 500}
    )
    assert budget.status_code == 201, budget.text
    mall = _mall_orders(api)
    benefits = _benefit_values(api)
    return {
        **mall,
        **benefits,
        "payment_id": str(paid.json()["payment_id"]),
        "pending_merchant": shop.json()["merchant_id"],
        "merchant_id": "m-bunsik",
        "coupon_id": str(coupon.json()["id"]),
        "rule_id": "gyeyang-launch",
        "budget_id": "gyeyang-event",
        "closable_budget": "spare",
        "campaign_id": "nanum",
        "group_id": "club",
        "open_group": "walkers",
    }


# Operations that create something named by its ``login`` or ``id``: each input gets a
# name of its own, so that an accepted one does not make the next one a conflict.
CREATES = {
    "POST /api/v1/auth/signup/member",
    "POST /api/v1/auth/signup/merchant",
    "POST /api/v1/auth/staff",
    "POST /api/v1/merchant-groups",
    "POST /api/v1/issuers",
    "POST /api/v1/rules",
    "POST /api/v1/budgets",
    "POST /api/v1/campaigns",
    "POST /api/v1/groups",
}
WRITES = ("post", "put", "patch")
# Bases whose body is not JSON: a product photo is the file itself.
RAW_BODIES = {"PUT /api/v1/me/products/{product_id}/image": b"\x89PNG\r\n\x1a\n" + bytes(32)}


@dataclass(frozen=True)
class Operation:
    label: str
    path: str  # as documented, with {parameters}
    params: tuple[str, ...]  # its path parameters, in order
    body: dict[str, Any] | None  # the request body's schema, references resolved


@dataclass(frozen=True)
class Field:
    """A leaf of a body schema: where it is, and what kind of value it takes."""

    where: tuple[str | int, ...]
    kind: str  # "text" (free text), "string" (id, enum, date, login), "integer"


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(doc["components"]["schemas"][name], doc)
    out = dict(schema)
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [_resolve(s, doc) for s in out[key]]
    if "properties" in out:
        out["properties"] = {k: _resolve(v, doc) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _resolve(out["items"], doc)
    return out


def operations() -> list[Operation]:
    """Every write operation of the API, from its OpenAPI document."""
    from eum.api.app import create_app
    from eum.db import make_engine

    doc = create_app(make_engine("sqlite://")).openapi()
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in WRITES:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            params = tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "path")
            schema = _resolve(body["schema"], doc) if body else None
            found.append(Operation(f"{method.upper()} {path}", path, params, schema))
    return found


def fields(schema: dict[str, Any], where: tuple[str | int, ...] = ()) -> Iterator[Field]:
    """The string and integer leaves of a schema (an array's through its first item)."""
    for branch in schema.get("anyOf", [schema]):
        kind = branch.get("type")
        if kind == "object":
            for name, sub in branch.get("properties", {}).items():
                yield from fields(sub, (*where, name))
        elif kind == "array":
            yield from fields(branch["items"], (*where, 0))
        elif kind == "string":
            free = not ({"pattern", "enum", "format"} & set(branch)) and where[-1] != "login"
            yield Field(where, "text" if free else "string")
        elif kind == "integer":
            yield Field(where, "integer")


def _put(body: dict[str, Any], where: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for step, nxt in itertools.pairwise(where):
        if isinstance(node, list):
            node = node[step]  # type: ignore[index]
            continue
        if node.get(step) is None:
            node[step] = [] if isinstance(nxt, int) else {}
        node = node[step]
    last = where[-1]
    if isinstance(node, list):
        if node:
            node[0] = value
        else:
            node.append(value)
    else:
        node[last] = value
    return out


@dataclass(frozen=True)
class Input:
    """One hostile request."""

    label: str
    what: str  # e.g. "name: sql", "deep-array"
    caller: str
    path: str
    content: bytes
    typable: str | None = None  # text a person may type, sent in a free-text field


def _fill(path: str, values: dict[str, str], hostile: tuple[int, str] | None = None) -> str:
    from urllib.parse import quote

    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    for i, name in enumerate(names):
        value = hostile[1] if hostile and hostile[0] == i else values[name]
        path = path.replace("{" + name + "}", quote(value, safe=""), 1)
    return path


def inputs(ops: list[Operation], values: dict[str, str]) -> Iterator[Input]:
    counter = iter(range(1, 1_000_000))

    def body_of(label: str, body: dict[str, Any]) -> dict[str, Any]:
        if label not in CREATES:
            return body
        n = next(counter)
        out = copy.deepcopy(body)
        for key in ("login", "id"):
            if key in out:
                out[key] = f"{out[key]}{n}"
        return out

    def dump(body: Any) -> bytes:
        return json.dumps(body).encode()

    for op in ops:
        caller, path, base = BASES[op.label]
        here = _fill(path, values)
        padding = "x" * (MAX_BODY + 1)
        yield Input(op.label, "oversized", caller, here, dump({**(base or {}), "pad": padding}))
        for i, param in enumerate(op.params):
            for name, text in HOSTILE_PATH_TEXT.items():
                there = _fill(path, values, (i, text))
                content = dump(body_of(op.label, base)) if base is not None else b""
                yield Input(op.label, f"{param}: {name}", caller, there, content)
        if base is None or op.body is None:
            continue
        yield Input(op.label, "deep-array", caller, here, b"[" * NESTING + b"]" * NESTING)
        deep = b'{"a":' * NESTING + b"1" + b"}" * NESTING
        yield Input(op.label, "deep-object", caller, here, deep)
        raw = dump(body_of(op.label, base))
        yield Input(op.label, "invalid-utf8", caller, here, raw.replace(b'"', b'"\xff\xfe', 1))
        for field in fields(op.body):
            dotted = ".".join(str(p) for p in field.where)
            if field.kind == "integer":
                for name, number in HOSTILE_NUMBERS.items():
                    sent = _put(body_of(op.label, base), field.where, number)
                    yield Input(op.label, f"{dotted}: {name}", caller, here, dump(sent))
                continue
            for name, text in HOSTILE_TEXT.items():
                sent = _put(body_of(op.label, base), field.where, text)
                typable = text if field.kind == "text" and name in TYPABLE else None
                yield Input(op.label, f"{dotted}: {name}", caller, here, dump(sent), typable)


# --- what is stored --------------------------------------------------------------------


TABLES = metadata.sorted_tables
# Every table's row count in one statement (scalar subqueries), built once.
COUNTS = select(*[select(func.count()).select_from(t).scalar_subquery() for t in TABLES])


def fingerprint(engine: Engine) -> dict[str, Any]:
    """Every table's row count, every account's balance, and how many successes the
    idempotency records hold."""
    with engine.connect() as conn:
        counts = dict(zip([t.name for t in TABLES], conn.execute(COUNTS).one(), strict=True))
        balances = dict(conn.execute(select(accounts.c.code, accounts.c.balance)).all())
        results = conn.execute(select(idempotency_keys.c.result)).scalars()
        kept_ok = sum(bool(r.get("ok")) for r in results)
    return {"counts": counts, "balances": balances, "kept_ok": kept_ok}


def holding(engine: Engine, text: str) -> int:
    """How many text values, over every column of every table, hold ``text`` (a text
    column exactly, a JSON one somewhere inside)."""
    counts = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String):
                found = column == text
            elif isinstance(column.type, JSON):
                found = cast(column, Text).contains(text, autoescape=True)
            else:
                continue
            counts.append(select(func.count()).select_from(table).where(found).scalar_subquery())
    with engine.connect() as conn:
        return sum(conn.execute(select(*counts)).one())


def ledger_verifies(engine: Engine) -> bool:
    with engine.connect() as conn:
        return verify(conn).ok


def clients(api: Api) -> dict[str, TestClient]:
    """A client per caller that answers a server error with its 500 instead of raising."""
    out = {"anonymous": TestClient(api.app, raise_server_exceptions=False)}
    for login in {caller for caller, _path, _body in BASES.values()} - {"anonymous"}:
        client = TestClient(api.app, raise_server_exceptions=False)
        token = api.anonymous.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        out[login] = client
    return out


def run_catalogue(api: Api, only: set[str] | None = None) -> Counter[str]:
    """Send every input (of the ``only`` operations); returns the statuses seen, and
    fails with every broken promise."""
    values = prepare(api)
    callers = clients(api)
    ops = [op for op in operations() if only is None or op.label in only]
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    for n, item in enumerate(inputs(ops, values)):
        before = fingerprint(api.engine)
        held = holding(api.engine, item.typable) if item.typable else 0
        client = callers[item.caller]
        client.headers["Idempotency-Key"] = f"hostile-{n}"
        response = client.request(
            item.label.split(" ", 1)[0],
            item.path,
            content=item.content,
            headers={"content-type": "application/json"},
        )
        status = response.status_code
        statuses[f"{status // 100}xx" if status < 400 else str(status)] += 1
        where = f"{item.label} [{item.what}] -> {status}"
        if status >= 500:
            failures.append(f"{where}: {response.text[:200]}")
        elif status < 400:
            failures.extend(_accepted(api.engine, item, held, where))
        else:
            failures.extend(_refused(api.engine, response, before, where))
    print(f"\n{sum(statuses.values())} hostile inputs: {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures)
    return statuses


def _accepted(engine: Engine, item: Input, held: int, where: str) -> list[str]:
    """What an accepted input must have done: stored its text as sent (a password: never
    stored), and left a ledger that verifies."""
    if item.typable is None:
        return [f"{where}: accepted"]
    now_held = holding(engine, item.typable)
    if item.what.startswith("password") and now_held != held:
        return [f"{where}: the password was stored as text"]
    if not item.what.startswith("password") and now_held <= held:
        return [f"{where}: accepted but not stored as sent"]
    if not ledger_verifies(engine):
        return [f"{where}: the ledger no longer verifies"]
    return []


def _refused(
    engine: Engine, response: Any, before: dict[str, Any], where: str, wanted: str = PROBLEM
) -> list[str]:
    """What a refusal must be: problem+json (a page on the web), nothing written but its
    own idempotency record of the error, and the ledger still verifying."""
    found = []
    if not response.headers.get("content-type", "").startswith(wanted):
        found.append(f"{where}: {response.headers.get('content-type')}")
    after = fingerprint(engine)
    kept = after["counts"].pop("idempotency_keys") - before["counts"].pop("idempotency_keys")
    if after != before or kept not in (0, 1):
        found.append(f"{where}: wrote {_diff(before, after)} (+{kept} keys)")
    elif not ledger_verifies(engine):
        found.append(f"{where}: the ledger no longer verifies")
    return found


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for part in ("counts", "balances"):
        for k in set(before[part]) | set(after[part]):
            if before[part].get(k) != after[part].get(k):
                out[k] = (before[part].get(k), after[part].get(k))
    if before["kept_ok"] != after["kept_ok"]:
        out["kept_ok"] = (before["kept_ok"], after["kept_ok"])
    return out


def test_every_write_operation_of_the_document_has_a_base_request() -> None:
    assert {op.label for op in operations()} == set(BASES)


def test_each_base_request_is_accepted_as_it_is(sqlite_engine: Engine) -> None:
    """So that each hostile input differs from an accepted request in one thing only."""
    api = Api(sqlite_engine)
    values = prepare(api)
    callers = clients(api)
    refused = {}
    last = "POST /api/v1/auth/logout"  # kim's token ends there
    for n, label in enumerate(sorted(BASES, key=lambda label: label == last)):
        caller, path, body = BASES[label]
        client = callers[caller]
        client.headers["Idempotency-Key"] = f"base-{n}"
        raw = RAW_BODIES.get(label)
        response = client.request(
            label.split(" ", 1)[0], _fill(path, values), json=body, content=raw
        )
        if not 200 <= response.status_code < 300:
            refused[label] = (response.status_code, response.text[:200])
    assert not refused


def test_the_api_refuses_hostile_input_without_writing(sqlite_engine: Engine) -> None:
    statuses = run_catalogue(Api(sqlite_engine))
    assert sum(statuses.values()) > 600
    assert statuses["2xx"] < 60  # only SQL and script text in free-text fields


# On PostgreSQL (which cannot store NUL, and compares text exactly), the operations with
# a path parameter, the sign-ups and login, and the money operations.
POSTGRES_SUBSET = {
    "POST /api/v1/auth/signup/member",
    "POST /api/v1/auth/login",
    "POST /api/v1/charges",
    "POST /api/v1/payments",
    "POST /api/v1/payments/{payment_id}/refunds",
    "POST /api/v1/coupons/{coupon_id}/claims",
    "PATCH /api/v1/rules/{rule_id}",
    "POST /api/v1/budgets/{budget_id}/fundings",
    "POST /api/v1/groups/{group_id}/payments",
    "POST /api/v1/campaigns/{campaign_id}/donations",
}


@pytest.mark.postgres
def test_the_api_refuses_hostile_input_without_writing_on_postgresql() -> None:
    from tests.conftest import engine_for

    with engine_for("postgres") as engine:
        statuses = run_catalogue(Api(engine), only=POSTGRES_SUBSET)
    assert sum(statuses.values()) > 150


# --- the web app's forms ----------------------------------------------------------------

# Form action -> (who posts it, a valid form). A ``key`` gets a fresh value per input;
# ``{n}`` makes a new name for each input.
WEB_BASES: dict[str, tuple[str | None, dict[str, str]]] = {
    "/login": (None, {"login": "lee", "password": PASSWORD}),
    "/logout": ("kim", {}),
    "/signup": (
        None,
        {
            "login": "web-new{n}",
            "password": "long enough 1",
            "name": "홍길동",
            "card": "gyeyang",
            "kind": "personal",
            "home_district": "gyeyang",
        },
    ),
    "/signup/shop": (
        None,
        {
            "login": "web-shop{n}",
            "password": "long enough 1",
            "name": "새 가게",
            "district": "gyeyang",
            "category": "food",
            "annual_sales": "100,000,000",
        },
    ),
    "/wallet/charge": ("kim", {"key": "", "amount": "1,000"}),
    "/wallet/withdraw": ("kim", {"key": "", "amount": "1000"}),
    "/pay/{merchant_id}/confirm": ("kim", {"amount": "1000", "coupon": ""}),
    "/pay/{merchant_id}": ("kim", {"key": "", "amount": "1000"}),
    "/coupons/{coupon_id}/claim": ("kim", {}),
    "/donate": ("kim", {"key": "", "campaign": "nanum", "amount": "10"}),
    "/groups": ("kim", {"name": "독서 모임"}),
    "/groups/join": ("lee", {"group": "walkers"}),
    "/groups/{group_id}/contribute": ("kim", {"key": "", "amount": "10"}),
    "/groups/{group_id}/pay": ("kim", {"key": "", "merchant": "m-mart", "amount": "100"}),
    "/groups/{group_id}/donate": ("kim", {"key": "", "campaign": "nanum", "amount": "10"}),
    "/shop/benefit-plus": ("bunsik", {"action": "join", "rate": "5"}),
    "/shop/coupons": (
        "bunsik",
        {
            "key": "",
            "name": "천원 할인",
            "value": "1000",
            "min_spend": "5000",
            "quantity": "10",
            "from": "2020-01-01",
            "until": "2099-12-31",
        },
    ),
    "/shop/payments/{payment_id}/refund": ("mart", {"key": "", "after": "", "amount": "100"}),
    "/admin/rules/new": (
        "gyeyang-admin",
        {
            "id": "web-rule{n}",
            "kind": "cashback",
            "owner": "gyeyang",
            "name": "새 규칙",
            "rate": "1",
            "budget": "gyeyang-event",
            "monthly_cap": "100,000",
            "cards": "gyeyang",
            "districts.gyeyang": "on",
            "card_kinds.personal": "on",
            "merchant_tiers.general": "on",
            "max_annual_sales": "1,000,000,000",
            "channels.card": "on",
            "merchant_group": "",
            "from": "2020-01-01",
            "until": "2099-12-31",
        },
    ),
    "/mall/products/{product_id}/cart": ("kim", {"quantity": "1"}),
    "/mall/cart/{product_id}": ("kim", {"quantity": "2"}),
    "/mall/checkout": ("kim", {"key": "", "ship_to": "인천 계양구 1-2"}),
    "/mall/orders/{order_id}/cancel": ("kim", {"key": ""}),
    "/mall/orders/{order_id}/delivered": ("kim", {}),
    "/shop/products": ("mart", {"name": "새 상품{n}", "price": "1,000", "stock": "5"}),
    "/shop/products/{product_id}": (
        "mart",
        {"name": "과일 상자", "price": "1,000", "stock": "100", "active": "1"},
    ),
    "/shop/products/{product_id}/image": ("mart", {}),  # a file: see test_web_mall.py
    "/shop/orders/{order_id}/ship": ("mart", {"back": "/shop/orders", "tracking": "CJ 1234"}),
    "/shop/orders/{order_id}/delivered": ("mart", {"back": "/shop/orders"}),
    "/shop/orders/{order_id}/cancel": ("mart", {"back": "/shop/orders", "key": ""}),
    "/shop/orders/{order_id}/refund": (
        "mart",
        {"back": "/shop/orders", "key": "", "amount": "100"},
    ),
    "/admin/whatif": (
        "gyeyang-admin",
        {
            "from": "2020-04-01",
            "to": "2020-04-30",
            "draft": "rules: [{id: x, kind: cashback, owner: gyeyang, rate_bps: 100}]",
        },
    ),
    "/shop/phone-order": (
        "bunsik",
        {"action": "save", "phone": "032-555-1234", "hours": "매일 11:00~21:00", "menu": "김밥"},
    ),
    "/shop/services/slots/{slot_id}/book": ("bunsik", {"note": "부가세 신고 상담"}),
    "/shop/services/slots/{slot_id}/cancel": ("bunsik", {}),
    "/shop/services/certificates": ("bunsik", {}),
    "/shop/services/qr-kit": ("bunsik", {"address": "인천 계양구 계산동 1"}),
    "/admin/services/slots": (
        "gyeyang-admin",
        {
            "key": "",
            "issuer": "gyeyang",
            "kind": "tax",
            "day": SLOT_START.date().isoformat(),
            "time": "15:00",
            "minutes": "60",
            "place": "계양구청 3층 상담실",
        },
    ),
    "/admin/services/slots/{slot_id}/delete": ("gyeyang-admin", {}),
    "/admin/services/slots/{slot_id}/cancel": ("gyeyang-admin", {}),
    "/admin/services/qr-kits/{kit_id}": ("gyeyang-admin", {"status": "shipped"}),
    "/promoter/visits": ("promoter", {"merchant": "m-mart", "note": "방문 상담", "visited_at": ""}),
    "/promoter/signups": ("promoter", {"merchant": "m-mart"}),
    "/promoter/stickers": ("promoter", {"merchant": "m-mart", "status": "attached"}),
    "/admin/rules/{rule_id}": (
        "gyeyang-admin",
        {"name": "계양 출시 이벤트", "rate": "1.5", "budget": "gyeyang-event", "cards": ""},
    ),
    "/admin/rules/{rule_id}/close": ("gyeyang-admin", {}),
    "/admin/budgets": (
        "gyeyang-admin",
        {"id": "web-budget{n}", "name": "새 예산", "owner": "gyeyang", "amount": "1000"},
    ),
    "/admin/budgets/fund": (
        "gyeyang-admin",
        {"key": "", "budget": "gyeyang-event", "back": "/admin/budgets", "amount": "1000"},
    ),
    "/admin/merchants/{merchant_id}/decision": (
        "gyeyang-admin",
        {"decision": "approve", "note": "서류 확인"},
    ),
}
# The mall's order forms: which of kim's prepared orders (see _mall_orders) each acts on.
WEB_ORDERS = {
    "/mall/orders/{order_id}/cancel": "paid_order",
    "/mall/orders/{order_id}/delivered": "shipped_order",
    "/shop/orders/{order_id}/ship": "order_to_ship",
    "/shop/orders/{order_id}/delivered": "order_to_deliver",
    "/shop/orders/{order_id}/cancel": "order_to_cancel",
    "/shop/orders/{order_id}/refund": "delivered_order",
}
WEB_NUMBERS = {
    "negative": "-1",
    "huge": "1" + "0" * 30,
    "float": "1000.5",
    "string": "abc",
    "boolean": "true",
}
NUMERIC = {"amount", "value", "min_spend", "quantity", "rate", "monthly_cap"}
NUMERIC |= {"max_annual_sales", "annual_sales"}
FREE_TEXT = {
    "name",
    "note",
    "password",
    "key",
    "tracking",
    "ship_to",
}  # a key is the client's opaque text
FREE_TEXT |= {"hours", "menu", "address", "place"}  # phone orders, QR kits, consultations
NAVIGATION = {"back", "after"}  # where to go next: a foreign value is ignored
WEB_TEXT = {"sql": SQL, "script": SCRIPT, "nul": NUL, "long": "가" * 3_000}


@dataclass(frozen=True)
class FormInput:
    action: str  # the route, with {placeholders}
    what: str
    caller: str | None
    path: str
    body: bytes
    typable: str | None = None


def _web_path(action: str, values: dict[str, str], hostile: str | None = None) -> str:
    """The form's address on the prepared platform (``hostile`` in its placeholder)."""
    from urllib.parse import quote

    shop = values["pending_merchant"] if action.startswith("/admin/") else "m-mart"
    order = values.get(WEB_ORDERS.get(action, ""), "")
    here = {**values, "merchant_id": shop, "group_id": "club", "order_id": order}
    if hostile is not None:
        here = {k: quote(hostile, safe="") for k in here}
    return action.format(**here)


def form_inputs(values: dict[str, str]) -> Iterator[FormInput]:
    from urllib.parse import urlencode

    counter = iter(range(1, 1_000_000))

    def fresh(form: dict[str, str]) -> dict[str, str]:
        n = next(counter)
        out = {k: v.replace("{n}", str(n)) for k, v in form.items()}
        if "key" in out:
            out["key"] = f"web-hostile-{n}"
        return out

    def encode(form: dict[str, str]) -> bytes:
        return urlencode(form).encode()

    for action, (caller, base) in WEB_BASES.items():
        path = _web_path(action, values)
        pad = "x" * (MAX_BODY + 1)
        yield FormInput(action, "oversized", caller, path, encode({**fresh(base), "pad": pad}))
        if "{" in action:
            for name, text in HOSTILE_PATH_TEXT.items():
                there = _web_path(action, values, text)
                yield FormInput(action, f"path: {name}", caller, there, encode(fresh(base)))
        for field in base:
            if "." in field:
                continue  # a check box: its presence is read, never its value
            if field in NUMERIC:
                for name, number in WEB_NUMBERS.items():
                    sent = {**fresh(base), field: number}
                    yield FormInput(action, f"{field}: {name}", caller, path, encode(sent))
                continue
            for name, text in WEB_TEXT.items():
                sent = {**fresh(base), field: text}
                free = field in FREE_TEXT and name in TYPABLE
                typable = text if free or field in NAVIGATION else None
                yield FormInput(action, f"{field}: {name}", caller, path, encode(sent), typable)
            raw = encode({**fresh(base), field: "x"}).replace(
                f"{field}=x".encode(), f"{field}=%FF%FE".encode()
            )
            typable = "\ufffd\ufffd" if field in NAVIGATION else None
            yield FormInput(action, f"{field}: invalid-utf8", caller, path, raw, typable)


def web_clients(api: Api) -> dict[str | None, Web]:
    """A signed-in browser per caller (server errors answered, not raised)."""
    out: dict[str | None, Web] = {}
    for caller in {caller for caller, _form in WEB_BASES.values()}:
        web = Web(api)
        web.client = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
        out[caller] = web.login(caller) if caller else web
    return out


def run_form_catalogue(api: Api, only: set[str] | None = None) -> Counter[str]:
    values = prepare(api)
    browsers = web_clients(api)
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    for item in form_inputs(values):
        if only is not None and item.action not in only:
            continue
        web = browsers[item.caller]
        if item.caller is None:  # each anonymous post from a fresh visit
            web = Web(api)
            web.client = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
        body = item.body + f"&csrf={web.csrf()}".encode()
        before = fingerprint(api.engine)
        held = holding(api.engine, item.typable) if item.typable else 0
        response = web.client.post(
            item.path,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        status = response.status_code
        statuses[f"{status // 100}xx" if status < 400 else str(status)] += 1
        where = f"POST {item.action} [{item.what}] -> {status}"
        if status >= 500:
            failures.append(f"{where}: {response.text[:300]}")
        elif status < 400:
            failures.extend(_form_accepted(api.engine, item, held, response, where))
        else:
            # the body limit answers before there is a page: problem+json
            wanted = PROBLEM if status == 413 else "text/html"
            failures.extend(_refused(api.engine, response, before, where, wanted))
    print(f"\n{sum(statuses.values())} hostile form posts: {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures)
    return statuses


def _form_accepted(
    engine: Engine, item: FormInput, held: int, response: Any, where: str
) -> list[str]:
    field = item.what.split(":", 1)[0]
    if field in NAVIGATION and item.typable is not None:
        target = response.headers.get("location", "")
        if not target.startswith("/") or target.startswith("//"):
            return [f"{where}: sent to {target!r}"]
        return []
    fake = Input("", item.what, "", "", b"", item.typable)
    return _accepted(engine, fake, held, where)


def test_every_web_form_has_a_base() -> None:
    from fastapi.routing import APIRoute

    from eum.web.app import ROUTERS

    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    posted = {r.path for r in routes if "POST" in (r.methods or ())}
    assert len(routes) > 40 and posted == set(WEB_BASES)


def test_the_web_forms_refuse_hostile_input_without_writing(sqlite_engine: Engine) -> None:
    statuses = run_form_catalogue(Api(sqlite_engine))
    assert sum(statuses.values()) > 300


@pytest.mark.postgres
def test_the_web_forms_refuse_hostile_input_without_writing_on_postgresql() -> None:
    from tests.conftest import engine_for

    subset = {"/signup", "/wallet/charge", "/pay/{merchant_id}", "/admin/rules/new"}
    with engine_for("postgres") as engine:
        statuses = run_form_catalogue(Api(engine), only=subset)
    assert sum(statuses.values()) > 80


def test_script_text_accepted_as_a_name_is_shown_escaped(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    rule = dict(BASES["POST /api/v1/rules"][2] or {}, id="xss-rule", name=SCRIPT)
    assert api.as_("gyeyang-admin").post("/api/v1/rules", json=rule).status_code == 201
    campaign = {"id": "xss", "name": SCRIPT, "owner": "incheon"}
    assert api.as_("incheon-admin").post("/api/v1/campaigns", json=campaign).status_code == 201
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for who, path in (
        ("gyeyang-admin", "/admin/rules"),
        ("gyeyang-admin", "/admin/rules/xss-rule"),
        ("kim", "/donate"),
        ("kim", "/wallet"),
    ):
        page = web_as(sqlite_engine, who, api).get(path)
        assert page.status_code == 200, path
        assert escaped in page.text and SCRIPT not in page.text, path
