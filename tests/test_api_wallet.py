"""The member's side of the API, through the ASGI app on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from eum.clock import now
from eum.config import settings
from eum.ledger.store import journal_entries
from eum.payments import qr
from eum.payments.engine import PaymentEngine, PayRequest
from tests.api_support import Api


@pytest.fixture
def api(engine: Engine) -> Api:
    return Api(engine)


def entries(api: Api) -> int:
    return int(
        api.platform.read(
            lambda c: c.execute(select(func.count()).select_from(journal_entries)).scalar_one()
        )
    )


def test_a_citizen_signs_up_charges_pays_and_sees_the_cashback(api: Api) -> None:
    anon = api.anonymous
    signed = anon.post(
        "/api/v1/auth/signup/member",
        json={"login": "park", "password": "s3cret-pass", "name": "박서연", "card": "gyeyang"},
    )
    assert signed.status_code == 201
    token = anon.post(
        "/api/v1/auth/login", json={"login": "park", "password": "s3cret-pass"}
    ).json()
    assert token["token_type"] == "bearer" and token["expires_at"].endswith("+09:00")
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    charged = anon.post(
        "/api/v1/charges", json={"amount": 50_000}, headers={**auth, "Idempotency-Key": "c-1"}
    )
    assert charged.status_code == 201 and charged.json()["amount"] == 50_000
    paid = anon.post(
        "/api/v1/payments",
        json={"merchant": "m-bunsik", "amount": 10_000},
        headers={**auth, "Idempotency-Key": "p-1"},
    )
    assert paid.status_code == 201
    assert paid.json()["cashback"] == {"incheon-base": 388, "gyeyang-launch": 97}
    wallet = anon.get("/api/v1/me/wallet", headers=auth).json()
    assert (wallet["cashback"], wallet["charged"]) == (485, 40_300)
    base = next(r for r in wallet["rules"] if r["rule"] == "incheon-base")
    assert (base["cashback_this_month"], base["cap_left"]) == (388, 300_000 - 9_700)
    kinds = [item["kind"] for item in anon.get("/api/v1/me/history", headers=auth).json()["items"]]
    assert kinds == ["payment", "charge"]


def test_money_requests_need_an_idempotency_key(api: Api) -> None:
    response = api.as_("kim").post("/api/v1/charges", json={"amount": 1_000})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_required"
    assert entries(api) == len(GYEYANG_BUDGETS)


GYEYANG_BUDGETS = ["incheon-cashback", "gyeyang-event", "gyeyang-fee"]  # one opening entry each


def test_the_same_key_and_body_replays_the_first_response(api: Api) -> None:
    first = api.money("kim", "/api/v1/charges", {"amount": 7_000}, key="same")
    again = api.money("kim", "/api/v1/charges", {"amount": 7_000}, key="same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == (
        "false",
        "true",
    )
    conflict = api.money("kim", "/api/v1/charges", {"amount": 8_000}, key="same")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert api.as_("kim").get("/api/v1/me/wallet").json()["charged"] == 7_000


def test_an_error_is_replayed_under_its_key_too(api: Api) -> None:
    broke = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 5_000}, key="p")
    assert broke.status_code == 422 and broke.json()["code"] == "insufficient_funds"
    api.money("kim", "/api/v1/charges", {"amount": 10_000})
    again = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 5_000}, key="p")
    assert again.status_code == 422 and again.json() == broke.json()


def test_keys_belong_to_their_caller(api: Api) -> None:
    assert api.money("kim", "/api/v1/charges", {"amount": 1_000}, key="mine").status_code == 201
    assert api.money("lee", "/api/v1/charges", {"amount": 2_000}, key="mine").status_code == 201


@pytest.mark.parametrize("amount", [0, -100, 1.5, 1000.0, "100", True, 1_000_000_001, None])
def test_bad_amounts_are_invalid_amount_and_write_nothing(api: Api, amount: object) -> None:
    before = entries(api)
    response = api.money("kim", "/api/v1/charges", {"amount": amount})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_amount"
    assert response.json()["field"] == "amount"
    assert entries(api) == before


@pytest.mark.parametrize(
    "body,status,code",
    [
        (b"{not json", 400, "malformed_json"),
        (b"[]", 422, "invalid_request"),
        (b'{"amount": 1000, "extra": 1}', 422, "invalid_request"),
        (b'{"amount": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "malformed_json"),
    ],
)
def test_malformed_bodies_get_a_problem_and_write_nothing(
    api: Api, body: bytes, status: int, code: str
) -> None:
    before = entries(api)
    response = api.as_("kim").post(
        "/api/v1/charges",
        content=body,
        headers={"Idempotency-Key": f"bad-{len(body)}", "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert entries(api) == before


def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    response = api.as_("kim").post(
        "/api/v1/charges",
        content=b" " * (settings().max_body_bytes + 1),
        headers={"Idempotency-Key": "big", "content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_paying_by_a_signed_qr_payload_uses_its_merchant_and_fixed_amount(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    payload = qr.issue(
        settings().signing_key(), "m-bunsik", 10_000, datetime.now(UTC) + timedelta(minutes=5)
    )
    paid = api.money("kim", "/api/v1/payments", {"qr": payload})
    assert paid.status_code == 201 and paid.json()["charged"] == 9_700
    payment = api.as_("kim").get(f"/api/v1/payments/{paid.json()['payment_id']}").json()
    assert (payment["merchant"], payment["channel"]) == ("m-bunsik", "qr")
    mismatch = api.money("kim", "/api/v1/payments", {"qr": payload, "amount": 9_000})
    assert mismatch.json()["code"] == "qr_amount_mismatch"


@pytest.mark.parametrize("case", ["altered", "expired", "foreign key", "garbage"])
def test_a_bad_qr_payload_fails_and_writes_nothing(api: Api, case: str) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    before = entries(api)
    key, expiry = settings().signing_key(), datetime.now(UTC) + timedelta(minutes=5)
    payload = {
        "altered": qr.issue(key, "m-bunsik", 100, expiry).replace("EUM1.e", "EUM1.f", 1),
        "expired": qr.issue(key, "m-bunsik", 100, datetime.now(UTC) - timedelta(seconds=1)),
        "foreign key": qr.issue(b"someone else", "m-bunsik", 100, expiry),
        "garbage": "EUM1.not-a-payload",
    }[case]
    response = api.money("kim", "/api/v1/payments", {"qr": payload})
    assert response.status_code == 422
    assert response.json()["code"] == ("qr_expired" if case == "expired" else "qr_invalid")
    assert entries(api) == before


def test_members_see_only_their_own_payments(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 1_000}).json()
    assert [p["id"] for p in api.as_("kim").get("/api/v1/payments").json()["items"]] == [
        paid["payment_id"]
    ]
    assert api.as_("lee").get("/api/v1/payments").json()["items"] == []
    hidden = api.as_("lee").get(f"/api/v1/payments/{paid['payment_id']}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "unknown_payment"
    assert api.as_("mart").get(f"/api/v1/payments/{paid['payment_id']}").status_code == 200
    assert api.as_("cafe").get(f"/api/v1/payments/{paid['payment_id']}").status_code == 404
    assert (
        api.as_("bupyeong-admin").get(f"/api/v1/payments/{paid['payment_id']}").status_code == 404
    )
    assert api.as_("gyeyang-admin").get(f"/api/v1/payments/{paid['payment_id']}").status_code == 200


def test_the_merchant_refunds_its_own_payment_and_nobody_else_can(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    pid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).json()[
        "payment_id"
    ]
    path = f"/api/v1/payments/{pid}/refunds"
    assert api.money("kim", path, {"amount": 1_000}).status_code == 403
    assert api.money("cafe", path, {"amount": 1_000}).status_code == 404
    refunded = api.money("mart", path, {"amount": 4_000})
    assert refunded.status_code == 201
    assert refunded.json()["status"] == "partially_refunded"
    too_much = api.money("mart", path, {"amount": 6_001})
    assert too_much.json()["code"] == "refund_exceeds_payment"


def test_cursor_pagination_walks_every_payment_once(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 50_000})
    ids = {
        api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 100 + i}).json()[
            "payment_id"
        ]
        for i in range(5)
    }
    seen, cursor = [], None
    while True:
        page = (
            api.as_("kim")
            .get("/api/v1/payments", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            .json()
        )
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert api.as_("kim").get("/api/v1/payments", params={"limit": 101}).status_code == 422


def test_tokens_expire_when_revoked_and_wrong_passwords_lock_the_account(api: Api) -> None:
    kim = api.as_("kim")
    assert kim.get("/api/v1/auth/me").json()["member_id"] == "u-kim"
    assert kim.post("/api/v1/auth/logout").status_code == 204
    revoked = kim.get("/api/v1/auth/me")
    assert revoked.status_code == 401 and revoked.json()["code"] == "unauthorized"
    for _ in range(settings().login_max_failures):
        wrong = api.anonymous.post(
            "/api/v1/auth/login", json={"login": "lee", "password": "nope-nope"}
        )
        assert wrong.status_code == 401
    locked = api.anonymous.post(
        "/api/v1/auth/login", json={"login": "lee", "password": "correct horse battery"}
    )
    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"


def test_a_full_payment_queue_answers_429_with_retry_after_and_takes_nothing(api: Api) -> None:
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    real = api.app.state.payments
    stalled = PaymentEngine(real.engine, max_queue=1, autostart=False)
    api.app.state.payments = stalled
    try:
        waiting = stalled.submit(
            PayRequest(member_id="u-kim", merchant_id="m-mart", amount_krw=1_000, at=now())
        )
        before = entries(api)
        body = {"merchant": "m-mart", "amount": 1_000}
        refused = api.money("kim", "/api/v1/payments", body, key="retry-1")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert refused.json()["code"] == "overloaded"
        assert entries(api) == before
        stalled.start()
        assert waiting.result(timeout=30)["ok"]
    finally:
        stalled.close()
        api.app.state.payments = real
    # the refused key was not used: the same request now goes through
    again = api.money("kim", "/api/v1/payments", body, key="retry-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "false"
