"""The phone-order directory and the Benefit Plus services, through the API on SQLite and
PostgreSQL: a shop opts in and out of the directory; the Gyeyang admin publishes free
consultations that Gyeyang's Benefit Plus shops book (one shop per slot, also when many
try at once); a shop prints its credit-guarantee fee certificate and asks for a QR kit
that the admin ships; a shop that leaves Benefit Plus loses all of it at once; and the
Bupyeong admin sees and touches none of Gyeyang's."""

from __future__ import annotations

import copy
import re
import threading
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from eum import errors
from eum.auth import service as auth
from eum.auth.model import Principal
from eum.benefits import service
from eum.benefits.store import benefit_certificates, consult_bookings
from eum.clock import KST, kst_day, now
from tests.api_support import PASSWORD, Api
from tests.conftest import GYEYANG_CITY, Platform

PLUS_SHOPS = [f"m-plus{i}" for i in range(1, 7)]  # more Gyeyang Benefit Plus shops


def city() -> dict[str, Any]:
    """GYEYANG_CITY with categories, six more Gyeyang Benefit Plus restaurants and a
    Bupyeong one."""
    doc = copy.deepcopy(GYEYANG_CITY)
    categories = {"m-bunsik": "snack", "m-mart": "mart", "m-cafe": "cafe"}
    for m in doc["merchants"]:
        m["category"] = categories[m["id"]]
    doc["merchants"] += [
        {
            "id": shop,
            "name": f"계양 식당 {n}",
            "district": "gyeyang",
            "category": "restaurant",
            "tier": "benefit_plus",
            "discount_bps": 200,
        }
        for n, shop in enumerate(PLUS_SHOPS, start=1)
    ]
    doc["merchants"].append(
        {
            "id": "m-bplus",
            "name": "부평 혜택 식당",
            "district": "bupyeong",
            "category": "restaurant",
            "tier": "benefit_plus",
            "discount_bps": 300,
        }
    )
    return doc


def city_api(engine: Engine) -> Api:
    api = Api(engine, city())

    def logins(conn: Any) -> None:
        for shop in [*PLUS_SHOPS, "m-bplus"]:
            auth.create_staff(
                conn, login=shop, password=PASSWORD, role="merchant", merchant_id=shop, at=now()
            )

    api.platform.run(logins)
    return api


def starts(days: int = 3, hour: int = 14) -> str:
    """An ISO start ``days`` KST days from today at ``hour``:00."""
    day = kst_day(now()) + timedelta(days=days)
    return datetime.combine(day, time(hour), KST).isoformat()


def publish(api: Api, admin: str = "gyeyang-admin", **fields: Any) -> dict[str, Any]:
    body = {"kind": "tax", "starts_at": starts(), "minutes": 60, "place": "계양구청 3층", **fields}
    made = api.as_(admin).post("/api/v1/consult-slots", json=body)
    assert made.status_code == 201, made.text
    slot: dict[str, Any] = made.json()
    return slot


def problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


def ids(response: Any, key: str = "id") -> list[str]:
    assert response.status_code == 200, response.text
    return [item[key] for item in response.json()["items"]]


# --- phone numbers (no database) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("02-123-4567", "02-123-4567"),
        ("02-1234-5678", "02-1234-5678"),
        ("032-123-4567", "032-123-4567"),
        ("032 555 1234", "032-555-1234"),
        ("0325551234", "032-555-1234"),
        ("032.5551.2345", "032-5551-2345"),
        ("010-1234-5678", "010-1234-5678"),
        ("01012345678", "010-1234-5678"),
        ("011-234-5678", "011-234-5678"),
        ("070-8765-4321", "070-8765-4321"),
        ("1588-1234", "1588-1234"),
    ],
)
def test_a_phone_number_is_read_as_people_write_it(typed: str, stored: str) -> None:
    assert service.phone_number(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "123-4567",  # no area code
        "02-12-345",  # too short
        "02-12345-67890",  # too long
        "010-123-4567",  # 010 numbers have four-digit exchanges
        "099-123-4567",  # no such area code
        "032-012-3456",  # an exchange does not start with 0
        "032-123-4567 내선 2",
        "+82-32-123-4567",
        "032--123--4567--0000-0000",
        "'; DROP TABLE payments;--",
    ],
)
def test_anything_else_is_not_a_phone_number(typed: str) -> None:
    with pytest.raises(errors.InvalidRequest) as refused:
        service.phone_number(typed)
    assert refused.value.field == "phone"


