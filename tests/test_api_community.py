"""Campaigns, donations and user groups through the API, on SQLite and PostgreSQL.

GYEYANG_CITY has the campaign ``nanum`` (Incheon) and the group ``club`` owned by kim
with lee as a member. A 10,000 won card payment at the mart earns kim 400 + 100 cashback.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api_support import Api


@pytest.fixture
def api(engine: Engine) -> Api:
    return Api(engine)


def kim_earns_500(api: Api) -> None:
    assert api.money("kim", "/api/v1/charges", {"amount": 20_000}).status_code == 201
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000})
    assert paid.json()["cashback"] == {"incheon-base": 400, "gyeyang-launch": 100}


def cashback(api: Api, login: str) -> int:
    return int(api.as_(login).get("/api/v1/me/wallet").json()["cashback"])


def campaigns(api: Api, login: str) -> dict[str, Any]:
    return {c["id"]: c for c in api.as_(login).get("/api/v1/campaigns").json()["items"]}


def test_campaigns_are_listed_for_members_and_the_owning_area(api: Api) -> None:
    assert campaigns(api, "kim")["nanum"]["donated"] == 0
    assert campaigns(api, "kim")["nanum"]["owner"] == "incheon"
    assert list(campaigns(api, "incheon-admin")) == ["nanum"]
    assert campaigns(api, "gyeyang-admin") == {}


def test_an_admin_opens_a_campaign_for_its_own_issuer_only(api: Api) -> None:
    body = {"id": "gy-winter", "name": "계양 겨울나기", "owner": "gyeyang"}
    foreign = api.as_("bupyeong-admin").post("/api/v1/campaigns", json=body)
    assert (foreign.status_code, foreign.json()["code"]) == (403, "forbidden")
    assert api.as_("kim").post("/api/v1/campaigns", json=body).status_code == 403
    made = api.as_("gyeyang-admin").post("/api/v1/campaigns", json=body)
    assert made.status_code == 201
    assert {k: made.json()[k] for k in ("id", "owner", "donated")} == {
        "id": "gy-winter",
        "owner": "gyeyang",
        "donated": 0,
    }
    logged = api.as_("gyeyang-admin").get("/api/v1/audit").json()["items"][0]
    assert (logged["action"], logged["target"]) == ("campaign.create", "campaign:gy-winter")


def test_a_member_donates_cashback_but_never_charged_money(api: Api) -> None:
    kim_earns_500(api)
    path = "/api/v1/campaigns/nanum/donations"
    given = api.money("kim", path, {"amount": 300}, key="give-1")
    assert given.status_code == 201
    assert {k: given.json()[k] for k in ("campaign", "amount")} == {
        "campaign": "nanum",
        "amount": 300,
    }
    replay = api.money("kim", path, {"amount": 300}, key="give-1")
    assert replay.json() == given.json() and replay.headers["Idempotent-Replayed"] == "true"
    too_much = api.money("kim", path, {"amount": 201})
    assert (too_much.status_code, too_much.json()["code"]) == (422, "insufficient_cashback")
    assert cashback(api, "kim") == 200
    assert campaigns(api, "kim")["nanum"]["donated"] == 300
    unknown = api.money("kim", "/api/v1/campaigns/nope/donations", {"amount": 1})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_campaign")
    assert api.money("gyeyang-admin", path, {"amount": 1}).status_code == 403


def test_a_member_sees_its_groups_with_pool_and_members(api: Api) -> None:
    mine = api.as_("kim").get("/api/v1/groups").json()["items"]
    assert [(g["id"], g["owner"], g["pool"], g["members"]) for g in mine] == [
        ("club", "u-kim", 0, ["u-kim", "u-lee"])
    ]
    assert api.as_("operator").get("/api/v1/groups").status_code == 403


def test_a_member_starts_a_group_it_owns_and_another_joins_it(api: Api) -> None:
    made = api.as_("lee").post("/api/v1/groups", json={"name": "부평 독서회"})
    assert made.status_code == 201
    group = made.json()
    assert (group["owner"], group["members"], group["pool"]) == ("u-lee", ["u-lee"], 0)
    assert group["id"].startswith("g-")
    path = f"/api/v1/groups/{group['id']}"
    assert api.as_("kim").get(path).status_code == 404  # not a member yet
    joined = api.as_("kim").post(f"{path}/members")
    assert joined.status_code == 200 and joined.json()["members"] == ["u-kim", "u-lee"]
    assert api.as_("kim").get(path).json()["owner"] == "u-lee"
    named = api.as_("kim").post(
        "/api/v1/groups", json={"id": "book", "name": "책모임", "members": ["u-lee"]}
    )
    assert named.json()["members"] == ["u-kim", "u-lee"]
    unknown = api.as_("kim").post("/api/v1/groups", json={"name": "x", "members": ["u-nobody"]})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_member")


def test_members_contribute_cashback_to_their_group_pool(api: Api) -> None:
    kim_earns_500(api)
    put = api.money("kim", "/api/v1/groups/club/contributions", {"amount": 500})
    assert put.status_code == 201 and put.json()["amount"] == 500
    broke = api.money("lee", "/api/v1/groups/club/contributions", {"amount": 1})
    assert (broke.status_code, broke.json()["code"]) == (422, "insufficient_cashback")
    api.as_("lee").post("/api/v1/groups", json={"id": "lee-only", "name": "혼자"})
    outsider = api.money("kim", "/api/v1/groups/lee-only/contributions", {"amount": 1})
    assert (outsider.status_code, outsider.json()["code"]) == (403, "not_group_member")
    assert api.as_("lee").get("/api/v1/groups/club").json()["pool"] == 500
    assert cashback(api, "kim") == 0


def test_only_the_owner_pays_a_merchant_from_the_pool(api: Api) -> None:
    kim_earns_500(api)
    api.money("kim", "/api/v1/groups/club/contributions", {"amount": 500})
    body = {"merchant": "m-bunsik", "amount": 400}
    not_owner = api.money("lee", "/api/v1/groups/club/payments", body)
    assert (not_owner.status_code, not_owner.json()["code"]) == (403, "not_group_owner")
    paid = api.money("kim", "/api/v1/groups/club/payments", body)
    assert paid.status_code == 201
    # Benefit Plus 3% off 400 is 12; fee 0.8% of 388 is 3; Gyeyang supports 1 of it; no cashback
    got = paid.json()
    assert (got["discount"], got["charged"], got["fee"]) == (12, 388, 3)
    assert (got["cashback"], got["fee_support"]) == ({}, {"gyeyang-fee": 1})
    assert api.as_("kim").get("/api/v1/groups/club").json()["pool"] == 112
    broke = api.money("kim", "/api/v1/groups/club/payments", {**body, "amount": 1_000})
    assert (broke.status_code, broke.json()["code"]) == (422, "insufficient_funds")


def test_the_owner_donates_from_the_pool_in_the_groups_name(api: Api) -> None:
    kim_earns_500(api)
    api.money("kim", "/api/v1/groups/club/contributions", {"amount": 500})
    body = {"campaign": "nanum", "amount": 100}
    not_owner = api.money("lee", "/api/v1/groups/club/donations", body)
    assert (not_owner.status_code, not_owner.json()["code"]) == (403, "not_group_owner")
    given = api.money("kim", "/api/v1/groups/club/donations", body)
    assert given.status_code == 201 and given.json()["amount"] == 100
    assert api.as_("kim").get("/api/v1/groups/club").json()["pool"] == 400
    assert campaigns(api, "lee")["nanum"]["donated"] == 100
    broke = api.money("kim", "/api/v1/groups/club/donations", {**body, "amount": 401})
    assert (broke.status_code, broke.json()["code"]) == (422, "insufficient_funds")
