"""The pages of the phone-order directory and the Benefit Plus services, on SQLite and
PostgreSQL: a citizen browses shops taking phone orders and sees its card's cashback at
each; a shop lists itself and takes itself off; a Benefit Plus shop books a consultation
the Gyeyang admin published, prints its certificate and follows its QR kit to the door;
the door closes the moment it leaves Benefit Plus; the Bupyeong admin's page shows and
moves nothing of Gyeyang's."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from eum.benefits.store import consult_slots
from eum.clock import kst_day, now
from eum.web import i18n, routes_benefits
from tests.api_support import Api
from tests.conftest import GYEYANG_CITY
from tests.test_benefits import city_api, publish
from tests.web_support import Web, web_as

TEMPLATES = Path(routes_benefits.__file__).parent / "templates"
OURS = (
    "public/phone_orders.html",
    "merchant/phone_order.html",
    "merchant/services.html",
    "merchant/certificate.html",
    "admin/services.html",
)
ENTRY = {
    "phone": "032-555-1234",
    "hours": "매일 11:00~21:00",
    "menu": "떡볶이 4,500원\n김밥 3,500원",
}


def listed(html: str) -> list[str]:
    return re.findall(r'<li class="shop" data-merchant="([^"]+)"', html)


def list_shops(api: Api, *logins: str) -> None:
    for login in logins:
        assert api.as_(login).put("/api/v1/me/phone-listing", json=ENTRY).status_code == 200


def form_key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found
    return found.group(1)


# --- the directory ------------------------------------------------------------------------------


def test_anyone_browses_phone_order_shops_by_district_and_category(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = city_api(engine)
    list_shops(api, "bunsik", "mart", "cafe", "m-plus1", "m-plus2")
    visitor = web_as(engine, None, api)
    page = visitor.get("/phone-orders")
    assert page.status_code == 200
    assert listed(page.text) == ["m-bunsik", "m-cafe", "m-mart", "m-plus1", "m-plus2"]
    assert 'href="tel:0325551234" data-phone="032-555-1234"' in page.text
    assert "<li>떡볶이 4,500원</li><li>김밥 3,500원</li>" in page.text
    assert (
        "data-rate-bps" not in page.text and "로그인하면 내 카드의 캐시백이 보입니다." in page.text
    )

    assert listed(visitor.get("/phone-orders?district=bupyeong").text) == ["m-cafe"]
    snacks = visitor.get("/phone-orders?district=gyeyang&category=snack").text
    assert listed(snacks) == ["m-bunsik"]
    assert listed(visitor.get("/phone-orders?q=식당").text) == ["m-plus1", "m-plus2"]

    monkeypatch.setattr(routes_benefits, "DIRECTORY_PAGE", 2)
    first = visitor.get("/phone-orders?district=gyeyang").text
    assert listed(first) == ["m-bunsik", "m-mart"]
    more = re.search(r'href="(/phone-orders\?[^"]+)"', first)
    assert more and "district=gyeyang" in more.group(1)
    second = visitor.get(more.group(1).replace("&amp;", "&")).text
    assert listed(second) == ["m-plus1", "m-plus2"]
    assert 'href="/phone-orders?' not in second.split('id="phone-shops"', 1)[1]


def expected_rate_bps(card: str, district: str) -> int:
    """The cashback rules of GYEYANG_CITY that pay a personal card of ``card`` at a shop in
    ``district`` (cards: the owner and below; districts: the owner's)."""
    parent = {i["id"]: i.get("parent") for i in GYEYANG_CITY["issuers"]}
    covers = {i["id"]: set(i["districts"]) for i in GYEYANG_CITY["issuers"]}
    total = 0
    for rule in GYEYANG_CITY["rules"]:
        if rule["kind"] != "cashback":
            continue
        owner = rule["owner"]
        card_ok = card == owner or parent.get(card) == owner
        if card_ok and district in covers[owner]:
            total += rule["rate_bps"]
    return total


def test_a_citizen_sees_its_cards_cashback_and_a_step_down_at_each_shop(engine: Engine) -> None:
    api = city_api(engine)
    list_shops(api, "bunsik", "cafe")
    step_day = kst_day(now()) + timedelta(days=10)
    stepped = api.as_("incheon-admin").patch(
        "/api/v1/rules/incheon-base",
        json={"steps": [{"from": step_day.isoformat(), "rate_bps": 300}]},
    )
    assert stepped.status_code == 200, stepped.text

    def rates(login: str) -> dict[str, int]:
        html = web_as(engine, login, api).get("/phone-orders").text
        shops = html.split('<li class="shop" data-merchant="')[1:]
        found = {s.split('"', 1)[0]: re.search(r'data-rate-bps="(\d+)"', s) for s in shops}
        return {shop: int(m.group(1)) for shop, m in found.items() if m}

    assert rates("kim") == {
        "m-bunsik": expected_rate_bps("gyeyang", "gyeyang"),  # 4% + Gyeyang's 1%
        "m-cafe": expected_rate_bps("gyeyang", "bupyeong"),
    }
    assert rates("kim") == {"m-bunsik": 500, "m-cafe": 400}
    assert rates("lee") == {"m-bunsik": expected_rate_bps("incheon", "gyeyang"), "m-cafe": 400}
    html = web_as(engine, "kim", api).get("/phone-orders?district=gyeyang").text
    change = re.search(r'class="small rate-change" data-day="([^"]+)">(.*?)</div>', html, re.S)
    assert change and change.group(1) == step_day.isoformat()
    assert f"{step_day.month}월 {step_day.day}일부터 캐시백 5% → 4%" in change.group(2)


def test_a_shop_lists_itself_for_phone_orders_and_takes_itself_off(engine: Engine) -> None:
    api = city_api(engine)
    shop = web_as(engine, "bunsik", api)
    page = shop.get("/shop/phone-order").text
    assert 'id="listing-state"' not in page and 'aria-current="page">전화 주문' in page

    bad = shop.post("/shop/phone-order", {"action": "save", **ENTRY, "phone": "12-34"})
    assert bad.status_code == 422
    assert 'data-code="invalid_request"' in bad.text
    assert re.search(r'id="f-phone" value="12-34"\s+required\s+aria-invalid="true"', bad.text)
    assert api.as_("bunsik").get("/api/v1/me/phone-listing").status_code == 404

    saved = shop.post("/shop/phone-order", {"action": "save", **ENTRY, "phone": "0325551234"})
    assert (saved.status_code, saved.headers["location"]) == (303, "/shop/phone-order")
    page = shop.get("/shop/phone-order").text
    assert 'data-active="true"' in page and 'value="032-555-1234"' in page
    assert listed(web_as(engine, None, api).get("/phone-orders").text) == ["m-bunsik"]

    left = shop.post("/shop/phone-order", {"action": "leave"})
    assert left.status_code == 303
    assert 'data-active="false"' in shop.get("/shop/phone-order").text
    assert listed(web_as(engine, None, api).get("/phone-orders").text) == []
    assert shop.post("/shop/phone-order", {"action": "stay"}).status_code == 422


# --- Benefit Plus services ----------------------------------------------------------------------


def publish_by_form(admin: Web, **fields: str) -> Any:
    page = admin.get("/admin/services").text
    form = {
        "key": form_key(page),
        "issuer": "gyeyang",
        "kind": "tax",
        "day": (kst_day(now()) + timedelta(days=2)).isoformat(),
        "time": "14:00",
        "minutes": "60",
        "place": "계양구청 3층 상담실",
        **fields,
    }
    return admin.post("/admin/services/slots", form), form


def slots_on(html: str) -> list[str]:
    return re.findall(r'data-slot="([^"]+)"', html)


def test_a_benefit_plus_shop_books_prints_and_follows_its_qr_kit(engine: Engine) -> None:
    api = city_api(engine)
    admin, shop = web_as(engine, "gyeyang-admin", api), web_as(engine, "bunsik", api)

    sent, form = publish_by_form(admin, kind="legal")
    assert (sent.status_code, sent.headers["location"]) == (303, "/admin/services#slots")
    assert admin.post("/admin/services/slots", form).status_code == 303  # a resent form
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(consult_slots)).scalar_one() == 1
    [slot] = slots_on(admin.get("/admin/services").text)
    refused, _ = publish_by_form(admin, time="2시")
    assert refused.status_code == 422 and 'id="err-time"' in refused.text

    page = shop.get("/shop/services").text
    assert slots_on(page) == [slot] and "법률 상담" in page
    booked = shop.post(f"/shop/services/slots/{slot}/book", {"note": "상가 임대차"})
    assert (booked.status_code, booked.headers["location"]) == (303, "/shop/services#bookings")
    page = shop.get("/shop/services").text
    assert slots_on(page) == [] and f'data-booking="{slot}" data-upcoming="true"' in page
    row = admin.get("/admin/services").text.split(f'data-slot="{slot}"', 1)[1].split("</tr>")[0]
    assert "계산동 분식" in row and "상가 임대차" in row and "/cancel" in row
    taken = web_as(engine, "m-plus1", api).post(f"/shop/services/slots/{slot}/book", {"note": ""})
    assert taken.status_code == 409 and 'data-code="slot_taken"' in taken.text
    assert shop.post(f"/shop/services/slots/{slot}/cancel").status_code == 303
    row = admin.get("/admin/services").text.split(f'data-slot="{slot}"', 1)[1].split("</tr>")[0]
    assert "빈 시간" in row and "/delete" in row

    issued = shop.post("/shop/services/certificates")
    assert issued.status_code == 303
    number = issued.headers["location"].rsplit("/", 1)[1]
    cert = shop.get(issued.headers["location"])
    assert cert.status_code == 200 and cert.headers["cache-control"] == "no-store"
    assert re.search(rf'id="cert-number">{number}<', cert.text)
    assert 'id="cert-name">계산동 분식<' in cert.text
    assert 'id="cert-district">인천광역시 계양구<' in cert.text
    assert f'id="cert-issued">{kst_day(now()).isoformat()}<' in cert.text
    assert "보증료의 100분의 20을 감면받는 대상임을 확인합니다" in cert.text
    assert "계양e음 지역사랑상품권 혜택플러스 가맹점" in cert.text
    download = shop.get(f"/shop/services/certificates/{number}?download=1")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="certificate-{number}.html"'
    )
    assert f'data-certificate="{number}"' in shop.get("/shop/services").text
    other = web_as(engine, "m-plus1", api).get(f"/shop/services/certificates/{number}")
    assert other.status_code == 404

    asked = shop.post("/shop/services/qr-kit", {"address": "인천 계양구 계산동 1"})
    assert asked.status_code == 303
    page = shop.get("/shop/services").text
    assert 'data-status="requested"' in page and 'action="/shop/services/qr-kit"' not in page
    [kit] = re.findall(r'data-kit="([^"]+)"', admin.get("/admin/services").text)
    for status in ("shipped", "delivered"):
        moved = admin.post(f"/admin/services/qr-kits/{kit}", {"status": status})
        assert moved.status_code == 303
        assert f'data-status="{status}"' in shop.get("/shop/services").text
    assert 'action="/shop/services/qr-kit"' in shop.get("/shop/services").text  # ask again
    wrong = admin.post(f"/admin/services/qr-kits/{kit}", {"status": "shipped"})
    assert wrong.status_code == 409 and 'data-code="invalid_state"' in wrong.text