# --- the phone-order directory ----------------------------------------------------------------


def test_a_shop_opts_in_changes_its_entry_and_opts_out(engine: Engine) -> None:
    api = city_api(engine)
    shop = api.as_("bunsik")
    problem(shop.get("/api/v1/me/phone-listing"), 404, "not_found")
    problem(shop.delete("/api/v1/me/phone-listing"), 404, "not_found")
    menu = "떡볶이 4,500원\n\n 김밥 3,500원 \n"
    entry = {"phone": "0325551234", "hours": " 매일 11:00~21:00 ", "menu": menu}
    saved = shop.put("/api/v1/me/phone-listing", json=entry)
    assert saved.status_code == 200, saved.text
    assert {k: saved.json()[k] for k in ("phone", "hours", "menu", "active")} == {
        "phone": "032-555-1234",
        "hours": "매일 11:00~21:00",
        "menu": ["떡볶이 4,500원", "김밥 3,500원"],
        "active": True,
    }
    listed = api.anonymous.get("/api/v1/phone-orders").json()["items"]
    assert [(s["id"], s["phone"], s["menu"]) for s in listed] == [
        ("m-bunsik", "032-555-1234", ["떡볶이 4,500원", "김밥 3,500원"])
    ]
    changed = shop.put("/api/v1/me/phone-listing", json={**entry, "phone": "010-9876-5432"})
    assert changed.json()["phone"] == "010-9876-5432"

    left = shop.delete("/api/v1/me/phone-listing")
    assert left.status_code == 200 and left.json()["active"] is False
    assert ids(api.anonymous.get("/api/v1/phone-orders")) == []
    kept = shop.get("/api/v1/me/phone-listing").json()
    assert (kept["active"], kept["phone"]) == (False, "010-9876-5432")  # kept for next time
    assert shop.put("/api/v1/me/phone-listing", json=entry).json()["active"] is True
    assert ids(api.anonymous.get("/api/v1/phone-orders")) == ["m-bunsik"]


def test_the_menu_hours_and_phone_are_bounded_and_nothing_is_kept_of_a_refusal(
    engine: Engine,
) -> None:
    api = city_api(engine)
    shop = api.as_("mart")
    good = {"phone": "032-555-1234", "hours": "매일 09:00~22:00", "menu": "두부 2,000원"}
    too_many = "\n".join(f"반찬 {n}" for n in range(service.MAX_MENU_LINES + 1))
    too_long = "가" * (service.MAX_MENU_LINE_LENGTH + 1)
    for field, value in (
        ("menu", too_many),
        ("menu", too_long),
        ("menu", " \n \n"),
        ("hours", "평일 9시\n주말 10시"),
        ("phone", "032-555-12"),
    ):
        refused = shop.put("/api/v1/me/phone-listing", json={**good, field: value})
        problem(refused, 422, "invalid_request")
        assert refused.json()["field"] == field
    exactly = "\n".join("가" * service.MAX_MENU_LINE_LENGTH for _ in range(service.MAX_MENU_LINES))
    assert shop.put("/api/v1/me/phone-listing", json={**good, "menu": exactly}).status_code == 200
    problem(api.as_("kim").put("/api/v1/me/phone-listing", json=good), 403, "forbidden")


