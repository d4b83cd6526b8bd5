"""The citizen's pages: a Gyeyang resident charges, sees the discount and the cashback a
payment will earn before paying and the same on the receipt, pays by a shop's QR code,
sees refunds in the history, claims and uses coupons, donates and pools cashback in a
group. Expected amounts are computed here from GYEYANG_CITY's rules (tests/conftest.py):
Incheon's base 4% (cap 300,000원 a month), Gyeyang's launch 1% (budget 1,000원), and
m-bunsik's Benefit Plus 3% discount."""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlalchemy import Engine

from tests.api_support import Api
from tests.conftest import GYEYANG_CITY
from tests.web_support import Web, web_as

BASE_BPS = 400  # incheon-base
LAUNCH_BPS = 100  # gyeyang-launch
LAUNCH_BUDGET = 1_000
BUNSIK_DISCOUNT_BPS = 300

KEY = re.compile(r'name="key" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def won(n: int) -> str:
    return f"{n:,}원"


def shown(html: str, element_id: str) -> str:
    """The text of the element with this id."""
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def rule_shown(html: str, rule: str) -> str:
    found = re.search(rf'<dd data-rule="{rule}">([^<]*)<', html)
    assert found, f"no cashback line for {rule}"
    return found.group(1)


def key_of(html: str) -> str:
    found = KEY.search(html)
    assert found, "the form has no idempotency key"
    return found.group(1)


def expected(amount: int, discount_bps: int = 0, coupon: int = 0) -> dict[str, int]:
    """SPEC 3.6/3.7 for kim's first payment of the month (no cashback held yet)."""
    discount = amount * discount_bps // 10_000
    coupon_off = min(coupon, amount - discount)
    charged = amount - discount - coupon_off
    base = charged * BASE_BPS // 10_000
    launch = min(charged * LAUNCH_BPS // 10_000, LAUNCH_BUDGET)
    return {
        "discount": discount,
        "coupon_off": coupon_off,
        "charged": charged,
        "base": base,
        "launch": launch,
        "cashback": base + launch,
    }


def follow(web: Web, response: Any) -> Any:
    assert response.status_code == 303, response.text
    return web.get(response.headers["location"])


def charge(web: Web, amount: str) -> Any:
    page = web.get("/wallet/charge")
    return web.post("/wallet/charge", {"key": key_of(page.text), "amount": amount})


def confirm(web: Web, merchant: str, amount: str, **extra: str) -> Any:
    web.get(f"/pay/{merchant}")
    return web.post(f"/pay/{merchant}/confirm", {"amount": amount, **extra})


def pay_form(confirmation: str) -> tuple[str, dict[str, str]]:
    """The confirmation page's payment form: its action and hidden fields."""
    found = re.search(
        r'<form class="stack" method="post" action="([^"]+)">(.*?)</form>', confirmation, re.S
    )
    assert found, "no payment form on the confirmation page"
    fields = {k: v for k, v in HIDDEN.findall(found.group(2)) if k != "csrf"}
    return found.group(1), fields


def pay(web: Web, merchant: str, amount: str, **extra: str) -> tuple[str, str]:
    """Confirm and pay; returns the receipt page and the payment's id."""
    page = confirm(web, merchant, amount, **extra)
    assert page.status_code == 200, page.text
    action, fields = pay_form(page.text)
    done = web.post(action, fields)
    found = re.fullmatch(r"/payments/(\d+)", done.headers.get("location", ""))
    assert found, done.text
    return follow(web, done).text, found.group(1)


def history_kinds(html: str) -> list[str]:
    return re.findall(r'class="entry" data-kind="(\w+)"', html)


# --- wallet and charging ----------------------------------------------------------------


def test_kim_charges_50000_won_and_the_wallet_shows_it_as_charged_money(
    sqlite_engine: Engine,
) -> None:
    kim = web_as(sqlite_engine, "kim")
    page = kim.get("/wallet/charge")
    form = {"key": key_of(page.text), "amount": "50,000"}
    done = kim.post("/wallet/charge", form)
    assert done.headers["location"] == "/wallet"
    wallet = kim.get("/wallet").text
    assert "50,000원을 충전했습니다." in wallet
    assert shown(wallet, "charged") == "50,000원"
    assert shown(wallet, "cashback") == "0원"
    assert shown(wallet, "total") == "50,000원"
    assert re.search(r'data-rule="incheon-base">.*?class="num cap-left">\s*300,000원', wallet, re.S)
    again = kim.post("/wallet/charge", form)  # the same form sent twice charges once
    assert again.status_code == 303
    assert shown(kim.get("/wallet").text, "total") == "50,000원"
    kim.get("/lang/en?back=/wallet")
    assert "Charged money" in kim.get("/wallet").text


def test_charge_and_withdrawal_errors_show_on_their_forms(sqlite_engine: Engine) -> None:
    setup = copy.deepcopy(GYEYANG_CITY)
    setup["platform"]["limits"]["personal"] = {"monthly_charge": 1_000_000, "max_balance": 500_000}
    api = Api(sqlite_engine, setup)
    kim = web_as(sqlite_engine, "kim", api)
    bad = charge(kim, "오만원")
    assert bad.status_code == 422
    assert 'data-code="invalid_amount"' in bad.text and 'aria-invalid="true"' in bad.text
    over_month = charge(kim, "1,000,001")
    assert 'data-code="monthly_charge_limit"' in over_month.text
    assert "이번 달 충전 한도를 넘습니다." in over_month.text
    over_balance = charge(kim, "600,000")
    assert 'data-code="max_balance"' in over_balance.text
    assert over_balance.headers.get("location") is None
    assert charge(kim, "50,000").status_code == 303

    page = kim.get("/wallet/withdraw")
    refused = kim.post("/wallet/withdraw", {"key": key_of(page.text), "amount": "10,000"})
    assert refused.status_code == 422
    assert 'data-code="withdrawal_not_allowed"' in refused.text
    # 60% of 50,000원 spent: the rest may go back to the bank.
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 30_000})
    assert paid.status_code == 201
    page = kim.get("/wallet/withdraw")
    done = kim.post("/wallet/withdraw", {"key": key_of(page.text), "amount": "10,000"})
    wallet = follow(kim, done).text
    assert "10,000원을 계좌로 환불했습니다." in wallet
    assert shown(wallet, "charged") == won(50_000 - 30_000 - 10_000)


