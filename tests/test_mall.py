"""The online mall through the API: listing, cart, checkout paid as channel ``online``
(the same money as a direct online payment), all-or-nothing multi-shop checkout, the last
item raced for by many buyers, shipping, delivery, cancellation and partial refunds."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from eum.auth import service as auth
from eum.clock import now
from eum.ledger.service import verify
from eum.mall.store import products
from eum.wallets import service as wallets
from tests.api_support import PASSWORD, Api

ADDRESS = "인천 계양구 계산동 1-2, 101호"


def _product(api: Api, shop: str, name: str, price: int, stock: int) -> str:
    made = api.as_(shop).post(
        "/api/v1/me/products",
        json={"name": name, "price": price, "stock": stock, "category": "food",
              "description": f"{name} 설명"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _cart(api: Api, who: str, product_id: str, quantity: int) -> Any:
    return api.as_(who).put(f"/api/v1/me/cart/{product_id}", json={"quantity": quantity})


def _checkout(api: Api, who: str, key: str | None = None) -> Any:
    return api.money(who, "/api/v1/me/checkout", {"ship_to": ADDRESS}, key=key)


def _charge(api: Api, member: str, amount: int) -> None:
    assert api.money(member, "/api/v1/charges", {"amount": amount}).status_code == 201


def test_a_two_shop_checkout_pays_each_shop_like_an_online_payment(engine: Engine) -> None:
    api = Api(engine)
    tteok = _product(api, "bunsik", "떡볶이 밀키트", 8_000, 5)  # Benefit Plus: 3% off
    rice = _product(api, "mart", "강화 쌀 10kg", 32_000, 2)
    _charge(api, "kim", 100_000)
    assert _cart(api, "kim", tteok, 2).status_code == 200
    cart = _cart(api, "kim", rice, 1).json()
    assert cart["amount"] == 2 * 8_000 + 32_000 and len(cart["shops"]) == 2
    done = _checkout(api, "kim", key="buy-1")
    assert done.status_code == 201, done.text
    body = done.json()
    assert [o["merchant"] for o in body["orders"]] == ["m-bunsik", "m-mart"]
    assert _checkout(api, "kim", key="buy-1").json() == body  # a retry books nothing new

    # each order is an online payment: the gateway's 3%, the discount, the cashback rules
    state = api.platform.state()
    for order in body["orders"]:
        paid = state["payments"][f"mall:{order['order']}"]
        assert paid["charged"] == order["charged"]
        assert paid["fee"] == order["charged"] * 300 // 10_000  # the 3% gateway fee
        assert paid["cashback"] == order["cashback"]
    bunsik = body["orders"][0]
    assert (bunsik["amount"], bunsik["discount"], bunsik["charged"]) == (16_000, 480, 15_520)
    assert bunsik["cashback"]["incheon-base"] == 15_520 * 400 // 10_000
    # stock taken, cart emptied, orders listed for the buyer and for each shop
    assert api.as_("kim").get("/api/v1/me/cart").json()["shops"] == []
    assert api.anonymous.get(f"/api/v1/mall/products/{tteok}").json()["stock"] == 3
    mine = api.as_("kim").get("/api/v1/me/orders").json()["items"]
    assert {o["id"] for o in mine} == {o["order"] for o in body["orders"]}
    shop = api.as_("mart").get("/api/v1/shop/orders").json()["items"]
    assert [o["id"] for o in shop] == [body["orders"][1]["order"]]
    assert shop[0]["items"] == [{"product": rice, "name": "강화 쌀 10kg", "price": 32_000,
                                 "quantity": 1}]  # fmt: skip
    assert api.as_("bunsik").get(f"/api/v1/shop/orders/{shop[0]['id']}").status_code == 404
    assert api.platform.read(verify).ok


def test_when_one_shop_s_payment_fails_nothing_is_charged(engine: Engine) -> None:
    api = Api(engine)
    cheap = _product(api, "bunsik", "김밥", 5_000, 10)
    dear = _product(api, "mart", "한우 세트", 90_000, 10)
    _charge(api, "kim", 50_000)  # enough for the first shop, not for both
    _cart(api, "kim", cheap, 1)
    _cart(api, "kim", dear, 1)
    before = api.platform.state()
    refused = _checkout(api, "kim")
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "insufficient_funds"
    after = api.platform.state()
    assert after["members"]["u-kim"] == before["members"]["u-kim"]
    assert after["payments"] == before["payments"] == {}
    assert after["merchants"] == before["merchants"]
    assert api.as_("kim").get("/api/v1/me/orders").json()["items"] == []
    for product_id in (cheap, dear):  # stock back as it was, the cart kept
        assert api.as_("kim").get(f"/api/v1/mall/products/{product_id}").json()["stock"] == 10
    assert api.as_("kim").get("/api/v1/me/cart").json()["amount"] == 95_000
    assert after["ledger"]["balanced"]


def test_many_buyers_race_for_the_last_items(engine: Engine) -> None:
    """Eight buyers in parallel threads check out 1 of a product with 3 left: exactly
    three orders, five out_of_stock, stock 0, nothing charged for the refused."""
    api = Api(engine)
    last = _product(api, "mart", "한정판 굿즈", 10_000, 3)
    buyers = [f"buyer{i}" for i in range(8)]

    def make(conn: Any) -> None:
        for i, login in enumerate(buyers):
            wallets.create_member(conn, id=f"u-b{i}", card_issuer_id="incheon",
                                  card_kind="personal", at=now())  # fmt: skip
            auth.create_staff(conn, login=login, password=PASSWORD, role="member",
                              member_id=f"u-b{i}", at=now())  # fmt: skip

    api.platform.run(make)
    for login in buyers:
        _charge(api, login, 20_000)
        assert _cart(api, login, last, 1).status_code == 200
    clients = {login: api.as_(login) for login in buyers}
    start = threading.Barrier(len(buyers))
    answers: dict[str, Any] = {}

    def buy(login: str) -> None:
        client: TestClient = clients[login]
        start.wait()
        answers[login] = client.post(
            "/api/v1/me/checkout",
            json={"ship_to": ADDRESS},
            headers={"Idempotency-Key": f"race-{login}"},
        )

    threads = [threading.Thread(target=buy, args=(login,)) for login in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome = Counter(
        "ok" if r.status_code == 201 else r.json().get("code") for r in answers.values()
    )
    print(f"\n{len(buyers)} buyers for 3 items: {dict(outcome)}")
    assert outcome == {"ok": 3, "out_of_stock": 5}
    with engine.connect() as conn:
        assert conn.execute(select(products.c.stock).where(products.c.id == last)).scalar() == 0
    state = api.platform.state()
    assert len(state["payments"]) == 3
    refused = [login for login, r in answers.items() if r.status_code != 201]
    for login in refused:
        member = f"u-b{buyers.index(login)}"
        assert state["members"][member] == {"cashback": 0, "charged": 20_000}
    assert state["ledger"]["balanced"]


def test_an_order_ships_is_delivered_and_refunded_in_part(engine: Engine) -> None:
    api = Api(engine)
    box = _product(api, "mart", "과일 상자", 40_000, 5)
    _charge(api, "kim", 100_000)
    _cart(api, "kim", box, 1)
    order = _checkout(api, "kim").json()["orders"][0]
    oid = order["order"]
    mart = api.as_("mart")
    assert api.as_("kim").post(f"/api/v1/me/orders/{oid}/delivered").status_code == 409
    shipped = mart.post(f"/api/v1/shop/orders/{oid}/ship", json={"tracking": "CJ 1234"})
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert mart.post(f"/api/v1/shop/orders/{oid}/ship", json={}).status_code == 409
    late = api.money("kim", f"/api/v1/me/orders/{oid}/cancel", {})
    assert late.status_code == 409 and late.json()["code"] == "invalid_state"
    assert api.as_("kim").post(f"/api/v1/me/orders/{oid}/delivered").json()["status"] == (
        "delivered"
    )
    before = api.platform.state()
    part = api.money("mart", f"/api/v1/shop/orders/{oid}/refunds", {"amount": 10_000})
    assert part.status_code == 201, part.text
    assert part.json()["refunded"] == 10_000 and part.json()["status"] == "delivered"
    after = api.platform.state()
    paid = after["payments"][f"mall:{oid}"]
    charged = order["charged"]
    for rule, won in order["cashback"].items():  # floor(X x c' / c), SPEC 3.9
        assert paid["cashback"][rule] == won * (charged - 10_000) // charged
    given_back = sum(order["cashback"].values()) - sum(paid["cashback"].values())
    kim_before, kim_after = before["members"]["u-kim"], after["members"]["u-kim"]
    total = lambda m: m["cashback"] + m["charged"]  # noqa: E731
    assert total(kim_after) - total(kim_before) == 10_000 - given_back
    too_much = api.money("mart", f"/api/v1/shop/orders/{oid}/refunds", {"amount": charged})
    assert too_much.json()["code"] == "refund_exceeds_payment"
    assert after["ledger"]["balanced"]


def test_a_cancelled_order_gives_money_and_cashback_back_and_restocks(engine: Engine) -> None:
    api = Api(engine)
    kit = _product(api, "bunsik", "분식 세트", 12_345, 4)
    _charge(api, "kim", 50_000)
    before = api.platform.state()
    _cart(api, "kim", kit, 2)
    order = _checkout(api, "kim").json()["orders"][0]
    assert sum(order["cashback"].values()) > 0
    cancelled = api.money("kim", f"/api/v1/me/orders/{order['order']}/cancel", {}, key="c1")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = api.money("kim", f"/api/v1/me/orders/{order['order']}/cancel", {}, key="c1")
    assert again.json() == cancelled.json()  # the same answer, one refund
    after = api.platform.state()
    paid = after["payments"][f"mall:{order['order']}"]
    assert paid["status"] == "refunded" and paid["refunded"] == order["charged"]
    assert all(v == 0 for v in paid["cashback"].values())
    assert paid["fee"] == 0
    assert after["members"]["u-kim"] == before["members"]["u-kim"]  # every won back
    assert after["budgets"] == before["budgets"]
    assert api.as_("kim").get(f"/api/v1/mall/products/{kit}").json()["stock"] == 4
    assert api.money("kim", f"/api/v1/me/orders/{order['order']}/cancel", {}).status_code == 409
    assert after["ledger"]["balanced"]


def test_products_are_the_shop_s_own_and_the_mall_shows_what_is_on_sale(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    soap = _product(api, "mart", "천연 비누", 3_000, 1)
    hidden = _product(api, "mart", "단종 상품", 1_000, 9)
    off = api.as_("mart").patch(f"/api/v1/me/products/{hidden}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert (
        api.as_("bunsik").patch(f"/api/v1/me/products/{soap}", json={"stock": 5}).status_code == 404
    )
    assert (
        api.as_("mart").patch(f"/api/v1/me/products/{soap}", json={"stock": -1}).status_code == 422
    )
    assert (
        api.as_("mart").patch(f"/api/v1/me/products/{soap}", json={"price": 1.5}).status_code == 422
    )
    listed = api.anonymous.get("/api/v1/mall/products", params={"q": "비누"}).json()["items"]
    assert [p["id"] for p in listed] == [soap]
    assert listed[0]["merchant_name"] == "작전 마트" and listed[0]["district"] == "gyeyang"
    names = [p["name"] for p in api.anonymous.get("/api/v1/mall/products").json()["items"]]
    assert "단종 상품" not in names
    assert _cart(api, "kim", hidden, 1).status_code == 404
    assert _cart(api, "kim", soap, 100).status_code == 422
    mine = {"name": "x", "price": 1, "stock": 1}
    assert api.as_("kim").post("/api/v1/me/products", json=mine).status_code == 403
    assert _checkout(api, "lee").json()["code"] == "cart_empty"
    first = _product(api, "bunsik", "가래떡", 2_000, 3)  # sorts before 천연 비누
    page1 = api.anonymous.get("/api/v1/mall/products", params={"limit": 1}).json()
    page2 = api.anonymous.get(
        "/api/v1/mall/products", params={"limit": 1, "cursor": page1["next_cursor"]}
    ).json()
    assert [p["id"] for p in page1["items"]] == [first]
    assert [p["id"] for p in page2["items"]] == [soap] and page2["next_cursor"] is None


def test_a_photo_is_checked_stored_and_served(sqlite_engine: Engine, tmp_path: Any,
                                              monkeypatch: Any) -> None:  # fmt: skip
    monkeypatch.setenv("EUM_MEDIA_DIR", str(tmp_path))
    api = Api(sqlite_engine)
    soap = _product(api, "mart", "천연 비누", 3_000, 1)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    url = f"/api/v1/me/products/{soap}/image"
    assert api.as_("mart").put(url, content=b"<svg/>").status_code == 422
    assert api.as_("mart").put(url, content=png + b"\0" * 1_000_000).status_code in (413, 422)
    assert api.as_("bunsik").put(url, content=png).status_code == 404
    assert api.as_("mart").put(url, content=png).status_code == 204
    shown = api.anonymous.get(f"/api/v1/mall/products/{soap}").json()["image"]
    got = api.anonymous.get(shown)
    assert got.status_code == 200 and got.content == png
    assert got.headers["content-type"] == "image/png"
    assert len(list(tmp_path.iterdir())) == 1  # no temporary file left behind