def test_citizens_browse_the_directory_by_district_and_category_page_by_page(
    engine: Engine,
) -> None:
    api = city_api(engine)
    entry = {"phone": "032-555-1234", "hours": "매일 11:00~21:00", "menu": "백반 8,000원"}
    for login in ("bunsik", "mart", "cafe", *PLUS_SHOPS):
        assert api.as_(login).put("/api/v1/me/phone-listing", json=entry).status_code == 200
    # a shop still waiting for approval is not listed, whatever it typed
    newshop = {"name": "새 가게", "district": "gyeyang", "category": "snack"}
    signed = api.anonymous.post(
        "/api/v1/auth/signup/merchant",
        json={"login": "newshop", "password": "s3cret-pass", "merchant": newshop},
    )
    assert signed.status_code == 201, signed.text
    new = TestClient(api.app)
    token = new.post("/api/v1/auth/login", json={"login": "newshop", "password": "s3cret-pass"})
    new.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    assert new.put("/api/v1/me/phone-listing", json=entry).status_code == 200

    everyone = sorted(["m-bunsik", "m-mart", "m-cafe", *PLUS_SHOPS])
    assert ids(api.anonymous.get("/api/v1/phone-orders", params={"limit": 100})) == everyone
    gyeyang = ids(api.anonymous.get("/api/v1/phone-orders", params={"district": "gyeyang"}))
    assert gyeyang == sorted(["m-bunsik", "m-mart", *PLUS_SHOPS])
    snacks = api.anonymous.get(
        "/api/v1/phone-orders", params={"district": "gyeyang", "category": "snack"}
    )
    assert ids(snacks) == ["m-bunsik"]
    assert ids(api.anonymous.get("/api/v1/phone-orders", params={"q": "식당 3"})) == ["m-plus3"]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = api.anonymous.get("/api/v1/phone-orders", params=params).json()
        assert len(page["items"]) <= 4
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everyone


# --- consultations ------------------------------------------------------------------------------


def test_a_benefit_plus_shop_books_a_slot_the_admin_published_and_cancels_it(
    engine: Engine,
) -> None:
    api = city_api(engine)
    admin, shop, other = api.as_("gyeyang-admin"), api.as_("bunsik"), api.as_("m-plus1")
    slot = publish(api, kind="legal", minutes=90, place="계양구청 별관")
    assert (slot["issuer"], slot["kind"], slot["minutes"]) == ("gyeyang", "legal", 90)
    assert slot["starts_at"] == starts()
    assert ids(shop.get("/api/v1/consult-slots")) == [slot["id"]]

    booked = shop.post(f"/api/v1/consult-slots/{slot['id']}/booking", json={"note": "임대차 계약"})
    assert booked.status_code == 201, booked.text
    assert (booked.json()["id"], booked.json()["note"]) == (slot["id"], "임대차 계약")
    assert ids(other.get("/api/v1/consult-slots")) == []  # taken: no longer open
    problem(other.post(f"/api/v1/consult-slots/{slot['id']}/booking"), 409, "slot_taken")
    assert ids(shop.get("/api/v1/me/consult-bookings")) == [slot["id"]]

    seen = admin.get("/api/v1/consult-slots").json()["items"]
    assert [(s["id"], s["booking"]["merchant"], s["booking"]["name"]) for s in seen] == [
        (slot["id"], "m-bunsik", "계산동 분식")
    ]
    problem(admin.delete(f"/api/v1/consult-slots/{slot['id']}"), 409, "invalid_state")

    problem(other.delete(f"/api/v1/consult-slots/{slot['id']}/booking"), 404, "not_found")
    cancelled = shop.delete(f"/api/v1/consult-slots/{slot['id']}/booking")
    assert cancelled.status_code == 200, cancelled.text
    assert ids(shop.get("/api/v1/me/consult-bookings")) == []
    assert ids(other.get("/api/v1/consult-slots")) == [slot["id"]]
    assert admin.get("/api/v1/consult-slots").json()["items"][0]["booking"] is None
    assert admin.delete(f"/api/v1/consult-slots/{slot['id']}").status_code == 200
    assert ids(admin.get("/api/v1/consult-slots")) == []

    audit = admin.get("/api/v1/audit", params={"limit": 100}).json()["items"]
    actions = [(a["action"], a["target"]) for a in audit if a["target"].startswith("consult")]
    target = f"consult_slot:{slot['id']}"
    assert actions == [("consult_slot.withdraw", target), ("consult_slot.publish", target)]


