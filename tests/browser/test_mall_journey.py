"""A citizen buys from the mall in a real browser (Chromium), on the real server.

A new Gyeyang shop (signed up and approved through the API) lists a product and its
photo through its console; a resident signs up, charges, finds the product on /mall,
puts two in the cart, checks out from the wallet and sees the order; the shop ships it
with a tracking number; the resident confirms that it arrived. Every amount asserted is
computed here from GYEYANG_CITY's rules (SPEC 3.6-3.8), never read back from the page;
every page fits a 375 px phone and is kept as a screenshot.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.api_support import PASSWORD
from tests.browser.conftest import (
    OpenPage,
    Server,
    fits_phone,
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


def on_phone(page: Page, name: str) -> None:
    """Keep a screenshot of a page seen on the phone, which must fit its 375 px."""
    screenshot(page, name)
    assert fits_phone(page), f"{name} ({page.url}) scrolls sideways at 375 px"


def flash(page: Page) -> str:
    return page.locator(".flash").inner_text()


def tiny_png(path: Path) -> Path:
    """A real 24x24 PNG (a warm square) for the product photo."""
    width = height = 24
    rows = b"".join(b"\x00" + bytes((240, 140, 60)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


def new_shop(server: Server) -> tuple[str, str, str]:
    """A Gyeyang shop signed up through the API and approved by its district's admin:
    (login, merchant id, name)."""
    login, name = unique("mall-shop"), f"계양 과일가게 {unique('n')}"
    made = httpx.post(
        f"{server.base_url}/api/v1/auth/signup/merchant",
        json={
            "login": login,
            "password": PASSWORD,
            "merchant": {"name": name, "district": "gyeyang", "category": "mart"},
        },
        timeout=20,
    )
    assert made.status_code == 201, made.text
    merchant_id = str(made.json()["merchant_id"])
    approved = server.api(
        "gyeyang-admin", "POST", f"/merchants/{merchant_id}/approval", {"approve": True}
    )
    assert approved.status_code == 200, approved.text
    return login, merchant_id, name


def budget_remaining(server: Server, budget_id: str) -> int:
    found = server.api("gyeyang-admin", "GET", f"/budgets/{budget_id}")
    assert found.status_code == 200, found.text
    return int(found.json()["remaining"])


def test_a_resident_buys_from_the_mall_and_the_shop_ships_it(
    server: Server, open_page: OpenPage, tmp_path: Path
) -> None:
    shop, citizen = open_page(phone=True), open_page(phone=True)
    shop_login, merchant_id, shop_name = new_shop(server)
    product_name, price, stock = f"제철 복숭아 {unique('box')}", 6_500, 5

    # The shop lists the product and its photo through its console.
    sign_in(shop, shop_login)
    shop.goto("/shop/products")
    new = shop.locator('form[action="/shop/products"]')
    new.locator("#f-name").fill(product_name)
    new.locator("#f-price").fill(f"{price:,}")
    new.locator("#f-stock").fill(str(stock))
    new.locator("#f-category").select_option("mart")
    new.locator("#f-description").fill("아침에 딴 복숭아 2kg")
    new.get_by_role("button", name="등록하기").click()
    shop.wait_for_url("**/shop/products#p-*")
    assert flash(shop) == "상품을 등록했습니다."
    product_id = shop.url.rsplit("#p-", 1)[1]
    item = shop.locator(f'[data-product="{product_id}"]')
    expect(item.locator('[data-figure="price"]')).to_have_text(won(price))
    item.locator("summary", has_text="사진 올리기").click()
    item.locator(f"#photo-{product_id}").set_input_files(str(tiny_png(tmp_path / "peach.png")))
    item.get_by_role("button", name="사진 올리기").click()
    shop.wait_for_url("**/shop/products#p-*")
    assert flash(shop) == "사진을 올렸습니다."
    expect(item.locator("img.photo")).to_be_visible()
    on_phone(shop, "shop-products")

    # A resident signs up and charges.
    login = unique("mall-buyer")
    citizen.goto("/signup")
    citizen.fill("#f-login", login)
    citizen.fill("#f-password", PASSWORD)
    citizen.select_option("#f-card", "gyeyang")
    citizen.select_option("#f-kind", "personal")
    citizen.get_by_role("button", name="가입하기").click()
    citizen.wait_for_url("**/wallet")
    citizen.goto("/wallet/charge")
    citizen.fill("#f-amount", "30,000")
    citizen.get_by_role("button", name="은행 계좌에서 충전").click()
    citizen.wait_for_url("**/wallet")

    # Finds the product on /mall by a word of its name and opens it.
    citizen.goto("/mall")
    citizen.fill("#f-q", product_name)
    citizen.get_by_role("button", name="검색").click()
    card = citizen.locator(f'li.product[data-product="{product_id}"]')
    expect(card.locator('[data-figure="price"]')).to_have_text(won(price))
    expect(card).to_contain_text(shop_name)
    expect(card.locator("img.photo")).to_be_visible()
    on_phone(citizen, "mall")
    card.locator("a.title").click()
    citizen.wait_for_url(f"**/mall/products/{product_id}")
    expect(citizen.locator("#product-name")).to_have_text(product_name)
    expect(citizen.locator("#stock")).to_have_text(f"남은 수량 {stock}개")
    # SPEC 3.7: a general Gyeyang shop online earns Incheon's 4% and Gyeyang's 1%.
    expect(citizen.locator("#rate")).to_have_text(
        f"{(rate_of('incheon-base') + rate_of('gyeyang-launch')) // 100}%"
    )
    on_phone(citizen, "mall-product")

    quantity = 2
    citizen.fill("#f-quantity", str(quantity))
    citizen.get_by_role("button", name="담기").click()
    citizen.wait_for_url("**/mall/cart")
    assert flash(citizen) == "장바구니에 담았습니다."

    # No discount (a general shop): the wallet pays the list price (SPEC 3.6).
    amount = charged = price * quantity
    base = floor_bps(charged, rate_of("incheon-base"))
    launch = min(
        floor_bps(charged, rate_of("gyeyang-launch")), budget_remaining(server, "gyeyang-event")
    )
    cart_shop = citizen.locator(f'section[data-shop="{merchant_id}"]')
    expect(cart_shop.locator('[data-figure="subtotal"]')).to_have_text(won(amount))
    expect(cart_shop.locator('[data-figure="charged"]')).to_have_text(won(charged))
    expect(cart_shop.locator('[data-figure="cashback"]')).to_have_text(won(base + launch))
    expect(citizen.locator("#to-pay")).to_have_text(won(charged))
    expect(citizen.locator("#balance")).to_have_text(won(30_000))
    citizen.fill("#f-ship_to", "인천광역시 계양구 계산동 123, 101호")
    on_phone(citizen, "mall-cart")
    citizen.get_by_role("button", name="결제하기").click()

    citizen.wait_for_url("**/mall/checkouts/*")
    assert flash(citizen) == "결제했습니다."
    expect(citizen.locator("h1")).to_have_text("주문 영수증")
    expect(citizen.locator("#charged-total")).to_have_text(won(charged))
    expect(citizen.locator("#cashback-total")).to_have_text(won(base + launch))
    expect(citizen.locator("#balance")).to_have_text(won(30_000 - charged + base + launch))
    expect(citizen.locator("main")).not_to_contain_text("수수료")  # the shop's business
    on_phone(citizen, "mall-receipt")

    citizen.goto("/mall/orders")
    order = citizen.locator("li.order").first
    order_id = order.get_attribute("data-order")
    assert order_id
    expect(order.locator(".badge")).to_have_text("결제 완료")
    expect(order.locator(".shop")).to_have_text(shop_name)
    on_phone(citizen, "mall-orders")

    # The shop sees the order with the 3% gateway fee and ships it.
    shop.goto("/shop/orders")
    theirs = shop.locator(f'li.order[data-order="{order_id}"]')
    expect(theirs.locator('[data-figure="charged"]')).to_have_text(won(charged))
    expect(theirs.locator('[data-figure="fee"]')).to_have_text(won(floor_bps(charged, 300)))
    theirs.locator(f"#tracking-{order_id}").fill("CJ 5512-3300")
    on_phone(shop, "shop-orders")
    theirs.get_by_role("button", name="발송하기").click()
    shop.wait_for_url("**/shop/orders*")
    assert flash(shop) == "발송했습니다."
    expect(theirs.locator(".badge")).to_have_text("발송")

    # The resident sees it shipped and confirms that it arrived.
    citizen.goto(f"/mall/orders/{order_id}")
    expect(citizen.locator(".tracking")).to_have_text("CJ 5512-3300")
    expect(citizen.locator("#order .badge")).to_have_text("발송")
    citizen.get_by_role("button", name="받았어요").click()
    citizen.wait_for_url(f"**/mall/orders/{order_id}")
    assert flash(citizen) == "받은 것으로 표시했습니다."
    expect(citizen.locator("#order .badge")).to_have_text("배송 완료")
    expect(citizen.locator("#delivered-at")).to_be_visible()
    on_phone(citizen, "mall-order")

    shop.goto("/shop/orders?status=delivered")
    expect(shop.locator(f'li.order[data-order="{order_id}"] .badge')).to_have_text("배송 완료")
    left = server.api(shop_login, "GET", f"/mall/products/{product_id}").json()["stock"]
    assert left == stock - quantity