# --- paying ----------------------------------------------------------------------------


def test_the_confirmation_shows_the_discount_and_cashback_the_receipt_then_books(
    sqlite_engine: Engine,
) -> None:
    kim = web_as(sqlite_engine, "kim")
    charge(kim, "50000")
    want = expected(10_000, BUNSIK_DISCOUNT_BPS)
    page = confirm(kim, "m-bunsik", "10,000")
    assert page.status_code == 200, page.text
    html = page.text
    assert shown(html, "amount") == "10,000원"
    assert shown(html, "discount") == "-" + won(want["discount"])
    assert shown(html, "charged") == won(want["charged"])
    assert shown(html, "from-cashback") == "0원"
    assert rule_shown(html, "incheon-base") == won(want["base"])
    assert rule_shown(html, "gyeyang-launch") == won(want["launch"])
    assert shown(html, "cashback-total") == won(want["cashback"])
    # Nothing was booked by looking.
    assert history_kinds(kim.get("/history").text) == ["charge"]

    action, fields = pay_form(page.text)
    assert action == "/pay/m-bunsik" and fields["amount"] == "10000" and fields["key"]
    done = kim.post(action, fields)
    assert re.fullmatch(r"/payments/\d+", done.headers["location"])
    receipt = follow(kim, done).text
    assert "결제했습니다." in receipt
    for element in ("amount", "discount", "charged", "from-cashback", "cashback-total"):
        assert shown(receipt, element) == shown(page.text, element)
    assert rule_shown(receipt, "incheon-base") == rule_shown(page.text, "incheon-base")
    assert rule_shown(receipt, "gyeyang-launch") == rule_shown(page.text, "gyeyang-launch")
    wallet = kim.get("/wallet").text
    assert shown(wallet, "cashback") == won(want["cashback"])
    assert shown(wallet, "total") == won(50_000 - want["charged"] + want["cashback"])
    assert shown(wallet, "cashback-month") == won(want["cashback"])