def test_slots_are_checked_before_they_are_published(engine: Engine) -> None:
    api = city_api(engine)
    admin = api.as_("gyeyang-admin")
    good = {"kind": "tax", "starts_at": starts(), "minutes": 60, "place": "계양구청"}
    past = (now() - timedelta(hours=1)).isoformat(timespec="seconds")
    far = datetime.combine(
        kst_day(now()) + timedelta(days=service.MAX_SLOT_DAYS_AHEAD + 1), time(10), KST
    )
    for field, value in (
        ("starts_at", past),
        ("starts_at", far.isoformat()),
        ("place", "   "),
    ):
        refused = admin.post("/api/v1/consult-slots", json={**good, field: value})
        problem(refused, 422, "invalid_request")
        assert refused.json()["field"] == field
    for who, changed, status, code in (
        ("gyeyang-admin", {"kind": "medical"}, 422, "invalid_request"),
        ("gyeyang-admin", {"minutes": 5}, 422, "invalid_request"),
        ("gyeyang-admin", {"minutes": 241}, 422, "invalid_request"),
        ("gyeyang-admin", {"issuer": "incheon"}, 403, "forbidden"),  # above its own
        ("gyeyang-admin", {"issuer": "nowhere"}, 403, "forbidden"),
        ("operator", {"issuer": "nowhere"}, 404, "unknown_issuer"),
        ("operator", {}, 422, "invalid_request"),  # an operator names the issuer
        ("bunsik", {}, 403, "forbidden"),
    ):
        sent = api.as_(who).post("/api/v1/consult-slots", json={**good, **changed})
        problem(sent, status, code)
    # KST unless the time says otherwise: 05:00 UTC is 14:00 in Seoul
    utc = datetime.combine(kst_day(now()) + timedelta(days=3), time(5)).isoformat() + "Z"
    assert publish(api, starts_at=utc)["starts_at"] == starts(3, 14)


def test_a_slot_is_booked_only_before_it_begins_and_a_shop_books_three_ahead(
    platform: Platform,
) -> None:
    platform.setup(city())
    t0 = datetime.combine(kst_day(now()) + timedelta(days=1), time(9), KST)

    def slot(hours: int) -> service.Slot:
        return platform.run(
            lambda c: service.publish_slot(
                c,
                issuer_id="incheon",
                kind="labour",
                starts_at=t0 + timedelta(hours=hours),
                minutes=30,
                place="인천시청",
                at=t0,
            )
        )

    def book(s: service.Slot, at: datetime, shop: str = "m-bunsik") -> Any:
        return platform.run(
            lambda c: service.book_slot(c, merchant_id=shop, slot_id=s.id, note=None, at=at)
        )

    early, late = slot(1), slot(2)
    with pytest.raises(errors.InvalidState):
        book(early, t0 + timedelta(hours=1))  # it has begun
    book(late, t0)
    by = Principal(user_id="u-shop", login="bunsik", role="merchant", merchant_id="m-bunsik")
    with pytest.raises(errors.InvalidState):
        platform.run(
            lambda c: service.cancel_booking(c, by=by, slot_id=late.id, at=t0 + timedelta(hours=3))
        )
    three_more = [slot(h) for h in (3, 4, 5)]
    book(three_more[0], t0)
    book(three_more[1], t0)
    with pytest.raises(errors.InvalidState) as refused:
        book(three_more[2], t0)  # late, 3 and 4 are ahead
    assert "at most 3" in str(refused.value)
    book(three_more[2], t0 + timedelta(hours=2, minutes=30))  # late has begun meanwhile