def test_a_shop_that_left_benefit_plus_finds_the_services_closed(engine: Engine) -> None:
    api = city_api(engine)
    slot = publish(api)["id"]
    shop = web_as(engine, "bunsik", api)
    assert shop.post(f"/shop/services/slots/{slot}/book", {"note": ""}).status_code == 303
    number = shop.post("/shop/services/certificates").headers["location"].rsplit("/", 1)[1]

    assert shop.post("/shop/benefit-plus", {"action": "leave"}).status_code == 303
    closed = shop.get("/shop/services")
    assert closed.status_code == 403 and 'id="locked"' in closed.text
    assert 'href="/shop/benefit-plus"' in closed.text and slot not in closed.text
    for path, form in (
        (f"/shop/services/slots/{slot}/book", {"note": ""}),
        (f"/shop/services/slots/{slot}/cancel", {}),
        ("/shop/services/certificates", {}),
        ("/shop/services/qr-kit", {"address": "계산동"}),
    ):
        refused = shop.post(path, form)
        assert refused.status_code == 403, path
    assert shop.get(f"/shop/services/certificates/{number}").status_code == 403
    admin = web_as(engine, "gyeyang-admin", api).get("/admin/services").text
    row = admin.split(f'data-slot="{slot}"', 1)[1].split("</tr>")[0]
    assert "혜택플러스 해지됨" in row
    looked = web_as(engine, "gyeyang-admin", api).get(f"/admin/services?certificate={number}")
    assert 'data-benefit-plus="false"' in looked.text


