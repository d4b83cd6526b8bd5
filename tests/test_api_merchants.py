"""The merchants' side of the API, through the ASGI app on SQLite and PostgreSQL: the
directory, registration approval, Benefit Plus, QR payments, sales, coupons, groups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from eum.audit.store import audit_log
from eum.clock import kst_day, now
from eum.ledger.store import journal_entries
from eum.payments import service as payments
from tests.api_support import Api

PUBLIC_MART = {
    "id": "m-mart",
    "name": "작전 마트",
    "district": "gyeyang",
    "category": None,
    "tier": "general",
    "discount_bps": 0,
}


@pytest.fixture
def api(engine: Engine) -> Api:
    return Api(engine)


def entries(api: Api) -> int:
    return int(
        api.platform.read(
            lambda c: c.execute(select(func.count()).select_from(journal_entries)).scalar_one()
        )
    )


def audits(api: Api) -> list[tuple[str, str, str | None, str]]:
    """(action, target, issuer, actor role) of every audit record, oldest first."""
    rows = api.platform.read(
        lambda c: c.execute(
            select(
                audit_log.c.action,
                audit_log.c.target,
                audit_log.c.issuer_id,
                audit_log.c.actor_role,
            ).order_by(audit_log.c.id)
        ).all()
    )
    return [tuple(r) for r in rows]


def sign_up_shop(api: Api, login: str = "newshop", name: str = "효성동 떡집") -> str:
    response = api.anonymous.post(
        "/api/v1/auth/signup/merchant",
        json={
            "login": login,
            "password": "s3cret-pass",
            "merchant": {"name": name, "district": "gyeyang", "annual_sales": 80_000_000},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return str(response.json()["merchant_id"])


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_the_directory_lists_approved_merchants_by_name_district_and_tier(api: Api) -> None:
    pending = sign_up_shop(api)
    anon = api.anonymous
    assert ids(anon.get("/api/v1/merchants")) == ["m-bunsik", "m-cafe", "m-mart"]
    assert ids(anon.get("/api/v1/merchants", params={"district": "gyeyang"})) == [
        "m-bunsik",
        "m-mart",
    ]
    assert ids(anon.get("/api/v1/merchants", params={"benefit_plus": "true"})) == ["m-bunsik"]
    assert ids(anon.get("/api/v1/merchants", params={"benefit_plus": "false"})) == [
        "m-cafe",
        "m-mart",
    ]
    assert anon.get("/api/v1/merchants", params={"q": "마트"}).json()["items"] == [PUBLIC_MART]
    assert ids(anon.get("/api/v1/merchants", params={"q": "떡집"})) == []  # still pending
    assert ids(anon.get("/api/v1/merchants", params={"q": "%"})) == []  # no LIKE wildcards
    first = anon.get("/api/v1/merchants", params={"limit": 2}).json()
    assert [m["id"] for m in first["items"]] == ["m-bunsik", "m-cafe"]
    rest = anon.get("/api/v1/merchants", params={"limit": 2, "cursor": first["next_cursor"]})
    assert ids(rest) == ["m-mart"] and rest.json()["next_cursor"] is None
    assert anon.get("/api/v1/merchants", params={"limit": 101}).status_code == 422
    assert pending.startswith("m-")


def test_a_merchant_page_shows_private_fields_to_its_owner_and_area_admins(api: Api) -> None:
    assert api.anonymous.get("/api/v1/merchants/m-mart").json() == PUBLIC_MART
    private = {
        **PUBLIC_MART,
        "annual_sales": 1_500_000_000,
        "card_fee_bps": 150,
        "status": "approved",
        "active": True,
    }
    for who in ("mart", "gyeyang-admin", "incheon-admin", "operator"):
        assert api.as_(who).get("/api/v1/merchants/m-mart").json() == private, who
    for who in ("bunsik", "bupyeong-admin", "kim"):
        assert api.as_(who).get("/api/v1/merchants/m-mart").json() == PUBLIC_MART, who
    pending = sign_up_shop(api)
    for who in ("gyeyang-admin", "operator"):
        seen = api.as_(who).get(f"/api/v1/merchants/{pending}").json()
        assert (seen["status"], seen["active"], seen["annual_sales"]) == (
            "pending",
            False,
            80_000_000,
        )
    for client in (api.anonymous, api.as_("bupyeong-admin"), api.as_("kim")):
        hidden = client.get(f"/api/v1/merchants/{pending}")
        assert (hidden.status_code, hidden.json()["code"]) == (404, "unknown_merchant")
    missing = api.anonymous.get("/api/v1/merchants/m-nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_merchant")


def test_a_registered_merchant_takes_payments_only_after_the_gyeyang_admin_approves(
    api: Api,
) -> None:
    shop = sign_up_shop(api)
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    refused = api.money("kim", "/api/v1/payments", {"merchant": shop, "amount": 5_000})
    assert (refused.status_code, refused.json()["code"]) == (422, "merchant_inactive")
    path = f"/api/v1/merchants/{shop}/approval"
    outsider = api.as_("bupyeong-admin").post(path, json={"approve": True})
    assert (outsider.status_code, outsider.json()["code"]) == (404, "unknown_merchant")
    assert api.as_("kim").post(path, json={"approve": True}).status_code == 403
    assert api.as_("mart").post(path, json={"approve": True}).status_code == 403
    assert audits(api) == []
    approved = api.as_("gyeyang-admin").post(path, json={"approve": True, "note": "서류 확인"})
    assert approved.status_code == 200
    assert approved.json() == {"merchant": shop, "status": "approved", "active": True}
    twice = api.as_("gyeyang-admin").post(path, json={"approve": True})
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_state")
    # approved, it is public now: the Bupyeong admin is refused, not misled
    assert api.as_("bupyeong-admin").post(path, json={"approve": False}).status_code == 403
    paid = api.money("kim", "/api/v1/payments", {"merchant": shop, "amount": 5_000})
    assert (paid.status_code, paid.json()["charged"]) == (201, 5_000)
    assert audits(api) == [("merchant.approve", shop, "gyeyang", "issuer_admin")]


def test_a_rejected_registration_stays_unpayable_and_out_of_sight(api: Api) -> None:
    shop = sign_up_shop(api)
    path = f"/api/v1/merchants/{shop}/approval"
    assert api.as_("gyeyang-admin").post(path, json={"approve": "yes"}).status_code == 422
    rejected = api.as_("operator").post(path, json={"approve": False, "note": "폐업 사업자"})
    assert rejected.json() == {"merchant": shop, "status": "rejected", "active": False}
    assert api.anonymous.get(f"/api/v1/merchants/{shop}").status_code == 404
    again = api.as_("gyeyang-admin").post(path, json={"approve": True})
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    # an operator's decision is filed under the district's own issuer
    assert audits(api) == [("merchant.reject", shop, "gyeyang", "operator")]


def test_joining_benefit_plus_discounts_payments_and_leaving_stops_it(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    joined = api.as_("mart").put(
        "/api/v1/merchants/m-mart/benefit-plus", json={"discount_bps": 500}
    )
    assert joined.json() == {"merchant": "m-mart", "tier": "benefit_plus", "discount_bps": 500}
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).json()
    assert (paid["discount"], paid["charged"]) == (500, 9_500)
    left = api.as_("mart").delete("/api/v1/merchants/m-mart/benefit-plus")
    assert left.json() == {"merchant": "m-mart", "tier": "general", "discount_bps": 0}
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).json()
    assert (paid["discount"], paid["charged"]) == (0, 10_000)
    too_high = api.as_("mart").put(
        "/api/v1/merchants/m-mart/benefit-plus", json={"discount_bps": 800}
    )
    assert (too_high.status_code, too_high.json()["field"]) == (422, "discount_bps")
    for who in ("cafe", "bupyeong-admin", "kim"):
        response = api.as_(who).put(
            "/api/v1/merchants/m-mart/benefit-plus", json={"discount_bps": 100}
        )
        assert response.status_code == 403, who
    assert audits(api) == []  # the owner's own changes are not admin actions
    by_admin = api.as_("gyeyang-admin").put(
        "/api/v1/merchants/m-mart/benefit-plus", json={"discount_bps": 200}
    )
    assert by_admin.json()["discount_bps"] == 200
    assert api.anonymous.get("/api/v1/merchants/m-mart").json()["tier"] == "benefit_plus"
    assert audits(api) == [("merchant.benefit_plus.join", "m-mart", "gyeyang", "issuer_admin")]


def test_a_merchant_qr_code_pays_and_a_tampered_one_writes_nothing(api: Api) -> None:
    bunsik = api.as_("bunsik")
    before_issue = now()
    code = bunsik.get("/api/v1/merchants/m-bunsik/qr", params={"amount": 10_000}).json()
    after_issue = now()
    assert (code["merchant"], code["amount"]) == ("m-bunsik", 10_000)
    assert code["payload"].startswith("EUM1.") and code["pay_url"] == f"/pay?qr={code['payload']}"
    assert code["expires_at"].endswith("+09:00")
    # 300 s from when it was issued, truncated to whole seconds (as signed in the payload)
    expires = datetime.fromisoformat(code["expires_at"])
    assert before_issue + timedelta(seconds=299) < expires <= after_issue + timedelta(seconds=300)
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    written = entries(api)
    prefix, body, signature = code["payload"].split(".")
    tampered = ".".join([prefix, ("B" if body[0] != "B" else "C") + body[1:], signature])
    bad = api.money("kim", "/api/v1/payments", {"qr": tampered})
    assert (bad.status_code, bad.json()["code"]) == (422, "qr_invalid")
    assert api.as_("kim").get("/api/v1/me/wallet").json()["charged"] == 50_000
    assert entries(api) == written
    paid = api.money("kim", "/api/v1/payments", {"qr": code["payload"]})
    assert paid.status_code == 201
    assert (paid.json()["discount"], paid.json()["charged"], paid.json()["fee"]) == (300, 9_700, 0)
    payment = api.as_("kim").get(f"/api/v1/payments/{paid.json()['payment_id']}").json()
    assert (payment["merchant"], payment["channel"]) == ("m-bunsik", "qr")
    assert api.as_("kim").get("/api/v1/me/wallet").json()["charged"] == 50_000 - 9_700


def test_the_qr_code_comes_as_svg_or_png_and_only_for_its_owner(api: Api) -> None:
    bunsik = api.as_("bunsik")
    svg = bunsik.get("/api/v1/merchants/m-bunsik/qr", params={"format": "svg"})
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    png = bunsik.get("/api/v1/merchants/m-bunsik/qr", params={"format": "png", "ttl_seconds": 60})
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    open_amount = bunsik.get("/api/v1/merchants/m-bunsik/qr").json()
    assert open_amount["amount"] is None
    too_long = bunsik.get("/api/v1/merchants/m-bunsik/qr", params={"ttl_seconds": 86_401})
    assert (too_long.status_code, too_long.json()["field"]) == (422, "ttl_seconds")
    bad_amount = bunsik.get("/api/v1/merchants/m-bunsik/qr", params={"amount": "1.5"})
    assert (bad_amount.status_code, bad_amount.json()["code"]) == (422, "invalid_amount")
    for who in ("mart", "kim", "gyeyang-admin"):
        assert api.as_(who).get("/api/v1/merchants/m-bunsik/qr").status_code == 403, who
    assert api.anonymous.get("/api/v1/merchants/m-bunsik/qr").status_code == 401


def test_the_sales_summary_after_a_payment_a_refund_and_a_settlement(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    pid = api.money("kim", "/api/v1/payments", {"merchant": "m-bunsik", "amount": 10_000}).json()[
        "payment_id"
    ]
    # card: discount 300, charged 9,700, fee 77 (0.8%), fee support 48 (0.5%)
    refund = api.money("bunsik", f"/api/v1/payments/{pid}/refunds", {"amount": 4_850})
    assert refund.status_code == 201
    # half refunded: the fee falls to 38 and the fee support to 24
    period = {
        "count": 1,
        "amount": 10_000,
        "charged": 9_700,
        "refunded": 4_850,
        "fee": 38,
        "fee_support": 24,
        "net_receivable": 9_700 - 4_850 - 38 + 24,
    }
    sales = api.as_("bunsik").get("/api/v1/merchants/m-bunsik/sales").json()
    today = kst_day(now())
    assert sales["today"] == {"date": today.isoformat(), **period}
    assert sales["month"] == {"month": today.strftime("%Y-%m"), **period}
    assert (sales["settled"], sales["receivable"]) == (0, 4_836)
    api.platform.run(lambda c: payments.settle(c, at=now()))
    for who in ("bunsik", "gyeyang-admin", "operator"):
        after = api.as_(who).get("/api/v1/merchants/m-bunsik/sales").json()
        assert (after["settled"], after["receivable"], after["today"]) == (
            4_836,
            0,
            {"date": today.isoformat(), **period},
        ), who
    for who in ("bupyeong-admin", "mart", "kim"):
        assert api.as_(who).get("/api/v1/merchants/m-bunsik/sales").status_code == 403, who
    quiet = api.as_("mart").get("/api/v1/merchants/m-mart/sales").json()
    assert quiet["month"]["count"] == 0 and quiet["receivable"] == 0


def test_coupons_are_issued_listed_claimed_and_sold_out(api: Api) -> None:
    today = kst_day(now())
    issued = api.as_("bunsik").post(
        "/api/v1/merchants/m-bunsik/coupons",
        json={
            "name": "개업 1주년",
            "value": 1_000,
            "min_spend": 5_000,
            "quantity": 1,
            "from": today.isoformat(),
            "until": (today + timedelta(days=7)).isoformat(),
        },
    )
    assert issued.status_code == 201
    coupon = issued.json()
    assert coupon["id"].startswith("k-") and len(coupon["id"]) == 18
    listed = api.anonymous.get("/api/v1/merchants/m-bunsik/coupons").json()["items"]
    assert listed == [
        {
            "id": coupon["id"],
            "merchant": "m-bunsik",
            "name": "개업 1주년",
            "value": 1_000,
            "min_spend": 5_000,
            "quantity": 1,
            "remaining": 1,
            "from": today.isoformat(),
            "until": (today + timedelta(days=7)).isoformat(),
        }
    ]
    path = f"/api/v1/coupons/{coupon['id']}/claims"
    claimed = api.as_("kim").post(path)
    assert claimed.status_code == 201
    assert (claimed.json()["coupon"], claimed.json()["member"]) == (coupon["id"], "u-kim")
    twice = api.as_("kim").post(path)
    assert (twice.status_code, twice.json()["code"]) == (409, "coupon_already_claimed")
    sold_out = api.as_("lee").post(path)
    assert (sold_out.status_code, sold_out.json()["code"]) == (422, "coupon_sold_out")
    assert api.anonymous.get("/api/v1/merchants/m-bunsik/coupons").json()["items"] == []
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    paid = api.money(
        "kim",
        "/api/v1/payments",
        {"merchant": "m-bunsik", "amount": 10_000, "coupon": coupon["id"]},
    ).json()
    assert (paid["discount"], paid["coupon_off"], paid["charged"]) == (300, 1_000, 8_700)


def test_coupon_claims_and_issues_fail_with_the_spec_codes(api: Api) -> None:
    yesterday = (kst_day(now()) - timedelta(days=1)).isoformat()
    bunsik = api.as_("bunsik")
    old = bunsik.post(
        "/api/v1/merchants/m-bunsik/coupons", json={"value": 500, "until": yesterday}
    ).json()
    expired = api.as_("kim").post(f"/api/v1/coupons/{old['id']}/claims")
    assert (expired.status_code, expired.json()["code"]) == (422, "coupon_expired")
    unknown = api.as_("kim").post("/api/v1/coupons/k-nothing/claims")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_coupon")
    assert api.as_("mart").post("/api/v1/coupons/k-nothing/claims").status_code == 403
    path = "/api/v1/merchants/m-bunsik/coupons"
    fractional = bunsik.post(path, json={"value": 1000.5})
    assert (fractional.status_code, fractional.json()["code"]) == (422, "invalid_amount")
    backwards = bunsik.post(path, json={"value": 500, "from": "2026-05-02", "until": "2026-05-01"})
    assert (backwards.status_code, backwards.json()["field"]) == (422, "until")
    no_such_day = bunsik.post(path, json={"value": 500, "from": "2026-02-30"})
    assert (no_such_day.status_code, no_such_day.json()["field"]) == (422, "from")
    assert api.as_("mart").post(path, json={"value": 500}).status_code == 403
    assert api.as_("kim").post(path, json={"value": 500}).status_code == 403
    assert api.anonymous.get("/api/v1/merchants/m-bunsik/coupons").json()["items"] == []


def test_merchant_groups_are_formed_by_admins_of_the_merchants_area(api: Api) -> None:
    gyeyang = api.as_("gyeyang-admin")
    formed = gyeyang.post(
        "/api/v1/merchant-groups",
        json={
            "id": "gyesan-market",
            "name": "계산시장 상인회",
            "merchants": ["m-mart", "m-bunsik"],
        },
    )
    assert formed.status_code == 201
    assert formed.json() == {
        "id": "gyesan-market",
        "name": "계산시장 상인회",
        "merchants": ["m-bunsik", "m-mart"],
    }
    outside = gyeyang.post(
        "/api/v1/merchant-groups",
        json={"id": "mixed", "name": "섞인 모임", "merchants": ["m-cafe"]},
    )
    assert (outside.status_code, outside.json()["code"]) == (403, "forbidden")
    body = {"id": "bupyeong-cafes", "name": "부평 카페거리", "merchants": ["m-cafe"]}
    assert api.as_("mart").post("/api/v1/merchant-groups", json=body).status_code == 403
    assert api.as_("operator").post("/api/v1/merchant-groups", json=body).status_code == 201
    taken = api.as_("operator").post("/api/v1/merchant-groups", json=body)
    assert (taken.status_code, taken.json()["code"]) == (409, "already_exists")
    assert api.anonymous.get("/api/v1/merchant-groups").json()["items"] == [
        {"id": "bupyeong-cafes", "name": "부평 카페거리", "merchants": ["m-cafe"]},
        {"id": "gyesan-market", "name": "계산시장 상인회", "merchants": ["m-bunsik", "m-mart"]},
    ]
    assert ids(api.anonymous.get("/api/v1/merchant-groups", params={"district": "gyeyang"})) == [
        "gyesan-market"
    ]
    assert audits(api) == [
        ("merchant_group.create", "gyesan-market", "gyeyang", "issuer_admin"),
        ("merchant_group.create", "bupyeong-cafes", "bupyeong", "operator"),
    ]
