"""Who may call what: every route of the API, called as every role, on things on both sides
of the Gyeyang / Bupyeong line. The table ``ROWS`` is the documentation of the rules:

- anonymous callers get 401 everywhere except the public routes (sign-up, login, health,
  platform totals, open data, the merchant directory, a merchant's page and coupons,
  merchant groups);
- a member sees its own wallet, payments and groups; a merchant its own sales, QR code and
  coupons; a promoter has no admin rights and sees no one's payments;
- an issuer admin sees and changes its own area only: reads outside it look like missing
  ids (404), writes outside it are refused (403) — except that an approved merchant is
  public, so refusing to act on it is 403, not a pretended 404; the Incheon admin's area
  is all of Incheon;
- operator-only routes (staff, issuers, settlements, the ledger) give everyone else 403.

Columns, in this order: anonymous, kim (a Gyeyang-card member), bunsik (a Gyeyang
merchant), promoter (Gyeyang), gyeyang-admin, bupyeong-admin, incheon-admin, operator.
A cell is ``ok`` (2xx, or a business refusal such as insufficient_funds: the request got
through), ``401``, ``403`` or ``404``; for lists it is ``in`` or ``out`` (200, and the
target is or is not among the items).

Targets: ``gyeyang`` is the Gyeyang thing (m-bunsik, a payment there, gyeyang-launch,
gyeyang-event, kim's group ``club``...), ``bupyeong`` the Bupyeong or someone else's one
(m-cafe, lee's payment there, a Bupyeong rule and budget, lee's group...); ``pending_*``
a merchant registration waiting in that district; ``any`` a route with nothing to aim at.

Every cell runs on its own copy of one seeded platform (a SQLite file copied in a few
milliseconds), so no call sees what another one changed; a sample also runs on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eum.api.app import create_app
from eum.db import make_engine
from eum.scenario import fresh_engine
from tests.api_support import PASSWORD, Api

ROLES = (
    "anonymous",
    "kim",
    "bunsik",
    "promoter",
    "gyeyang-admin",
    "bupyeong-admin",
    "incheon-admin",
    "operator",
)
OUTCOMES = {"ok", "in", "out", "401", "403", "404"}
# A problem with one of these codes means the matrix itself sent a bad request.
MALFORMED = {"malformed_json", "invalid_request", "invalid_amount", "idempotency_key_required"}
PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)  # a photo's first bytes are all the mall checks

Values = dict[str, str]
Maker = Callable[[Values], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One route: how to call it, and what each role gets for each target."""

    method: str
    path: str
    expect: dict[str, tuple[str, ...]]  # target -> one outcome per role, in ROLES order
    body: Maker | None = None
    query: Maker | None = None
    money: bool = False  # sent with an Idempotency-Key
    listed: tuple[str, str] | None = None  # (target value, item field) of a list route
    bugs: dict[tuple[str, str], str] = field(default_factory=dict)  # (target, role) -> why
    raw: bytes | None = None  # a body sent as it is (a photo), instead of ``body``'s JSON


def row(
    method: str,
    path: str,
    *,
    body: Maker | None = None,
    query: Maker | None = None,
    money: bool = False,
    listed: tuple[str, str] | None = None,
    bugs: dict[tuple[str, str], str] | None = None,
    raw: bytes | None = None,
    **expect: str,
) -> Row:
    cells = {target: tuple(line.split()) for target, line in expect.items()}
    for target, outcomes in cells.items():
        assert len(outcomes) == len(ROLES), (method, path, target)
        assert set(outcomes) <= OUTCOMES, (method, path, target)
    return Row(method, path, cells, body, query, money, listed, bugs or {}, raw)