def test_many_shops_booking_one_slot_at_once_get_one_booking_and_slot_taken(
    engine: Engine,
) -> None:
    api = city_api(engine)
    slot = publish(api)
    clients = {shop: api.as_(shop) for shop in ["bunsik", *PLUS_SHOPS]}
    start = threading.Barrier(len(clients))
    answers: dict[str, tuple[int, str | None]] = {}

    def book(login: str) -> None:
        start.wait()
        got = clients[login].post(f"/api/v1/consult-slots/{slot['id']}/booking", json={})
        answers[login] = (got.status_code, got.json().get("code"))

    threads = [threading.Thread(target=book, args=(login,)) for login in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(answers.values()) == {(201, None): 1, (409, "slot_taken"): len(clients) - 1}
    winner = next(login for login, (status, _) in answers.items() if status == 201)
    with engine.connect() as conn:
        rows = conn.execute(select(consult_bookings)).all()
    assert [(r.slot_id, r.merchant_id) for r in rows] == [
        (slot["id"], "m-bunsik" if winner == "bunsik" else winner)
    ]


# --- leaving Benefit Plus ---------------------------------------------------------------------


def test_a_shop_that_leaves_benefit_plus_loses_every_service_at_once(engine: Engine) -> None:
    api = city_api(engine)
    shop, admin = api.as_("bunsik"), api.as_("gyeyang-admin")
    slot, other = publish(api), publish(api, kind="labour")
    assert shop.post(f"/api/v1/consult-slots/{slot['id']}/booking").status_code == 201
    cert = shop.post("/api/v1/me/benefit-certificates").json()["id"]
    kit = shop.post("/api/v1/me/qr-kit-requests", json={"address": "계산동 1"}).json()["id"]

    assert shop.delete("/api/v1/merchants/m-bunsik/benefit-plus").status_code == 200
    for method, path, body in (
        ("GET", "/api/v1/consult-slots", None),
        ("POST", f"/api/v1/consult-slots/{other['id']}/booking", {}),
        ("DELETE", f"/api/v1/consult-slots/{slot['id']}/booking", None),
        ("GET", "/api/v1/me/consult-bookings", None),
        ("POST", "/api/v1/me/benefit-certificates", None),
        ("GET", "/api/v1/me/benefit-certificates", None),
        ("GET", f"/api/v1/me/benefit-certificates/{cert}", None),
        ("POST", "/api/v1/me/qr-kit-requests", {"address": "계산동 1"}),
        ("GET", "/api/v1/me/qr-kit-requests", None),
    ):
        problem(shop.request(method, path, json=body), 403, "not_benefit_plus")
    # the phone-order directory is for every shop
    entry = {"phone": "032-555-1234", "hours": "매일", "menu": "떡볶이"}
    assert shop.put("/api/v1/me/phone-listing", json=entry).status_code == 200

    # the admin sees what it left behind, marked, and can clear it
    slots = {s["id"]: s["booking"] for s in admin.get("/api/v1/consult-slots").json()["items"]}
    booked = slots[slot["id"]]
    assert (booked["merchant"], booked["benefit_plus"]) == ("m-bunsik", False)
    assert admin.get(f"/api/v1/benefit-certificates/{cert}").json()["benefit_plus_now"] is False
    kits = admin.get("/api/v1/qr-kit-requests").json()["items"]
    assert [(k["id"], k["benefit_plus"]) for k in kits] == [(kit, False)]
    assert admin.delete(f"/api/v1/consult-slots/{slot['id']}/booking").status_code == 200

    # joining again opens the door again
    rejoined = shop.put("/api/v1/merchants/m-bunsik/benefit-plus", json={"discount_bps": 300})
    assert rejoined.status_code == 200
    assert ids(shop.get("/api/v1/me/benefit-certificates")) == [cert]
    assert set(ids(shop.get("/api/v1/consult-slots"))) == {slot["id"], other["id"]}
    problem(api.as_("mart").get("/api/v1/consult-slots"), 403, "not_benefit_plus")


# --- the certificate ----------------------------------------------------------------------------


def test_a_certificate_is_numbered_recorded_and_verified_by_its_areas_admin(
    engine: Engine,
) -> None:
    api = city_api(engine)
    shop = api.as_("bunsik")
    first = shop.post("/api/v1/me/benefit-certificates")
    assert first.status_code == 201, first.text
    cert = first.json()
    today = kst_day(now())
    assert re.fullmatch(rf"BP-{today:%Y%m%d}-[0-9A-F]{{8}}", cert["id"])
    assert {k: cert[k] for k in ("merchant", "name", "district")} == {
        "merchant": "m-bunsik",
        "name": "계산동 분식",
        "district": "gyeyang",
    }
    assert cert["issuer"] == {"id": "gyeyang", "name": "계양e음"}
    assert cert["issued_at"][:10] == today.isoformat()
    second = shop.post("/api/v1/me/benefit-certificates").json()["id"]
    assert second != cert["id"]
    assert set(ids(shop.get("/api/v1/me/benefit-certificates"))) == {cert["id"], second}
    with engine.connect() as conn:
        recorded = conn.execute(
            select(func.count())
            .select_from(benefit_certificates)
            .where(benefit_certificates.c.merchant_id == "m-bunsik")
        ).scalar_one()
    assert recorded == 2

    assert shop.get(f"/api/v1/me/benefit-certificates/{cert['id']}").json()["id"] == cert["id"]
    someone_else = api.as_("m-plus1").get(f"/api/v1/me/benefit-certificates/{cert['id']}")
    problem(someone_else, 404, "not_found")
    for admin in ("gyeyang-admin", "incheon-admin", "operator"):
        found = api.as_(admin).get(f"/api/v1/benefit-certificates/{cert['id']}").json()
        assert (found["name"], found["district"], found["benefit_plus_now"]) == (
            "계산동 분식",
            "gyeyang",
            True,
        )
    outside = api.as_("bupyeong-admin").get(f"/api/v1/benefit-certificates/{cert['id']}")
    problem(outside, 404, "not_found")
    problem(api.as_("gyeyang-admin").get("/api/v1/benefit-certificates/BP-nope"), 404, "not_found")
    problem(api.as_("mart").post("/api/v1/me/benefit-certificates"), 403, "not_benefit_plus")


# --- the QR kit -----------------------------------------------------------------------------


def test_a_qr_kit_is_requested_shipped_and_delivered_one_at_a_time(engine: Engine) -> None:
    api = city_api(engine)
    shop, admin = api.as_("bunsik"), api.as_("gyeyang-admin")
    problem(shop.post("/api/v1/me/qr-kit-requests", json={"address": "  "}), 422, "invalid_request")
    made = shop.post("/api/v1/me/qr-kit-requests", json={"address": " 계양구 계산동 1 "})
    assert made.status_code == 201, made.text
    kit = made.json()
    assert (kit["address"], kit["status"]) == ("계양구 계산동 1", "requested")
    problem(shop.post("/api/v1/me/qr-kit-requests", json={"address": "또"}), 409, "invalid_state")

    def move(status: str, who: str = "gyeyang-admin") -> Any:
        return api.as_(who).patch(f"/api/v1/qr-kit-requests/{kit['id']}", json={"status": status})

    problem(move("delivered"), 409, "invalid_state")  # not shipped yet
    problem(move("shipped", "bupyeong-admin"), 403, "forbidden")
    assert move("shipped").json()["status"] == "shipped"
    problem(shop.post("/api/v1/me/qr-kit-requests", json={"address": "또"}), 409, "invalid_state")
    assert [k["status"] for k in shop.get("/api/v1/me/qr-kit-requests").json()["items"]] == [
        "shipped"
    ]
    assert ids(admin.get("/api/v1/qr-kit-requests", params={"status": "open"})) == [kit["id"]]
    assert move("delivered", "incheon-admin").json()["status"] == "delivered"
    problem(move("cancelled"), 409, "invalid_state")  # delivered is final
    assert ids(admin.get("/api/v1/qr-kit-requests", params={"status": "open"})) == []
    assert ids(admin.get("/api/v1/qr-kit-requests", params={"status": "delivered"})) == [kit["id"]]

    again = shop.post("/api/v1/me/qr-kit-requests", json={"address": "계양구 작전동 2"})
    assert again.status_code == 201
    assert (
        api.as_("gyeyang-admin")
        .patch(f"/api/v1/qr-kit-requests/{again.json()['id']}", json={"status": "cancelled"})
        .json()["status"]
        == "cancelled"
    )
    assert [k["status"] for k in shop.get("/api/v1/me/qr-kit-requests").json()["items"]] == [
        "cancelled",
        "delivered",
    ]
    missing = admin.patch("/api/v1/qr-kit-requests/qk-nope", json={"status": "shipped"})
    problem(missing, 404, "not_found")
    audit = api.as_("operator").get("/api/v1/audit", params={"limit": 100}).json()["items"]
    moves = [a["detail"]["to"] for a in audit if a["action"] == "qr_kit.status"]
    assert moves == ["cancelled", "delivered", "shipped"]


# --- districts ---------------------------------------------------------------------------------


def test_the_bupyeong_admin_sees_and_touches_nothing_of_gyeyangs(engine: Engine) -> None:
    api = city_api(engine)
    gyeyang_slot = publish(api)
    bupyeong_slot = publish(api, admin="bupyeong-admin", place="부평구청")
    metro_slot = publish(api, admin="incheon-admin", issuer="incheon", place="인천시청")
    booked = api.as_("bunsik").post(f"/api/v1/consult-slots/{gyeyang_slot['id']}/booking")
    assert booked.status_code == 201
    kit = api.as_("bunsik").post("/api/v1/me/qr-kit-requests", json={"address": "계산동"}).json()
    bupyeong = api.as_("bupyeong-admin")

    assert ids(bupyeong.get("/api/v1/consult-slots")) == [bupyeong_slot["id"]]
    problem(bupyeong.delete(f"/api/v1/consult-slots/{gyeyang_slot['id']}"), 403, "forbidden")
    cancelled = bupyeong.delete(f"/api/v1/consult-slots/{gyeyang_slot['id']}/booking")
    problem(cancelled, 403, "forbidden")
    problem(bupyeong.delete(f"/api/v1/consult-slots/{metro_slot['id']}"), 403, "forbidden")
    assert ids(bupyeong.get("/api/v1/qr-kit-requests")) == []
    shipped = bupyeong.patch(f"/api/v1/qr-kit-requests/{kit['id']}", json={"status": "shipped"})
    problem(shipped, 403, "forbidden")
    gyeyang_sees = set(ids(api.as_("gyeyang-admin").get("/api/v1/consult-slots")))
    assert gyeyang_sees == {gyeyang_slot["id"]}
    incheon_sees = set(ids(api.as_("incheon-admin").get("/api/v1/consult-slots")))
    assert incheon_sees == {gyeyang_slot["id"], bupyeong_slot["id"], metro_slot["id"]}

    # a Bupyeong shop books its own district's and the city's slots, not Gyeyang's
    shop = api.as_("m-bplus")
    assert set(ids(shop.get("/api/v1/consult-slots"))) == {bupyeong_slot["id"], metro_slot["id"]}
    problem(shop.post(f"/api/v1/consult-slots/{gyeyang_slot['id']}/booking"), 404, "not_found")
    problem(shop.delete(f"/api/v1/consult-slots/{gyeyang_slot['id']}/booking"), 404, "not_found")
    assert shop.post(f"/api/v1/consult-slots/{metro_slot['id']}/booking").status_code == 201
    booked_by = {
        s["id"]: (s["booking"] or {}).get("merchant")
        for s in api.as_("incheon-admin").get("/api/v1/consult-slots").json()["items"]
    }
    assert booked_by == {
        gyeyang_slot["id"]: "m-bunsik",
        bupyeong_slot["id"]: None,
        metro_slot["id"]: "m-bplus",
    }
