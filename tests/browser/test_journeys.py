"""People walking through the web app in a real browser (Chromium), on the real server.

Every amount asserted is computed here from GYEYANG_CITY's rules (SPEC 3.6-3.8), never
read back from the page: a Gyeyang resident pays a Benefit Plus shop by its QR link and
sees the pre-discount and the cashback of each rule; the shop sees the sale; an admin's
small budget runs dry and the budget pages say so; another district's admin is kept
out; every page fits a 375 px phone and speaks English on request.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.api_support import PASSWORD
from tests.browser.conftest import (
    OpenPage,
    Server,
    fits_phone,
    merchant_of,
    rate_of,
    screenshot,
    sign_in,
    unique,
    won,
)

BPS = 10_000


def floor_bps(amount_krw: int, rate_bps: int) -> int:
    """amount x rate, rounded down (SPEC 3.1)."""
    return amount_krw * rate_bps // BPS


def budget_remaining(server: Server, budget_id: str) -> int:
    found = server.api("gyeyang-admin", "GET", f"/budgets/{budget_id}")
    assert found.status_code == 200, found.text
    return int(found.json()["remaining"])


def new_member(server: Server, card: str = "gyeyang", kind: str = "personal") -> str:
    """A citizen signed up through the API (the first journey signs up by hand)."""
    login = unique("api-citizen")
    body = {"login": login, "password": PASSWORD, "card": card, "kind": kind}
    made = httpx.post(f"{server.base_url}/api/v1/auth/signup/member", json=body, timeout=20)
    assert made.status_code == 201, made.text
    return login


def api_pay(server: Server, login: str, merchant: str, amount: int) -> dict[str, Any]:
    paid = server.api(login, "POST", "/payments", {"merchant": merchant, "amount": amount})
    assert paid.status_code == 201, paid.text
    result: dict[str, Any] = paid.json()
    return result


def api_charge(server: Server, login: str, amount: int) -> None:
    charged = server.api(login, "POST", "/charges", {"amount": amount})
    assert charged.status_code == 201, charged.text


def flash(page: Page) -> str:
    return page.locator(".flash").inner_text()


def on_phone(page: Page, name: str) -> None:
    """Keep a screenshot of a page seen on the phone, which must fit its 375 px."""
    screenshot(page, name)
    assert fits_phone(page), f"{name} ({page.url}) scrolls sideways at 375 px"


# --- 1. sign up, charge, pay a Benefit Plus shop by its QR link, see the receipt -----


def test_a_resident_signs_up_charges_and_pays_a_benefit_plus_shop_by_its_qr_link(
    server: Server, open_page: OpenPage
) -> None:
    citizen, shop = open_page(phone=True), open_page(phone=True)
    login = unique("gyeyang-resident")

    citizen.goto("/signup")
    on_phone(citizen, "signup")
    citizen.fill("#f-login", login)
    citizen.fill("#f-password", PASSWORD)
    citizen.fill("#f-name", "계양 주민")
    citizen.select_option("#f-card", "gyeyang")
    citizen.select_option("#f-kind", "personal")
    citizen.select_option("#f-home_district", "gyeyang")
    citizen.get_by_role("button", name="가입하기").click()
    citizen.wait_for_url("**/wallet")
    expect(citizen.locator("#total")).to_have_text(won(0))

    citizen.goto("/wallet/charge")
    on_phone(citizen, "wallet-charge")
    citizen.fill("#f-amount", "50,000")
    citizen.get_by_role("button", name="은행 계좌에서 충전").click()
    citizen.wait_for_url("**/wallet")
    assert flash(citizen) == f"{won(50_000)}을 충전했습니다."
    expect(citizen.locator("#total")).to_have_text(won(50_000))
    expect(citizen.locator("#charged")).to_have_text(won(50_000))

    # The shop prints a QR code with the amount fixed; its pay link is what a camera opens.
    bunsik = merchant_of("m-bunsik")
    assert bunsik["tier"] == "benefit_plus"
    amount = 12_345
    sign_in(shop, "bunsik")
    shop.goto("/shop/qr")
    shop.fill("#f-amount", f"{amount:,}")
    shop.get_by_role("button", name="QR 만들기").click()
    shop.wait_for_url("**/shop/qr?*")
    expect(shop.locator("#qr-sheet svg")).to_be_visible()
    on_phone(shop, "shop-qr")
    pay_link = shop.locator("#pay-link").get_attribute("href")
    assert pay_link and pay_link.startswith(f"{server.base_url}/pay?qr=")

    # SPEC 3.6: 3% off first; 3.7: 4% (인천) and 1% (계양, while its 1,000원 budget lasts)
    # of what the wallet pays.
    discount = floor_bps(amount, bunsik["discount_bps"])
    charged = amount - discount
    base = floor_bps(charged, rate_of("incheon-base"))
    launch = min(
        floor_bps(charged, rate_of("gyeyang-launch")), budget_remaining(server, "gyeyang-event")
    )
    assert (discount, charged, base) == (370, 11_975, 479)

    citizen.goto(pay_link)
    expect(citizen.locator("#shop-name")).to_have_text(bunsik["name"])
    expect(citizen.locator("#fixed-amount")).to_have_text(won(amount))
    on_phone(citizen, "pay-amount")
    citizen.get_by_role("button", name="결제 금액 확인").click()

    expect(citizen.locator("h1")).to_have_text("결제 확인")
    expect(citizen.locator("#amount")).to_have_text(won(amount))
    expect(citizen.locator("#discount")).to_have_text(f"-{won(discount)}")
    expect(citizen.locator("#charged")).to_have_text(won(charged))
    expect(citizen.locator("#from-cashback")).to_have_text(won(0))
    expect(citizen.locator('dd[data-rule="incheon-base"]')).to_have_text(won(base))
    expect(citizen.locator('dd[data-rule="gyeyang-launch"]')).to_have_text(won(launch))
    expect(citizen.locator("#cashback-total")).to_have_text(won(base + launch))
    on_phone(citizen, "pay-confirm")
    citizen.get_by_role("button", name=f"{won(charged)} 결제하기").click()

    citizen.wait_for_url("**/payments/*")
    assert flash(citizen) == "결제했습니다."
    expect(citizen.locator("h1")).to_have_text("영수증")
    expect(citizen.locator("#receipt-title")).to_have_text(bunsik["name"])
    expect(citizen.locator("#status")).to_have_text("결제 완료")
    expect(citizen.locator("#amount")).to_have_text(won(amount))
    expect(citizen.locator("#discount")).to_have_text(f"-{won(discount)}")
    expect(citizen.locator("#charged")).to_have_text(won(charged))
    expect(citizen.locator('dd[data-rule="incheon-base"]')).to_have_text(won(base))
    expect(citizen.locator("#cashback-total")).to_have_text(won(base + launch))
    on_phone(citizen, "receipt")

    # The wallet paid the charged amount and holds the cashback (SPEC 3.6 step 6).
    citizen.goto("/wallet")
    expect(citizen.locator("#charged")).to_have_text(won(50_000 - charged))
    expect(citizen.locator("#cashback")).to_have_text(won(base + launch))
    expect(citizen.locator("#total")).to_have_text(won(50_000 - charged + base + launch))


# --- 2. the shop sees the sale ---------------------------------------------------------


def test_the_benefit_plus_shop_sees_a_card_sale_with_its_fee_and_fee_support(
    server: Server, phone: Page
) -> None:
    before = server.api("bunsik", "GET", "/merchants/m-bunsik/sales").json()["today"]
    buyer = new_member(server)
    api_charge(server, buyer, 30_000)
    amount = 20_000
    paid = api_pay(server, buyer, "m-bunsik", amount)

    bunsik = merchant_of("m-bunsik")
    discount = floor_bps(amount, bunsik["discount_bps"])
    charged = amount - discount
    fee = floor_bps(charged, bunsik["card_fee_bps"])  # SPEC 3.8: card channel
    support = min(fee, floor_bps(charged, rate_of("gyeyang-fee")))
    assert (discount, charged, fee, support) == (600, 19_400, 155, 97)
    assert (paid["charged"], paid["fee"], paid["fee_support"]) == (
        charged,
        fee,
        {"gyeyang-fee": support},
    )

    sign_in(phone, "bunsik")
    assert phone.url.endswith("/shop")
    expect(phone.locator("h1")).to_have_text(bunsik["name"])
    expect(phone.locator('[data-tier="benefit_plus"]')).to_contain_text("3%")
    today = phone.locator("#sales-today")
    expect(today.locator('[data-figure="today.charged"]')).to_have_text(
        won(before["charged"] + charged)
    )
    expect(today.locator('[data-figure="today.fee"]')).to_have_text(won(before["fee"] + fee))
    expect(today.locator('[data-figure="today.fee_support"]')).to_have_text(
        won(before["fee_support"] + support)
    )
    expect(today.locator('[data-figure="today.net_receivable"]')).to_have_text(
        won(before["net_receivable"] + charged - fee + support)
    )
    expect(today.locator(".card .label").first).to_have_text(f"매출액 · {before['count'] + 1}건")
    on_phone(phone, "shop")

    phone.goto("/shop/payments")
    sale = phone.locator(f'[data-payment="{paid["payment_id"]}"]')
    expect(sale.locator(".charged")).to_have_text(won(charged))
    expect(sale).to_contain_text(f"−{won(discount)}")
    expect(sale).to_contain_text(won(fee))
    expect(sale.locator(f"#f-amount-{paid['payment_id']}")).to_have_value(f"{charged:,}")
    on_phone(phone, "shop-payments")


# --- 3. an admin's small budget runs dry -------------------------------------------


def test_an_admin_opens_a_small_budget_and_a_rule_and_sees_the_budget_run_dry(
    server: Server, desk: Page
) -> None:
    budget_id, rule_id = unique("gy-browser-budget"), unique("gy-browser-rule")
    sign_in(desk, "gyeyang-admin")
    assert desk.url.endswith("/admin")

    desk.goto("/admin/budgets")
    new = desk.locator('form[action="/admin/budgets"]')
    new.locator("#f-id").fill(budget_id)
    new.locator("#f-name").fill("사업자 카드 이벤트")
    new.locator("#f-owner").select_option("gyeyang")
    new.locator("#f-amount").fill("1,000")
    new.get_by_role("button", name="예산 편성").click()
    desk.wait_for_url(f"**/admin/budgets/{budget_id}")
    assert flash(desk) == "예산을 편성했습니다."
    expect(desk.locator("#funded")).to_have_text(won(1_000))
    expect(desk.locator("#remaining")).to_have_text(won(1_000))

    # 10% for Gyeyang business cards, from that budget only.
    desk.goto("/admin/rules/new")
    screenshot(desk, "admin-rules-new")
    desk.fill("#f-id", rule_id)
    desk.select_option("#f-kind", "cashback")
    desk.select_option("#f-owner", "gyeyang")
    desk.fill("#f-name", "사업자 카드 10%")
    desk.fill("#f-rate", "10")
    desk.select_option("#f-budget", budget_id)
    desk.check('input[name="card_kinds.business"]')
    desk.get_by_role("button", name="규칙 만들기").click()
    desk.wait_for_url(f"**/admin/rules/{rule_id}")
    assert flash(desk) == "규칙을 만들었습니다."
    expect(desk.locator("#rule-state")).to_have_text("적용 중")
    rate_bps = 1_000

    # A business card pays 작전 마트 (no discount) three times: 400, 400, then what is left.
    owner = new_member(server, card="gyeyang", kind="business")
    api_charge(server, owner, 20_000)
    amount, left, paid_out = 4_000, 1_000, []
    for _ in range(3):
        expected = min(floor_bps(amount, rate_bps), left)
        left -= expected
        result = api_pay(server, owner, "m-mart", amount)
        assert result["charged"] == amount
        assert result["cashback"] == {rule_id: expected}
        paid_out.append(expected)
    assert (paid_out, left) == ([400, 400, 200], 0)

    desk.goto(f"/admin/budgets/{budget_id}")
    expect(desk.locator("#spent")).to_have_text(won(1_000))
    expect(desk.locator("#remaining")).to_have_text(won(0))
    expect(desk.locator("#budget-state")).to_have_text("예산 소진")
    expect(desk.locator("#budget-state")).to_have_class("badge bad")
    expect(desk.locator("#forecast")).to_have_text("예산이 모두 소진되었습니다.")
    screenshot(desk, "admin-budget")

    desk.goto("/admin/budgets")
    row = desk.locator(f'tr[data-budget="{budget_id}"]')
    expect(row.locator('[data-col="spent"]')).to_have_text(won(1_000))
    expect(row.locator('[data-col="remaining"]')).to_have_text(won(0))
    expect(row.locator(".badge")).to_have_text("예산 소진")
    screenshot(desk, "admin-budgets")

    desk.goto("/admin")
    alert = desk.locator(f'li[data-budget="{budget_id}"]')
    expect(alert.locator(".badge.bad")).to_have_text("예산 소진")
    expect(alert).to_contain_text(f"잔액 {won(0)}")
    screenshot(desk, "admin")

    desk.goto(f"/admin/rules/{rule_id}")
    expect(desk.locator("#rule-paid")).to_have_text(won(1_000))
    screenshot(desk, "admin-rule")


# --- 4. another district's admin is kept out -----------------------------------------


def forge_post(page: Page, action: str, fields: dict[str, str]) -> int:
    """Post a form the page does not offer (with the page's own CSRF token, as a
    tampering admin could) and return the status of the answer."""
    script = """([action, fields]) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = action;
        const csrf = document.querySelector('input[name="csrf"]').value;
        for (const [name, value] of Object.entries({...fields, csrf})) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    }"""
    with page.expect_response(
        lambda r: r.url.endswith(action) and r.request.method == "POST"
    ) as answer:
        page.evaluate(script, [action, fields])
    page.wait_for_load_state()
    return answer.value.status


def test_bupyeong_admin_cannot_open_or_act_on_gyeyang_pages(
    server: Server, open_page: OpenPage
) -> None:
    desk = open_page(phone=False)
    sign_in(desk, "bupyeong-admin")
    expect(desk.locator("h1")).to_contain_text("부평e음")
    desk.goto("/admin/budgets")
    expect(desk.locator('tr[data-budget="gyeyang-event"]')).to_have_count(0)

    # 계양's budget, rule and statistics look missing, exactly as in the API.
    for path, code in (
        ("/admin/budgets/gyeyang-event", "unknown_budget"),
        ("/admin/rules/gyeyang-launch", "unknown_rule"),
        ("/admin?issuer=gyeyang", "unknown_issuer"),
    ):
        response = desk.goto(path)
        assert response is not None and response.status == 404, path
        expect(desk.locator('[role="alert"]')).to_have_attribute("data-code", code)
        expect(desk.locator("#remaining, #rule-paid, #this-month")).to_have_count(0)

    # Acting on them anyway (a form posted by hand) is refused with the 403 page.
    desk.goto("/admin/merchants")
    status = forge_post(desk, "/admin/merchants/m-bunsik/decision", {"decision": "approve"})
    assert status == 403
    expect(desk.locator("h1")).to_have_text("이 페이지를 볼 권한이 없습니다.")
    expect(desk.locator('[role="alert"]')).to_have_attribute("data-code", "forbidden")
    screenshot(desk, "forbidden")

    own = {"id": unique("bp-budget"), "owner": "bupyeong", "amount": 1_000}
    assert server.api("bupyeong-admin", "POST", "/budgets", own).status_code == 201
    before = budget_remaining(server, "gyeyang-event")
    desk.goto("/admin/budgets")
    status = forge_post(
        desk,
        "/admin/budgets/fund",
        {
            "budget": "gyeyang-event",
            "amount": "5000",
            "key": unique("forged"),
            "back": "/admin/budgets",
        },
    )
    assert status == 403
    expect(desk.locator("#form-error")).to_have_attribute("data-code", "forbidden")
    assert budget_remaining(server, "gyeyang-event") == before

    # A citizen gets the same 403 page on any admin page.
    phone = open_page(phone=True)
    sign_in(phone, "kim")
    response = phone.goto("/admin/budgets")
    assert response is not None and response.status == 403
    expect(phone.locator("h1")).to_have_text("이 페이지를 볼 권한이 없습니다.")


# --- 5. a phone's width, and English -------------------------------------------------

PUBLIC_PAGES = {"home": "/", "login": "/login", "signup-shop": "/signup/shop", "shops": "/shops"}
CITIZEN_PAGES = {
    "wallet": "/wallet",
    "shops-member": "/shops",
    "wallet-withdraw": "/wallet/withdraw",
    "pay-start": "/pay",
    "history": "/history",
    "coupons": "/coupons",
    "donate": "/donate",
    "groups": "/groups",
}
MERCHANT_PAGES = {"shop-benefit-plus": "/shop/benefit-plus", "shop-coupons": "/shop/coupons"}
# Admin pages are desk-first (the admin journey keeps them at 1280 px) but work on a phone.
ADMIN_PAGES = {
    "admin-375": "/admin",
    "admin-rules-375": "/admin/rules",
    "admin-rules-new-375": "/admin/rules/new",
    "admin-budgets-375": "/admin/budgets",
    "admin-budget-375": "/admin/budgets/gyeyang-event",
    "admin-merchants-375": "/admin/merchants",
}


def _fits(page: Page, pages: dict[str, str]) -> list[str]:
    """The pages (of ``pages``) wider than the phone; each one is kept as a screenshot."""
    too_wide = []
    for name, path in pages.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        screenshot(page, name)
        if not fits_phone(page):
            too_wide.append(path)
    return too_wide


def test_every_page_fits_a_375px_phone(server: Server, open_page: OpenPage) -> None:
    anonymous, kim, bunsik, admin = open_page(), open_page(), open_page(), open_page()
    too_wide = _fits(anonymous, PUBLIC_PAGES)
    sign_in(kim, "kim")
    too_wide += _fits(kim, CITIZEN_PAGES)
    sign_in(bunsik, "bunsik")
    too_wide += _fits(bunsik, MERCHANT_PAGES)
    sign_in(admin, "gyeyang-admin")
    too_wide += _fits(admin, ADMIN_PAGES)
    assert too_wide == []


def test_the_language_toggle_switches_the_pages_to_english_and_back(
    server: Server, phone: Page
) -> None:
    phone.goto("/")
    expect(phone.locator("h1")).to_have_text("플랫폼 현황")
    expect(phone.locator("html")).to_have_attribute("lang", "ko")
    phone.get_by_role("link", name="English").click()
    phone.wait_for_url(f"{server.base_url}/")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("h1")).to_have_text("Platform at a glance")
    expect(phone.get_by_role("link", name="Sign up").first).to_be_visible()

    # The choice is kept across pages and after signing in.
    sign_in_en(phone, "kim")
    expect(phone.locator("h1")).to_have_text("My wallet")
    on_phone(phone, "wallet-en")
    phone.get_by_role("link", name="한국어").click()
    phone.wait_for_url("**/wallet")
    expect(phone.locator("html")).to_have_attribute("lang", "ko")
    expect(phone.locator("h1")).to_have_text("내 지갑")


def sign_in_en(page: Page, login: str) -> None:
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#f-login", login)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/wallet")