# fmt: off
# One outcome per role: anonymous, kim, bunsik, promoter, and the gyeyang, bupyeong and
# incheon admins, operator.
ROWS: tuple[Row, ...] = (
    # --- accounts ---------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("POST", "/api/v1/auth/signup/member",
        body=lambda t: {"login": "park", "password": "s3cret-pass", "card": "gyeyang"},
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("POST", "/api/v1/auth/signup/merchant",
        body=lambda t: {"login": "newshop", "password": "s3cret-pass",
                        "merchant": {"name": "효성동 떡집", "district": "gyeyang"}},
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("POST", "/api/v1/auth/login",
        body=lambda t: {"login": "lee", "password": PASSWORD},
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("POST", "/api/v1/auth/logout",
        any=             "401  ok   ok   ok   ok   ok   ok   ok"),
    row("GET", "/api/v1/auth/me",
        any=             "401  ok   ok   ok   ok   ok   ok   ok"),
    row("POST", "/api/v1/auth/staff",
        body=lambda t: {"login": "new-staff", "password": "s3cret-pass", "role": "promoter",
                        "issuer_id": "gyeyang"},
        any=             "401  403  403  403  403  403  403  ok"),
    # --- wallet and payments ----------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("GET", "/api/v1/me/wallet",
        any=             "401  ok   403  403  403  403  403  403"),
    row("GET", "/api/v1/me/history",
        any=             "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/charges", money=True,
        body=lambda t: {"amount": 1_000},
        any=             "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/withdrawals", money=True,
        body=lambda t: {"amount": 1_000},
        any=             "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/payments", money=True,
        body=lambda t: {"merchant": t["merchant_id"], "amount": 1_000},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  ok   403  403  403  403  403  403"),
    row("GET", "/api/v1/payments", listed=("payment_id", "id"),
        query=lambda t: {"limit": 100},
        gyeyang=         "401  in   in   out  in   out  in   in",
        bupyeong=        "401  out  out  out  out  in   in   in",
        ),
    row("GET", "/api/v1/payments/{payment_id}",
        gyeyang=         "401  ok   ok   404  ok   404  ok   ok",
        bupyeong=        "401  404  404  404  404  ok   ok   ok",
        ),
    # refunds are the merchant's to give, or an operator's
    row("POST", "/api/v1/payments/{payment_id}/refunds", money=True,
        body=lambda t: {"amount": 100},
        gyeyang=         "401  403  ok   403  403  403  403  ok",
        bupyeong=        "401  403  404  403  403  403  403  ok"),
    # --- merchants --------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("GET", "/api/v1/merchants", listed=("merchant_id", "id"),
        gyeyang=         "in   in   in   in   in   in   in   in",
        bupyeong=        "in   in   in   in   in   in   in   in",
        pending_gyeyang= "out  out  out  out  out  out  out  out"),
    row("GET", "/api/v1/merchants/{merchant_id}",
        gyeyang=         "ok   ok   ok   ok   ok   ok   ok   ok",
        bupyeong=        "ok   ok   ok   ok   ok   ok   ok   ok",
        pending_gyeyang= "404  404  404  404  ok   404  ok   ok",
        pending_bupyeong="404  404  404  404  404  ok   ok   ok"),
    row("POST", "/api/v1/merchants/{merchant_id}/approval",
        body=lambda t: {"approve": True},
        pending_gyeyang= "401  403  403  403  ok   404  ok   ok",
        pending_bupyeong="401  403  403  403  404  ok   ok   ok"),
    row("PUT", "/api/v1/merchants/{merchant_id}/benefit-plus",
        body=lambda t: {"discount_bps": 200},
        gyeyang=         "401  403  ok   403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("DELETE", "/api/v1/merchants/{merchant_id}/benefit-plus",
        gyeyang=         "401  403  ok   403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("GET", "/api/v1/merchants/{merchant_id}/qr",
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403"),
    row("GET", "/api/v1/merchants/{merchant_id}/sales",
        gyeyang=         "401  403  ok   403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/merchants/{merchant_id}/coupons",
        body=lambda t: {"value": 500},
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403"),
    row("GET", "/api/v1/merchants/{merchant_id}/coupons", listed=("coupon_id", "id"),
        gyeyang=         "in   in   in   in   in   in   in   in",
        bupyeong=        "in   in   in   in   in   in   in   in"),
    row("POST", "/api/v1/coupons/{coupon_id}/claims",
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/merchant-groups",
        body=lambda t: {"id": "new-group", "name": "새 상인회", "merchants": [t["merchant_id"]]},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("GET", "/api/v1/merchant-groups", listed=("merchant_group", "id"),
        gyeyang=         "in   in   in   in   in   in   in   in",
        bupyeong=        "in   in   in   in   in   in   in   in"),
    # --- policy -----------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("GET", "/api/v1/issuers",
        any=             "401  ok   ok   ok   ok   ok   ok   ok"),
    row("POST", "/api/v1/issuers",
        body=lambda t: {"id": "yeonsu", "name": "연수e음", "districts": ["yeonsu"],
                        "parent": "incheon"},
        any=             "401  403  403  403  403  403  403  ok"),
    # members see the rules for their card, merchants those paying in their district
    row("GET", "/api/v1/rules", listed=("rule_id", "id"),
        gyeyang=         "401  in   in   in   in   out  in   in",
        bupyeong=        "401  out  out  out  out  in   in   in"),
    row("GET", "/api/v1/rules/{rule_id}",
        gyeyang=         "401  ok   ok   ok   ok   404  ok   ok",
        bupyeong=        "401  404  404  404  404  ok   ok   ok"),
    row("POST", "/api/v1/rules",
        body=lambda t: {"id": "new-rule", "kind": "cashback", "owner": t["area"],
                        "rate_bps": 100},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("PATCH", "/api/v1/rules/{rule_id}",
        body=lambda t: {"rate_bps": 150},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/rules/{rule_id}/close",
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("GET", "/api/v1/budgets", listed=("budget_id", "id"),
        gyeyang=         "401  403  403  403  in   out  in   in",
        bupyeong=        "401  403  403  403  out  in   in   in"),
    row("GET", "/api/v1/budgets/{budget_id}",
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/budgets/{budget_id}/burn",
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/budget-forecasts", listed=("budget_id", "budget"),
        gyeyang=         "401  403  403  403  in   out  in   in",
        bupyeong=        "401  403  403  403  out  in   in   in"),
    row("POST", "/api/v1/budgets",
        body=lambda t: {"id": "new-budget", "owner": t["area"], "amount": 100},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("PATCH", "/api/v1/budgets/{budget_id}",
        body=lambda t: {"name": "새 이름"},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/budgets/{budget_id}/fundings", money=True,
        body=lambda t: {"amount": 100},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    # --- phone orders and Benefit Plus services: ``gyeyang`` is bunsik's and the Gyeyang
    # admin's, ``bupyeong`` the cafe's (in Benefit Plus too) and the Bupyeong admin's;
    # ``booked_*`` a slot of that side booked by that side's shop
    #                     anon kim  bun  prom gy   bp   ic   op
    row("GET", "/api/v1/phone-orders", listed=("merchant_id", "id"),
        gyeyang=         "in   in   in   in   in   in   in   in",
        bupyeong=        "in   in   in   in   in   in   in   in"),
    row("GET", "/api/v1/me/phone-listing",
        any=             "401  403  ok   403  403  403  403  403"),
    row("PUT", "/api/v1/me/phone-listing",
        body=lambda t: {"phone": "032-555-1234", "hours": "매일 11:00~21:00", "menu": "떡볶이"},
        any=             "401  403  ok   403  403  403  403  403"),
    row("DELETE", "/api/v1/me/phone-listing",
        any=             "401  403  ok   403  403  403  403  403"),
    row("GET", "/api/v1/consult-slots", listed=("slot_id", "id"),
        gyeyang=         "401  403  in   403  in   out  in   in",
        bupyeong=        "401  403  out  403  out  in   in   in"),
    row("POST", "/api/v1/consult-slots",
        body=lambda t: {"issuer": t["area"], "kind": "tax", "starts_at": t["starts_at"],
                        "minutes": 60, "place": "구청 상담실"},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("DELETE", "/api/v1/consult-slots/{slot_id}",
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/consult-slots/{slot_id}/booking",
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("DELETE", "/api/v1/consult-slots/{slot_id}/booking",
        booked_gyeyang=  "401  403  ok   403  ok   403  ok   ok",
        booked_bupyeong= "401  403  404  403  403  ok   ok   ok"),
    row("GET", "/api/v1/me/consult-bookings", listed=("slot_id", "id"),
        booked_gyeyang=  "401  403  in   403  403  403  403  403",
        booked_bupyeong= "401  403  out  403  403  403  403  403"),
    row("POST", "/api/v1/me/benefit-certificates",
        any=             "401  403  ok   403  403  403  403  403"),
    row("GET", "/api/v1/me/benefit-certificates", listed=("certificate_id", "id"),
        gyeyang=         "401  403  in   403  403  403  403  403",
        bupyeong=        "401  403  out  403  403  403  403  403"),
    row("GET", "/api/v1/me/benefit-certificates/{certificate_id}",
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("GET", "/api/v1/benefit-certificates/{certificate_id}",
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("POST", "/api/v1/me/qr-kit-requests",  # bunsik's kit is still open: invalid_state
        body=lambda t: {"address": "인천 계양구 계산동 1"},
        any=             "401  403  ok   403  403  403  403  403"),
    row("GET", "/api/v1/me/qr-kit-requests", listed=("kit_id", "id"),
        gyeyang=         "401  403  in   403  403  403  403  403",
        bupyeong=        "401  403  out  403  403  403  403  403"),
    row("GET", "/api/v1/qr-kit-requests", listed=("kit_id", "id"),
        gyeyang=         "401  403  403  403  in   out  in   in",
        bupyeong=        "401  403  403  403  out  in   in   in"),
    row("PATCH", "/api/v1/qr-kit-requests/{kit_id}",
        body=lambda t: {"status": "shipped"},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/budgets/{budget_id}/close", money=True,
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    # --- community --------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    # members see the campaigns of their card's metro region; admins their own subtree's
    row("GET", "/api/v1/campaigns", listed=("campaign_id", "id"),
        gyeyang=         "401  in   in   in   in   out  in   in",
        bupyeong=        "401  in   in   out  out  in   in   in"),
    row("POST", "/api/v1/campaigns",
        body=lambda t: {"id": "new-campaign", "name": "새 캠페인", "owner": t["area"]},
        gyeyang=         "401  403  403  403  ok   403  ok   ok",
        bupyeong=        "401  403  403  403  403  ok   ok   ok"),
    row("POST", "/api/v1/campaigns/{campaign_id}/donations", money=True,
        body=lambda t: {"amount": 100},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  ok   403  403  403  403  403  403"),
    # user groups: ``gyeyang`` is kim's club, ``bupyeong`` a group of lee's alone
    row("GET", "/api/v1/groups", listed=("group_id", "id"),
        gyeyang=         "401  in   403  403  403  403  403  403",
        bupyeong=        "401  out  403  403  403  403  403  403"),
    row("GET", "/api/v1/groups/{group_id}",
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  404  403  403  403  403  403  403"),
    row("POST", "/api/v1/groups",
        body=lambda t: {"name": "새 모임"},
        any=             "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/groups/{group_id}/members",  # anyone may join a group by its id
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/groups/{group_id}/contributions", money=True,
        body=lambda t: {"amount": 100},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403"),
    row("POST", "/api/v1/groups/{group_id}/payments", money=True,
        body=lambda t: {"merchant": "m-bunsik", "amount": 100},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403"),
    row("POST", "/api/v1/groups/{group_id}/donations", money=True,
        body=lambda t: {"campaign": "nanum", "amount": 100},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403"),
    # --- operations -------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("POST", "/api/v1/settlements", money=True,
        any=             "401  403  403  403  403  403  403  ok"),
    row("GET", "/api/v1/settlements",
        any=             "401  403  403  403  403  403  403  ok"),
    row("GET", "/api/v1/ledger/verify",
        any=             "401  403  403  403  403  403  403  ok"),
    row("GET", "/api/v1/audit", listed=("audit", "target"),
        query=lambda t: {"limit": 100},
        gyeyang=         "401  403  403  403  in   out  in   in",
        bupyeong=        "401  403  403  403  out  in   in   in"),
    # --- promoters: their own area's shops; admins see their area's promoters ----------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("POST", "/api/v1/me/visits",
        body=lambda t: {"merchant": t["merchant_id"], "note": "방문"},
        gyeyang=         "401  403  403  ok   403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403",
        pending_gyeyang= "401  403  403  ok   403  403  403  403",
        pending_bupyeong="401  403  403  404  403  403  403  403"),
    row("POST", "/api/v1/me/signups",
        body=lambda t: {"merchant": t["merchant_id"]},
        gyeyang=         "401  403  403  ok   403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403",
        pending_gyeyang= "401  403  403  ok   403  403  403  403",
        pending_bupyeong="401  403  403  404  403  403  403  403"),
    row("PUT", "/api/v1/me/stickers/{merchant_id}",
        body=lambda t: {"status": "attached"},
        gyeyang=         "401  403  403  ok   403  403  403  403",
        bupyeong=        "401  403  403  403  403  403  403  403",
        pending_gyeyang= "401  403  403  ok   403  403  403  403",
        pending_bupyeong="401  403  403  404  403  403  403  403"),
    row("GET", "/api/v1/me/activity", listed=("visit_id", "key"),
        gyeyang=         "401  403  403  in   403  403  403  403",
        bupyeong=        "401  403  403  out  403  403  403  403"),
    row("GET", "/api/v1/me/shops", listed=("merchant_id", "id"),
        gyeyang=         "401  403  403  in   403  403  403  403",
        bupyeong=        "401  403  403  out  403  403  403  403",
        pending_gyeyang= "401  403  403  in   403  403  403  403",
        pending_bupyeong="401  403  403  out  403  403  403  403"),
    row("GET", "/api/v1/me/shops/{merchant_id}",
        gyeyang=         "401  403  403  ok   403  403  403  403",
        bupyeong=        "401  403  403  404  403  403  403  403",
        pending_gyeyang= "401  403  403  ok   403  403  403  403",
        pending_bupyeong="401  403  403  404  403  403  403  403"),
    row("GET", "/api/v1/promoters", listed=("promoter_id", "id"),
        gyeyang=         "401  403  403  403  in   out  in   in",
        bupyeong=        "401  403  403  403  out  in   in   in"),
    row("GET", "/api/v1/promoters/{promoter_id}/activity",
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/sticker-coverage",
        query=lambda t: {"issuer": t["area"]},
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/stats/overview",
        query=lambda t: {"issuer": t["area"]},
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/stats/monthly",
        query=lambda t: {"issuer": t["area"], "months": 2},
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/stats/daily",
        query=lambda t: {"issuer": t["area"]},
        gyeyang=         "401  403  403  403  ok   404  ok   ok",
        bupyeong=        "401  403  403  403  404  ok   ok   ok"),
    row("GET", "/api/v1/health",
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("GET", "/api/v1/stats/totals",
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    # --- the mall --------------------------------------------------------------------
    #                     anon kim  bun  prom gy   bp   ic   op
    row("GET", "/api/v1/mall/products", listed=("product_id", "id"),
        gyeyang=         "in   in   in   in   in   in   in   in",
        bupyeong=        "in   in   in   in   in   in   in   in"),
    row("GET", "/api/v1/mall/products/{product_id}",
        gyeyang=         "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("GET", "/api/v1/mall/products/{product_id}/image",  # none was uploaded
        gyeyang=         "404  404  404  404  404  404  404  404"),
    row("GET", "/api/v1/me/products", listed=("product_id", "id"),
        gyeyang=         "401  403  in   403  403  403  403  403",
        bupyeong=        "401  403  out  403  403  403  403  403"),
    row("POST", "/api/v1/me/products",
        body=lambda t: {"name": "새 상품", "price": 1_000, "stock": 1},
        any=             "401  403  ok   403  403  403  403  403"),
    row("PATCH", "/api/v1/me/products/{product_id}",
        body=lambda t: {"stock": 5},
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("PUT", "/api/v1/me/products/{product_id}/image", raw=PNG,
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("GET", "/api/v1/me/cart",
        any=             "401  ok   403  403  403  403  403  403"),
    row("PUT", "/api/v1/me/cart/{product_id}",
        body=lambda t: {"quantity": 1},
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  ok   403  403  403  403  403  403"),
    row("DELETE", "/api/v1/me/cart",
        any=             "401  ok   403  403  403  403  403  403"),
    row("POST", "/api/v1/me/checkout", money=True,
        body=lambda t: {"ship_to": "인천 계양구"},
        any=             "401  ok   403  403  403  403  403  403"),
    row("GET", "/api/v1/me/orders", listed=("order_id", "id"),
        gyeyang=         "401  in   403  403  403  403  403  403",
        bupyeong=        "401  out  403  403  403  403  403  403"),
    row("GET", "/api/v1/me/orders/{order_id}",
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  404  403  403  403  403  403  403"),
    row("POST", "/api/v1/me/orders/{order_id}/cancel", money=True,
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  404  403  403  403  403  403  403"),
    row("POST", "/api/v1/me/orders/{order_id}/delivered",
        gyeyang=         "401  ok   403  403  403  403  403  403",
        bupyeong=        "401  404  403  403  403  403  403  403"),
    row("GET", "/api/v1/shop/orders", listed=("order_id", "id"),
        gyeyang=         "401  403  in   403  403  403  403  403",
        bupyeong=        "401  403  out  403  403  403  403  403"),
    row("GET", "/api/v1/shop/orders/{order_id}",
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("POST", "/api/v1/shop/orders/{order_id}/ship",
        body=lambda t: {"tracking": "CJ 1"},
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("POST", "/api/v1/shop/orders/{order_id}/delivered",
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("POST", "/api/v1/shop/orders/{order_id}/cancel", money=True,
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("POST", "/api/v1/shop/orders/{order_id}/refunds", money=True,
        body=lambda t: {"amount": 100},
        gyeyang=         "401  403  ok   403  403  403  403  403",
        bupyeong=        "401  403  404  403  403  403  403  403"),
    row("GET", "/api/v1/open-data/{month}.json",
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
    row("GET", "/api/v1/open-data/{month}.csv",
        any=             "ok   ok   ok   ok   ok   ok   ok   ok"),
)
# fmt: on


# --- the platform every cell starts from ----------------------------------------------


def _made(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def seed(api: Api) -> dict[str, Values]:
    """Things on both sides of the line, made through the API the way people make them;
    returns the values of each target: path parameters, the id to look for in a list, area."""
    _open_area_things(api)
    pending = {area: _sign_up_shop(api, area) for area in ("gyeyang", "bupyeong")}
    coupons = {
        shop: _made(api.as_(owner).post(f"/api/v1/merchants/{shop}/coupons", json={"value": 500}))
        for owner, shop in (("bunsik", "m-bunsik"), ("cafe", "m-cafe"))
    }
    payments = {}
    for member, shop in (("kim", "m-bunsik"), ("lee", "m-cafe")):
        _made(api.money(member, "/api/v1/charges", {"amount": 10_000}))
        payments[shop] = _made(
            api.money(member, "/api/v1/payments", {"merchant": shop, "amount": 1_000})
        )
    mall = _mall_things(api)
    gyeyang = {
        **mall["gyeyang"],
        "area": "gyeyang",
        "merchant_id": "m-bunsik",
        "payment_id": payments["m-bunsik"]["payment_id"],
        "coupon_id": coupons["m-bunsik"]["id"],
        "rule_id": "gyeyang-launch",
        "budget_id": "gyeyang-event",
        "campaign_id": "gyeyang-winter",
        "group_id": "club",  # kim's
        "merchant_group": "gyesan-market",
        "audit": "campaign:gyeyang-winter",
    }
    bupyeong = {
        **mall["bupyeong"],
        "area": "bupyeong",
        "merchant_id": "m-cafe",
        "payment_id": payments["m-cafe"]["payment_id"],  # lee's
        "coupon_id": coupons["m-cafe"]["id"],
        "rule_id": "bupyeong-promo",
        "budget_id": "bupyeong-budget",
        "campaign_id": "bupyeong-winter",
        "group_id": "lee-only",
        "merchant_group": "cafe-street",
        "audit": "campaign:bupyeong-winter",
    }
    promoted = _promoter_things(api)
    gyeyang |= promoted["gyeyang"]
    bupyeong |= promoted["bupyeong"]
    benefits = _benefit_things(api)
    gyeyang |= benefits["gyeyang"]
    bupyeong |= benefits["bupyeong"]
    return {
        "any": {"month": "2020-03"},  # open data
        "gyeyang": gyeyang,
        "bupyeong": bupyeong,
        "pending_gyeyang": {"area": "gyeyang", "merchant_id": pending["gyeyang"]},
        "pending_bupyeong": {"area": "bupyeong", "merchant_id": pending["bupyeong"]},
        "booked_gyeyang": benefits["booked_gyeyang"],
        "booked_bupyeong": benefits["booked_bupyeong"],
    }


def _open_area_things(api: Api) -> None:
    """A Bupyeong rule and budget (GYEYANG_CITY has Gyeyang's), a campaign and a merchant
    group on each side (their creation is in the audit log), and a group of lee's alone."""
    gyeyang, bupyeong = api.as_("gyeyang-admin"), api.as_("bupyeong-admin")
    rule = {"id": "bupyeong-promo", "kind": "cashback", "owner": "bupyeong", "rate_bps": 100}
    _made(bupyeong.post("/api/v1/rules", json=rule))
    budget = {"id": "bupyeong-budget", "owner": "bupyeong", "amount": 1_000}
    _made(bupyeong.post("/api/v1/budgets", json=budget))
    for admin, area, group, shops in (
        (gyeyang, "gyeyang", "gyesan-market", ["m-bunsik", "m-mart"]),
        (bupyeong, "bupyeong", "cafe-street", ["m-cafe"]),
    ):
        campaign = {"id": f"{area}-winter", "name": "겨울나기", "owner": area}
        _made(admin.post("/api/v1/campaigns", json=campaign))
        merchant_group = {"id": group, "name": "상인회", "merchants": shops}
        _made(admin.post("/api/v1/merchant-groups", json=merchant_group))
    _made(api.as_("lee").post("/api/v1/groups", json={"id": "lee-only", "name": "혼자"}))


def _mall_things(api: Api) -> dict[str, Values]:
    """A product of each side's shop and an order of it: kim buys bunsik's, lee the
    cafe's (both still paid, not shipped)."""
    out: dict[str, Values] = {}
    for side, shop, buyer in (("gyeyang", "bunsik", "kim"), ("bupyeong", "cafe", "lee")):
        product = _made(
            api.as_(shop).post("/api/v1/me/products",
                               json={"name": f"{side} 상품", "price": 1_000, "stock": 5})
        )  # fmt: skip
        _made(api.as_(buyer).put(f"/api/v1/me/cart/{product['id']}", json={"quantity": 1}))
        bought = _made(api.money(buyer, "/api/v1/me/checkout", {"ship_to": "인천 어딘가"}))
        out[side] = {"product_id": product["id"], "order_id": bought["orders"][0]["order"]}
    return out


def _promoter_things(api: Api) -> dict[str, Values]:
    """A Bupyeong promoter besides Gyeyang's, and a visit by each in its own area."""
    staff = {
        "login": "promoter-bp",
        "password": PASSWORD,
        "role": "promoter",
        "issuer_id": "bupyeong",
    }
    _made(api.as_("operator").post("/api/v1/auth/staff", json=staff))
    out = {}
    for login, area, shop in (
        ("promoter", "gyeyang", "m-mart"),
        ("promoter-bp", "bupyeong", "m-cafe"),
    ):
        visit = _made(api.as_(login).post("/api/v1/me/visits", json={"merchant": shop}))
        me = _made(api.as_(login).get("/api/v1/auth/me"))
        out[area] = {"promoter_id": me["user_id"], "visit_id": visit["id"]}
    return out


def _benefit_things(api: Api) -> dict[str, Values]:
    """Phone orders and Benefit Plus services on both sides: the cafe joins Benefit Plus;
    each side's shop lists itself for phone orders, books one of two slots its district's
    admin published a week ahead, takes a certificate and asks for a QR kit."""
    from datetime import timedelta

    from eum.clock import now

    start = (now() + timedelta(days=7)).isoformat(timespec="seconds")
    plus = {"discount_bps": 300}
    _made(api.as_("cafe").put("/api/v1/merchants/m-cafe/benefit-plus", json=plus))
    entry = {"phone": "032-555-1234", "hours": "매일 11:00~21:00", "menu": "차림표"}
    slot = {"kind": "tax", "starts_at": start, "minutes": 60, "place": "구청 상담실"}
    out: dict[str, Values] = {}
    for side, shop, admin in (
        ("gyeyang", "bunsik", "gyeyang-admin"),
        ("bupyeong", "cafe", "bupyeong-admin"),
    ):
        _made(api.as_(shop).put("/api/v1/me/phone-listing", json=entry))
        free = _made(api.as_(admin).post("/api/v1/consult-slots", json=slot))
        booked = _made(api.as_(admin).post("/api/v1/consult-slots", json=slot))
        _made(api.as_(shop).post(f"/api/v1/consult-slots/{booked['id']}/booking", json={}))
        cert = _made(api.as_(shop).post("/api/v1/me/benefit-certificates"))
        kit = _made(api.as_(shop).post("/api/v1/me/qr-kit-requests", json={"address": "구청 앞"}))
        out[side] = {
            "slot_id": free["id"],
            "certificate_id": cert["id"],
            "kit_id": kit["id"],
            "starts_at": start,
        }
        out[f"booked_{side}"] = {"area": side, "slot_id": booked["id"]}
    return out


def _sign_up_shop(api: Api, district: str) -> str:
    """A registration left pending in the district."""
    signed = api.anonymous.post(
        "/api/v1/auth/signup/merchant",
        json={
            "login": f"{district}-shop",
            "password": "s3cret-pass",
            "merchant": {"name": "심사 중인 가게", "district": district},
        },
    )
    return str(_made(signed)["merchant_id"])


def call(client: TestClient, route: Row, values: Values) -> httpx.Response:
    headers = {"Idempotency-Key": f"matrix-{uuid.uuid4().hex}"} if route.money else {}
    response: httpx.Response = client.request(
        route.method,
        route.path.format(**values),
        json=route.body(values) if route.body else None,
        content=route.raw,
        params=route.query(values) if route.query else None,
        headers=headers,
    )
    return response


def outcome(route: Row, values: Values, response: httpx.Response) -> str:
    """What the caller got, in the words of the table."""
    status = response.status_code
    assert status < 500, response.text
    if status >= 400:
        assert response.headers["content-type"] == PROBLEM, response.text
        problem = response.json()
        assert problem["status"] == status, problem
        if status in (401, 403, 404):
            return str(status)
        assert problem["code"] not in MALFORMED, f"the matrix sent a bad request: {problem}"
        return "ok"
    if route.listed is None:
        return "ok"
    wanted, item_field = route.listed
    found = {str(item[item_field]) for item in response.json()["items"]}
    return "in" if values[wanted] in found else "out"


@dataclass(frozen=True)
class Template:
    """The seeded platform in a SQLite file, and every role's token for it."""

    path: Path
    targets: dict[str, Values]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("matrix") / "template.sqlite3"
    with fresh_engine(f"sqlite:///{path}") as engine:
        api = Api(engine)
        targets = seed(api)
        tokens = {login: api.as_(login).headers["Authorization"] for login in ROLES[1:]}
    return Template(path, targets, tokens)


@contextmanager
def platform_copy(template: Template, where: Path) -> Iterator[FastAPI]:
    """The app on a fresh copy of the template (sessions included, so tokens hold)."""
    copy = where / "platform.sqlite3"
    with closing(sqlite3.connect(template.path)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{copy}")
    try:
        yield create_app(engine)
    finally:
        engine.dispose()


def client_for(app: FastAPI, token: str | None) -> TestClient:
    client = TestClient(app)
    if token is not None:
        client.headers["Authorization"] = token
    return client


# --- the matrix -------------------------------------------------------------------------


def _cells() -> Iterator[Any]:
    for route in ROWS:
        for target, outcomes in route.expect.items():
            for role, expected in zip(ROLES, outcomes, strict=True):
                bug = route.bugs.get((target, role))
                yield pytest.param(
                    route,
                    target,
                    role,
                    expected,
                    marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [],
                    id=f"{route.method} {route.path} {target} {role}",
                )


@pytest.mark.parametrize(("route", "target", "role", "expected"), list(_cells()))
def test_each_role_gets_what_the_matrix_says(
    template: Template, tmp_path: Path, route: Row, target: str, role: str, expected: str
) -> None:
    values = template.targets[target]
    with platform_copy(template, tmp_path) as app:
        response = call(client_for(app, template.tokens.get(role)), route, values)
        assert outcome(route, values, response) == expected, response.text


def api_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves under /api/v1."""
    app = create_app(make_engine("sqlite://"))
    # FastAPI 0.165 keeps included routers as wrappers in app.routes; this flattens them.
    return [
        (method, path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (path := context.path or "").startswith("/api/v1")
        for method in sorted(context.methods or ())
    ]


def test_the_matrix_has_one_row_for_every_route_and_no_other() -> None:
    rows = [(route.method, route.path) for route in ROWS]
    assert len(rows) == len(set(rows)), "a route has two rows"
    routes = api_routes()
    assert len(routes) == len(set(routes))
    assert sorted(set(routes) - set(rows)) == [], "routes without a row in ROWS"
    assert sorted(set(rows) - set(routes)) == [], "rows for routes the app does not serve"


def test_every_target_of_the_matrix_is_seeded(template: Template) -> None:
    for route in ROWS:
        for target in route.expect:
            values = template.targets[target]
            route.path.format(**values)  # every path parameter has a value
            if route.listed is not None:
                assert route.listed[0] in values, (route.path, target)
        assert set(route.bugs) <= {(t, role) for t in route.expect for role in ROLES}


# --- a sample on PostgreSQL (and on a plain SQLite Api) -------------------------------

SAMPLE = (  # reads and refusals only: they change nothing, so they share one platform
    ("GET", "/api/v1/me/wallet", "any", "anonymous"),
    ("GET", "/api/v1/payments", "bupyeong", "kim"),
    ("GET", "/api/v1/payments/{payment_id}", "gyeyang", "bupyeong-admin"),
    ("GET", "/api/v1/merchants/{merchant_id}", "pending_gyeyang", "bupyeong-admin"),
    ("POST", "/api/v1/merchants/{merchant_id}/approval", "pending_bupyeong", "gyeyang-admin"),
    ("GET", "/api/v1/merchants/{merchant_id}/sales", "gyeyang", "bunsik"),
    ("GET", "/api/v1/rules", "bupyeong", "gyeyang-admin"),
    ("PATCH", "/api/v1/rules/{rule_id}", "bupyeong", "gyeyang-admin"),
    ("GET", "/api/v1/budgets/{budget_id}", "bupyeong", "gyeyang-admin"),
    ("GET", "/api/v1/audit", "bupyeong", "incheon-admin"),
    ("GET", "/api/v1/stats/overview", "bupyeong", "gyeyang-admin"),
    ("POST", "/api/v1/settlements", "any", "incheon-admin"),
)


def test_a_sample_of_the_matrix_holds_on_each_database(engine: Engine) -> None:
    api = Api(engine)
    targets = seed(api)
    by_route = {(route.method, route.path): route for route in ROWS}
    for method, path, target, role in SAMPLE:
        route = by_route[(method, path)]
        expected = route.expect[target][ROLES.index(role)]
        assert method == "GET" or expected in ("401", "403", "404"), "the sample must not write"
        assert (target, role) not in route.bugs
        client = api.anonymous if role == "anonymous" else api.as_(role)
        response = call(client, route, targets[target])
        assert outcome(route, targets[target], response) == expected, (path, target, role)
