"""The merchant's console: sales with exact fees and fee support, the printable QR code,
Benefit Plus, coupons with their claims, and refunds from the payments page (once per
form, own payments only)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from eum.clock import kst_day, now
from eum.config import settings
from eum.payments import qr
from eum.web import i18n
from tests.api_support import Api
from tests.web_support import Web, web_as

TEMPLATES = Path(__file__).parents[1] / "src" / "eum" / "web" / "templates" / "merchant"


def figure(html: str, name: str) -> str:
    """The text of the element marked ``data-figure="name"`` on a page."""
    found = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1)


def pay(api: Api, merchant: str, amount: int, **extra: Any) -> dict[str, Any]:
    """Kim charges enough and pays ``amount`` at ``merchant`` through the API."""
    assert api.money("kim", "/api/v1/charges", {"amount": 50_000}).status_code == 201
    paid = api.money("kim", "/api/v1/payments", {"merchant": merchant, "amount": amount, **extra})
    assert paid.status_code == 201, paid.text
    body: dict[str, Any] = paid.json()
    return body


def payment(api: Api, login: str, payment_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.as_(login).get(f"/api/v1/payments/{payment_id}").json()
    return body


def refund_form(page: str, payment_id: str) -> dict[str, str]:
    """The fields of the refund form drawn for a payment (its key and prefilled amount)."""
    block = page[page.index(f'id="p-{payment_id}"') :]
    block = block[: block.index("</form>")]
    fields = dict(re.findall(r'name="(key|after|amount)"[^>]*?value="([^"]*)"', block))
    assert "key" in fields and "amount" in fields, block
    return fields


# --- sales ------------------------------------------------------------------------------


def test_the_sales_page_shows_kim_s_payment_with_its_fee_and_fee_support(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    paid = pay(api, "m-bunsik", 10_000)
    # SPEC 3.6/3.8 on GYEYANG_CITY: Benefit Plus 3% -> 300 off, charged 9,700;
    # card fee 80 bps -> floor(9,700 x 0.008) = 77; gyeyang-fee 50 bps -> 48.
    assert (paid["discount"], paid["charged"], paid["fee"]) == (300, 9_700, 77)
    web = web_as(sqlite_engine, "bunsik", api)
    page = web.get("/shop")
    assert page.status_code == 200
    html = page.text
    assert "계산동 분식" in html and "계양구" in html
    assert 'data-status="approved"' in html and 'data-tier="benefit_plus"' in html
    for period in ("today", "month"):
        assert figure(html, f"{period}.charged") == "9,700원"
        assert figure(html, f"{period}.refunded") == "0원"
        assert figure(html, f"{period}.fee") == "77원"
        assert figure(html, f"{period}.fee_support") == "48원"
        assert figure(html, f"{period}.net_receivable") == "9,671원"
    assert "정가 합계 10,000원" in html
    assert figure(html, "receivable") == "9,671원"
    assert figure(html, "settled") == "0원"
    # the last 14 days' chart has today's bar at the net sales
    assert '<svg class="chart"' in html
    today = kst_day(now())
    assert f"{today.month}/{today.day}: 9,700원" in html


def test_a_pending_shop_sees_it_waits_for_approval(sqlite_engine: Engine) -> None:
    web = Web(Api(sqlite_engine))
    web.get("/signup/shop")
    web.post(
        "/signup/shop",
        {"login": "newshop", "password": "long enough 1", "name": "새 가게", "district": "gyeyang"},
    )
    page = web.get("/shop")
    assert page.status_code == 200
    assert 'data-status="pending"' in page.text and "승인을 기다리고" in page.text
    assert figure(page.text, "today.charged") == "0원"
    assert "최근 14일 동안 결제가 없습니다." in page.text
    qr_page = web.get("/shop/qr")
    assert qr_page.status_code == 422
    assert 'data-code="merchant_inactive"' in qr_page.text and "<svg" not in qr_page.text


def test_a_merchant_cannot_open_the_wallet_or_admin_and_others_cannot_open_the_shop(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    shop = web_as(sqlite_engine, "bunsik", api)
    assert shop.get("/wallet").status_code == 403
    assert shop.get("/admin").status_code == 403
    kim = web_as(sqlite_engine, "kim", api)
    for path in ("/shop", "/shop/qr", "/shop/benefit-plus", "/shop/coupons", "/shop/payments"):
        assert kim.get(path).status_code == 403, path
    anonymous = Web(api).get("/shop/payments")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=/shop/payments")


# --- QR code ----------------------------------------------------------------------------


def test_the_qr_page_shows_a_signed_code_and_pay_link_for_a_fixed_amount(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    web = web_as(sqlite_engine, "bunsik", api)
    page = web.get("/shop/qr?amount=12,000&ttl_seconds=3600")
    assert page.status_code == 200
    html = page.text
    assert '<svg role="img" viewBox=' in html and 'class="qr"' in html
    assert "계산동 분식" in html and "12,000원" in html
    link = re.search(r'id="pay-link" href="(http://testserver/pay\?qr=([^"]+))"', html)
    assert link, html
    claim = qr.verify(settings().signing_key(), link.group(2), now())
    assert (claim.merchant_id, claim.amount_krw) == ("m-bunsik", 12_000)
    assert timedelta(minutes=59) < claim.expires_at - now() <= timedelta(hours=1)
    # the code a member pays with is the one printed: paying it gives the shop the money
    api.money("kim", "/api/v1/charges", {"amount": 20_000})
    paid = api.money("kim", "/api/v1/payments", {"qr": link.group(2)})
    assert paid.status_code == 201 and paid.json()["charged"] == 11_640  # 12,000 - 3%
    # print CSS hides the menus
    assert "@media print" in html and 'class="shop-tabs no-print"' in html


def test_the_qr_page_without_an_amount_and_its_svg_file(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    web = web_as(sqlite_engine, "mart", api)
    page = web.get("/shop/qr")
    link = re.search(r'id="pay-link" href="http://testserver/pay\?qr=([^"]+)"', page.text)
    assert link
    claim = qr.verify(settings().signing_key(), link.group(1), now())
    assert (claim.merchant_id, claim.amount_krw) == ("m-mart", None)
    assert "손님이 입력" in page.text
    image = web.get("/shop/qr.svg?amount=5000")
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in image.content
    bad = web.get("/shop/qr?amount=lots")
    assert bad.status_code == 422
    assert 'data-code="invalid_amount"' in bad.text and 'aria-invalid="true"' in bad.text
    too_long = web.get("/shop/qr?ttl_seconds=90000")
    assert too_long.status_code == 422 and 'data-code="invalid_request"' in too_long.text


# --- Benefit Plus -----------------------------------------------------------------------


def test_benefit_plus_at_5_percent_changes_the_tier_and_10_percent_is_refused(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    web = web_as(sqlite_engine, "mart", api)
    page = web.get("/shop/benefit-plus")
    assert 'data-tier="general"' in page.text
    joined = web.post("/shop/benefit-plus", {"action": "join", "rate": "5"})
    assert joined.status_code == 303 and joined.headers["location"] == "/shop/benefit-plus"
    page = web.get("/shop/benefit-plus")
    assert 'data-tier="benefit_plus" data-discount-bps="500"' in page.text
    assert "혜택플러스 선할인율을 5%로 정했습니다." in page.text
    assert "10,000원 결제 시 500원 할인" in page.text
    # a payment now gets the 5% pre-discount
    assert pay(api, "m-mart", 10_000)["discount"] == 500
    refused = web.post("/shop/benefit-plus", {"action": "join", "rate": "10"})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and 'data-code="invalid_request"' in refused.text
    assert "선할인율은 1%부터 7%까지 정할 수 있습니다." in refused.text
    assert 'name="rate" id="f-rate" value="10"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'data-discount-bps="500"' in refused.text
    half = web.post("/shop/benefit-plus", {"action": "join", "rate": "2.5%"})
    assert half.status_code == 303
    assert api.as_("mart").get("/api/v1/merchants/m-mart").json()["discount_bps"] == 250
    left = web.post("/shop/benefit-plus", {"action": "leave"})
    assert left.status_code == 303
    mart = api.as_("mart").get("/api/v1/merchants/m-mart").json()
    assert (mart["tier"], mart["discount_bps"]) == ("general", 0)


# --- coupons ----------------------------------------------------------------------------


def test_a_coupon_is_issued_once_and_shows_its_claims_and_uses(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    web = web_as(sqlite_engine, "bunsik", api)
    page = web.get("/shop/coupons")
    assert "발행한 쿠폰이 없습니다." in page.text
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key
    today = kst_day(now())
    form = {
        "key": key.group(1),
        "name": "개업 기념",
        "value": "1,000",
        "min_spend": "5,000",
        "quantity": "10",
        "from": today.isoformat(),
        "until": (today + timedelta(days=30)).isoformat(),
    }
    assert web.post("/shop/coupons", form).status_code == 303
    assert web.post("/shop/coupons", form).status_code == 303  # a double tap issues once
    page = web.get("/shop/coupons")
    ids = re.findall(r'data-coupon="(k-[0-9a-f]+)"', page.text)
    assert len(ids) == 1
    assert "개업 기념" in page.text and "5,000원 이상 결제 시" in page.text
    assert figure(page.text, "claimed") == "0 / 10"
    assert api.as_("kim").post(f"/api/v1/coupons/{ids[0]}/claims").status_code == 201
    page = web.get("/shop/coupons")
    assert figure(page.text, "claimed") == "1 / 10"
    assert figure(page.text, "remaining") == "9"
    assert figure(page.text, "used") == "0"
    paid = pay(api, "m-bunsik", 10_000, coupon=ids[0])
    assert paid["coupon_off"] == 1_000
    assert figure(web.get("/shop/coupons").text, "used") == "1"


def test_a_bad_coupon_form_shows_its_error_on_the_field(sqlite_engine: Engine) -> None:
    web = web_as(sqlite_engine, "bunsik")
    page = web.get("/shop/coupons")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key
    bad = web.post("/shop/coupons", {"key": key.group(1), "value": "천원"})
    assert bad.status_code == 422
    assert 'data-code="invalid_amount"' in bad.text
    assert 'name="value" id="f-value" value="천원"' in bad.text
    backwards = web.post(
        "/shop/coupons",
        {"key": "web-other", "value": "1000", "from": "2030-02-01", "until": "2030-01-01"},
    )
    assert backwards.status_code == 422 and 'data-code="invalid_request"' in backwards.text
    assert "발행한 쿠폰이 없습니다." in backwards.text


# --- payments and refunds ---------------------------------------------------------------


def test_a_partial_refund_from_the_payments_page_happens_once(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    paid = pay(api, "m-bunsik", 10_000)
    pid = str(paid["payment_id"])
    web = web_as(sqlite_engine, "bunsik", api)
    page = web.get("/shop/payments")
    assert page.status_code == 200
    fields = refund_form(page.text, pid)
    assert fields["amount"] == "9,700"  # the full remaining amount, ready for a full refund
    form = {**fields, "amount": "4,850"}
    done = web.post(f"/shop/payments/{pid}/refund", form)
    assert done.status_code == 303
    assert done.headers["location"] == f"/shop/payments#p-{pid}"
    again = web.post(f"/shop/payments/{pid}/refund", form)
    assert again.status_code == 303
    after = payment(api, "bunsik", pid)
    assert (after["refunded"], after["status"]) == (4_850, "partially_refunded")
    # SPEC 3.9: fee floor(77 x 4,850 / 9,700) = 38, fee support floor(48 / 2) = 24
    assert after["fee"] == 38 and after["fee_support"] == {"gyeyang-fee": 24}
    page = web.get("/shop/payments")
    assert "이미 처리된 환불입니다: 4,850원." in page.text
    assert f'data-payment="{pid}" data-refunded="4850"' in page.text
    assert refund_form(page.text, pid)["amount"] == "4,850"
    sales = web.get("/shop").text
    assert figure(sales, "today.refunded") == "4,850원"
    assert figure(sales, "today.fee") == "38원"
    assert figure(sales, "today.fee_support") == "24원"
    assert figure(sales, "today.net_receivable") == "4,836원"  # 9,700 - 4,850 - 38 + 24


def test_a_refund_over_the_remaining_amount_is_shown_and_changes_nothing(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    pid = str(pay(api, "m-bunsik", 10_000)["payment_id"])
    web = web_as(sqlite_engine, "bunsik", api)
    fields = refund_form(web.get("/shop/payments").text, pid)
    over = web.post(f"/shop/payments/{pid}/refund", {**fields, "amount": "9,701"})
    assert over.status_code == 422
    assert 'data-code="refund_exceeds_payment"' in over.text
    assert "환불 금액이 결제 잔액을 넘습니다." in over.text
    assert 'value="9,701"' in over.text and 'aria-invalid="true"' in over.text
    nonsense = web.post(f"/shop/payments/{pid}/refund", {**fields, "key": "web-2", "amount": "x"})
    assert nonsense.status_code == 422 and 'data-code="invalid_amount"' in nonsense.text
    assert payment(api, "bunsik", pid)["refunded"] == 0


def test_another_shop_s_payment_cannot_be_refunded(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    pid = str(pay(api, "m-bunsik", 10_000)["payment_id"])
    mart = web_as(sqlite_engine, "mart", api)
    assert f'id="p-{pid}"' not in mart.get("/shop/payments").text
    refused = mart.post(f"/shop/payments/{pid}/refund", {"key": "web-x", "amount": "1000"})
    # other shops' payments look missing, as in the API (it never says they exist)
    assert refused.status_code == 404 and 'data-code="unknown_payment"' in refused.text
    kim = web_as(sqlite_engine, "kim", api)
    forbidden = kim.post(f"/shop/payments/{pid}/refund", {"key": "web-y", "amount": "1000"})
    assert forbidden.status_code == 403 and 'data-code="forbidden"' in forbidden.text
    assert payment(api, "bunsik", pid)["refunded"] == 0


def test_a_full_refund_from_the_page_on_each_database(engine: Engine) -> None:
    api = Api(engine)
    pid = str(pay(api, "m-mart", 8_000)["payment_id"])
    web = web_as(engine, "mart", api)
    fields = refund_form(web.get("/shop/payments").text, pid)
    assert fields["amount"] == "8,000"
    assert web.post(f"/shop/payments/{pid}/refund", fields).status_code == 303
    assert web.post(f"/shop/payments/{pid}/refund", fields).status_code == 303
    after = payment(api, "mart", pid)
    assert (after["refunded"], after["status"], after["fee"]) == (8_000, "refunded", 0)
    page = web.get("/shop/payments").text
    assert f'data-payment="{pid}" data-refunded="8000"' in page
    assert f'action="/shop/payments/{pid}/refund"' not in page  # nothing left to refund
    sales = web.get("/shop").text
    assert figure(sales, "today.charged") == "8,000원"
    assert figure(sales, "today.refunded") == "8,000원"
    assert figure(sales, "today.net_receivable") == "0원"


def test_payments_are_paged_newest_first(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    api.money("kim", "/api/v1/charges", {"amount": 100_000})
    ids = [
        str(
            api.money(
                "kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 1_000 + i}
            ).json()["payment_id"]
        )
        for i in range(21)
    ]
    web = web_as(sqlite_engine, "mart", api)
    first = web.get("/shop/payments").text
    shown = re.findall(r'data-payment="(\d+)"', first)
    assert shown == ids[::-1][:20]
    more = re.search(r'href="/shop/payments\?after=(\d+)"', first)
    assert more and more.group(1) == ids[1]
    second = web.get(f"/shop/payments?after={more.group(1)}").text
    assert re.findall(r'data-payment="(\d+)"', second) == [ids[0]]


# --- language ---------------------------------------------------------------------------


def test_every_korean_text_of_the_console_has_english(sqlite_engine: Engine) -> None:
    texts: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text()
        texts |= set(re.findall(r'_\("([^"]+)"', source))
        texts |= set(re.findall(r'\("[a-z_]+", "[^"]+", "([^"]+)"\)', source))  # menu
    missing = sorted(t for t in texts if re.search("[가-힣]", t) and i18n.english(t) is None)
    assert missing == []
    web = web_as(sqlite_engine, "bunsik")
    web.get("/lang/en?back=/shop")
    page = web.get("/shop").text
    assert "Today" in page and "Fee support" in page and "Payments &amp; refunds" in page