def test_the_bupyeong_admin_page_shows_and_moves_nothing_of_gyeyangs(engine: Engine) -> None:
    api = city_api(engine)
    slot = publish(api)["id"]
    free = publish(api, kind="labour")["id"]
    shop = api.as_("bunsik")
    assert shop.post(f"/api/v1/consult-slots/{slot}/booking").status_code == 201
    kit = shop.post("/api/v1/me/qr-kit-requests", json={"address": "계산동 1"}).json()["id"]
    number = shop.post("/api/v1/me/benefit-certificates").json()["id"]
    bupyeong = web_as(engine, "bupyeong-admin", api)

    page = bupyeong.get("/admin/services").text
    assert slots_on(page) == [] and "data-kit=" not in page
    looked = bupyeong.get(f"/admin/services?certificate={number}").text
    assert 'id="cert-missing"' in looked and "계산동 분식" not in looked
    for path, form in (
        (f"/admin/services/slots/{free}/delete", {}),
        (f"/admin/services/slots/{slot}/cancel", {}),
        (f"/admin/services/qr-kits/{kit}", {"status": "shipped"}),
    ):
        refused = bupyeong.post(path, form)
        assert refused.status_code == 403, path
    assert bupyeong.post("/admin/services/slots/cs-nope/delete").status_code == 404

    gyeyang = web_as(engine, "gyeyang-admin", api).get("/admin/services").text
    assert sorted(slots_on(gyeyang)) == sorted([slot, free])
    assert re.search(rf'data-kit="{kit}">.*?data-status="requested"', gyeyang, re.S)
    found = web_as(engine, "incheon-admin", api).get(f"/admin/services?certificate={number}")
    assert f'data-certificate="{number}" data-benefit-plus="true"' in found.text


# --- language ------------------------------------------------------------------------------------


def test_every_korean_text_of_these_pages_has_english(sqlite_engine: Engine) -> None:
    texts: set[str] = set()
    for name in OURS:
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        texts |= set(re.findall(r'_\(\s*"([^"]+)"', source))
        texts |= set(re.findall(r"_\(\s*'([^']+)'", source))
    for words in (
        routes_benefits.KIND_NAMES,
        routes_benefits.KIT_STATUS_NAMES,
        routes_benefits.KIT_ACTIONS,
        routes_benefits.KIT_FILTERS,
    ):
        texts |= set(words.values())
    missing = sorted(t for t in texts if re.search("[가-힣]", t) and i18n.english(t) is None)
    assert missing == []

    api = city_api(sqlite_engine)
    shop = web_as(sqlite_engine, "bunsik", api)
    shop.get("/lang/en?back=/shop/services")
    page = shop.get("/shop/services").text
    assert "Book a free consultation" in page and "Free QR kit" in page
    visitor = web_as(sqlite_engine, None, api)
    visitor.get("/lang/en?back=/phone-orders")
    assert "Shops taking phone orders" in visitor.get("/phone-orders").text