def test_submitting_the_same_confirmation_twice_books_one_payment(sqlite_engine: Engine) -> None:
    kim = web_as(sqlite_engine, "kim")
    charge(kim, "50,000")
    page = confirm(kim, "m-bunsik", "10000")
    action, fields = pay_form(page.text)
    first = kim.post(action, fields)
    second = kim.post(action, fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert "이미 처리된 결제입니다." in kim.get(second.headers["location"]).text
    want = expected(10_000, BUNSIK_DISCOUNT_BPS)
    assert shown(kim.get("/wallet").text, "charged") == won(50_000 - want["charged"])
    assert history_kinds(kim.get("/history").text) == ["payment", "charge"]


def test_paying_more_than_the_wallet_holds_shows_insufficient_funds(sqlite_engine: Engine) -> None:
    kim = web_as(sqlite_engine, "kim")
    charge(kim, "5,000")
    page = confirm(kim, "m-mart", "10,000")
    assert page.status_code == 422
    assert 'data-code="insufficient_funds"' in page.text
    assert "잔액이 부족합니다." in page.text
    assert 'name="amount" id="f-amount" value="10,000"' in page.text
    # The payment step refuses it too (a stale confirmation), and books nothing.
    kim.get("/pay/m-mart")
    direct = kim.post("/pay/m-mart", {"amount": "10000", "key": "web-stale-form"})
    assert direct.status_code == 422
    assert 'data-code="insufficient_funds"' in direct.text
    assert history_kinds(kim.get("/history").text) == ["charge"]


def test_paying_through_the_merchant_s_qr_link_and_an_altered_qr_is_refused(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    code = api.as_("bunsik").get("/api/v1/merchants/m-bunsik/qr", params={"amount": 8_000}).json()
    kim = web_as(sqlite_engine, "kim", api)
    charge(kim, "20,000")
    page = kim.get(code["pay_url"])
    assert page.status_code == 200
    assert shown(page.text, "shop-name") == "계산동 분식"
    assert shown(page.text, "fixed-amount") == "8,000원"
    assert 'value="8,000" readonly' in page.text
    want = expected(8_000, BUNSIK_DISCOUNT_BPS)
    confirmation = kim.post("/pay/m-bunsik/confirm", {"qr": code["payload"], "amount": "8000"})
    assert shown(confirmation.text, "charged") == won(want["charged"])
    assert shown(confirmation.text, "cashback-total") == won(want["cashback"])
    action, fields = pay_form(confirmation.text)
    assert fields["qr"] == code["payload"]
    receipt = follow(kim, kim.post(action, fields)).text
    assert shown(receipt, "charged") == won(want["charged"])
    assert "QR" in receipt

    # Another amount than the QR's is refused, and so is the QR at another shop.
    wrong = kim.post("/pay/m-bunsik/confirm", {"qr": code["payload"], "amount": "800"})
    assert 'data-code="qr_amount_mismatch"' in wrong.text
    elsewhere = kim.post("/pay/m-mart/confirm", {"qr": code["payload"], "amount": "8000"})
    assert elsewhere.status_code == 422 and 'data-code="qr_invalid"' in elsewhere.text
    prefix, body, signature = code["payload"].split(".")
    altered = f"{prefix}.{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{signature}"
    refused = kim.get(f"/pay?qr={altered}")
    assert refused.status_code == 422
    assert 'data-code="qr_invalid"' in refused.text
    assert "올바르지 않은 QR 코드입니다." in refused.text
    assert history_kinds(kim.get("/history").text) == ["payment", "charge"]


def test_a_shop_code_leads_to_its_payment_page_and_an_unknown_one_is_explained(
    sqlite_engine: Engine,
) -> None:
    kim = web_as(sqlite_engine, "kim")
    assert kim.get("/pay?merchant=m-bunsik").headers["location"] == "/pay/m-bunsik"
    missing = kim.get("/pay?merchant=m-nowhere")
    assert missing.status_code == 404
    assert 'data-code="unknown_merchant"' in missing.text
    assert 'name="merchant" id="f-merchant" value="m-nowhere"' in missing.text
    assert kim.get("/pay?qr=").status_code == 200  # an empty QR link is the plain form


# --- history -----------------------------------------------------------------------------


def test_history_shows_a_refunded_payment_and_the_receipt_its_reduced_cashback(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    kim = web_as(sqlite_engine, "kim", api)
    charge(kim, "50,000")
    _, payment_id = pay(kim, "m-bunsik", "10,000")
    want = expected(10_000, BUNSIK_DISCOUNT_BPS)
    refund = want["charged"] // 2
    refunded = api.money("bunsik", f"/api/v1/payments/{payment_id}/refunds", {"amount": refund})
    assert refunded.status_code == 201, refunded.text
    history = kim.get("/history").text
    assert history_kinds(history) == ["refund", "payment", "charge"]
    assert "부분 환불" in history
    assert f"환불된 금액 {won(refund)}" in history
    assert f"+{won(refund)}" in history
    after = kim.get(f"/payments/{payment_id}").text
    assert shown(after, "refunded") == won(refund)
    remaining = want["charged"] - refund  # SPEC 3.9: X counts as floor(X c' / c)
    assert rule_shown(after, "incheon-base") == won(want["base"] * remaining // want["charged"])
    assert rule_shown(after, "gyeyang-launch") == won(want["launch"] * remaining // want["charged"])


def test_history_pages_newest_first(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    for n in range(1, 23):
        api.platform.event("charge", key=f"c{n}", member="u-kim", amount=n * 1_000)
    kim = web_as(sqlite_engine, "kim", api)
    first = kim.get("/history").text
    amounts = re.findall(r'class="num amount">\+([\d,]+)원', first)
    assert amounts[:2] == ["22,000", "21,000"] and len(amounts) == 20
    older = re.search(r'href="(/history\?cursor=\d+)" rel="next"', first)
    assert older
    rest = kim.get(older.group(1)).text
    assert re.findall(r'class="num amount">\+([\d,]+)원', rest) == ["2,000", "1,000"]
    assert 'rel="next"' not in rest


# --- coupons, donations, groups ------------------------------------------------------------


def test_claim_a_coupon_and_use_it_once(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    issued = api.as_("bunsik").post(
        "/api/v1/merchants/m-bunsik/coupons", json={"value": 1_000, "min_spend": 5_000}
    )
    assert issued.status_code == 201, issued.text
    coupon = issued.json()["id"]
    kim = web_as(sqlite_engine, "kim", api)
    offers = kim.get("/coupons?merchant=m-bunsik").text
    assert f'action="/coupons/{coupon}/claim"' in offers
    claimed = follow(kim, kim.post(f"/coupons/{coupon}/claim", {"merchant": "m-bunsik"})).text
    assert "쿠폰을 받았습니다." in claimed
    assert re.search(rf'class="mine" data-coupon="{coupon}".*?이 가게에서 쓰기', claimed, re.S)
    twice = kim.post(f"/coupons/{coupon}/claim", {"merchant": "m-bunsik"})
    assert twice.status_code == 409 and 'data-code="coupon_already_claimed"' in twice.text

    charge(kim, "20,000")
    assert f'<option value="{coupon}"' in kim.get("/pay/m-bunsik").text
    too_small = confirm(kim, "m-bunsik", "3,000", coupon=coupon)
    assert 'data-code="coupon_min_spend"' in too_small.text
    want = expected(10_000, BUNSIK_DISCOUNT_BPS, coupon=1_000)
    page = confirm(kim, "m-bunsik", "10,000", coupon=coupon)
    assert shown(page.text, "coupon-off") == "-" + won(want["coupon_off"])
    assert shown(page.text, "charged") == won(want["charged"])
    assert shown(page.text, "cashback-total") == won(want["cashback"])
    receipt, _ = pay(kim, "m-bunsik", "10,000", coupon=coupon)
    assert shown(receipt, "coupon-off") == "-" + won(want["coupon_off"])
    assert shown(receipt, "charged") == won(want["charged"])
    assert "사용함" in kim.get("/coupons").text
    assert f'<option value="{coupon}"' not in kim.get("/pay/m-bunsik").text
    used = confirm(kim, "m-bunsik", "10,000", coupon=coupon)
    assert 'data-code="coupon_not_held"' in used.text


def _cashback_from_a_mart_payment(api: Api, login: str) -> int:
    """Charge and pay 10,000원 at the mart (no discount) through the API: the cashback."""
    assert api.money(login, "/api/v1/charges", {"amount": 50_000}).status_code == 201
    assert (
        api.money(login, "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).status_code
        == 201
    )
    return expected(10_000)["cashback"]


def test_donating_cashback_to_a_campaign(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    cashback = _cashback_from_a_mart_payment(api, "kim")
    kim = web_as(sqlite_engine, "kim", api)
    page = kim.get("/donate")
    assert shown(page.text, "cashback") == won(cashback)
    done = kim.post("/donate", {"key": key_of(page.text), "campaign": "nanum", "amount": "300"})
    after = follow(kim, done).text
    assert "캐시백 300원을 기부했습니다." in after
    assert shown(after, "cashback") == won(cashback - 300)
    assert re.search(r'data-campaign="nanum">.*?class="num donated">300원', after, re.S)
    too_much = kim.post("/donate", {"key": key_of(after), "campaign": "nanum", "amount": "1,000"})
    assert too_much.status_code == 422
    assert 'data-code="insufficient_cashback"' in too_much.text
    assert "캐시백 적립금이 부족합니다." in too_much.text
    assert "donation" in history_kinds(kim.get("/history").text)


def test_a_group_is_created_joined_and_pooled_and_its_owner_pays_and_donates(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    cashback = _cashback_from_a_mart_payment(api, "kim")
    kim = web_as(sqlite_engine, "kim", api)
    kim.get("/groups")
    created = kim.post("/groups", {"name": "계산동 독서회"})
    group_url = created.headers["location"]
    group_id = group_url.rsplit("/", 1)[1]
    assert follow(kim, created).status_code == 200
    lee = web_as(sqlite_engine, "lee", api)
    lee.get("/groups")
    assert lee.post("/groups/join", {"group": group_id}).headers["location"] == group_url
    missing = lee.post("/groups/join", {"group": "g-nowhere"})
    assert missing.status_code == 404 and 'data-code="unknown_group"' in missing.text

    page = kim.get(group_url).text
    assert 'data-member="u-kim"' in page and 'data-member="u-lee"' in page
    keys = KEY.findall(page)
    assert len(set(keys)) == 3  # each money form its own key
    done = kim.post(f"{group_url}/contribute", {"key": keys[0], "amount": "300"})
    page = follow(kim, done).text
    assert shown(page, "pool") == "300원"
    assert shown(page, "my-cashback") == won(cashback - 300)

    lee_page = lee.get(group_url).text
    assert shown(lee_page, "pool") == "300원"
    assert f'action="{group_url}/pay"' not in lee_page  # only the owner pays
    broke = lee.post(f"{group_url}/contribute", {"key": key_of(lee_page), "amount": "100"})
    assert 'data-code="insufficient_cashback"' in broke.text
    not_owner = lee.post(
        f"{group_url}/pay", {"key": "web-lee-pay", "merchant": "m-bunsik", "amount": "100"}
    )
    assert not_owner.status_code == 403, not_owner.text[-1500:]
    assert 'data-code="not_group_owner"' in not_owner.text

    page = kim.get(group_url).text
    keys = KEY.findall(page)
    want = expected(200, BUNSIK_DISCOUNT_BPS)
    paid = kim.post(f"{group_url}/pay", {"key": keys[1], "merchant": "m-bunsik", "amount": "200"})
    page = follow(kim, paid).text
    assert f"모임 적립금으로 {won(want['charged'])}을 결제했습니다" in page
    assert shown(page, "pool") == won(300 - want["charged"])
    keys = KEY.findall(page)
    donated = kim.post(
        f"{group_url}/donate", {"key": keys[2], "campaign": "nanum", "amount": "100"}
    )
    assert shown(follow(kim, donated).text, "pool") == won(300 - want["charged"] - 100)
    too_much = kim.post(
        f"{group_url}/donate", {"key": "web-kim-more", "campaign": "nanum", "amount": "1,000"}
    )
    assert 'data-code="insufficient_funds"' in too_much.text


# --- both databases ------------------------------------------------------------------------


def test_charge_and_pay_at_a_benefit_plus_shop(engine: Engine) -> None:
    kim = web_as(engine, "kim")
    charge(kim, "50,000")
    want = expected(10_000, BUNSIK_DISCOUNT_BPS)
    receipt, _ = pay(kim, "m-bunsik", "10,000")
    assert shown(receipt, "discount") == "-" + won(want["discount"])
    assert shown(receipt, "cashback-total") == won(want["cashback"])
    wallet = kim.get("/wallet").text
    assert shown(wallet, "total") == won(50_000 - want["charged"] + want["cashback"])
