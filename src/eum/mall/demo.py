"""The demo city's mall: products at demo shops and a citizen's orders in every state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from eum import errors
from eum.mall import service as mall
from eum.wallets import service as wallets

# By merchant category: (product, price range in won).
CATALOG: dict[str, list[tuple[str, tuple[int, int]]]] = {
    "restaurant": [("국밥 밀키트 2인분", (9_000, 16_000)), ("갈비찜 세트", (25_000, 45_000))],
    "snack": [("떡볶이 밀키트", (6_000, 12_000)), ("수제 김밥 3줄", (9_000, 13_500))],
    "cafe": [("원두 200g", (12_000, 22_000)), ("드립백 10개", (9_000, 15_000))],
    "mart": [("강화 쌀 10kg", (29_000, 39_000)), ("제철 과일 상자", (20_000, 45_000))],
    "butcher": [("한우 불고기 500g", (18_000, 32_000)), ("반찬 4종 세트", (12_000, 20_000))],
    "books": [("인천 골목 여행 책", (14_000, 19_000)), ("캘린더", (8_000, 15_000))],
    "flowers": [("계절 꽃다발", (25_000, 50_000)), ("다육 화분", (8_000, 18_000))],
    "pharmacy": [("비타민 C 60정", (9_000, 18_000)), ("보건용 마스크 50매", (12_000, 25_000))],
    "beauty": [("두피 샴푸 500ml", (15_000, 28_000))],
}


def _price(rng: random.Random, low: int, high: int) -> int:
    return rng.randrange(low, high + 1, 500)


def seed_demo(
    conn: Connection, setup: dict[str, Any], rng: random.Random, at: datetime, buyer: str
) -> dict[str, int]:
    """Products at up to 60 shops, and ``buyer``'s orders: delivered, shipped, paid and
    one cancelled (money and cashback back)."""
    # Gyeyang's shops first (the demo's shop logins are there), then the rest of the city
    listed = [m for m in setup["merchants"] if m.get("category") in CATALOG]
    shops = sorted(listed, key=lambda m: m["district"] != "gyeyang")[:60]
    made: list[str] = []
    for shop in shops:
        for name, (low, high) in CATALOG[shop["category"]]:
            product = mall.create_product(
                conn,
                merchant_id=shop["id"],
                name=name,
                price_krw=_price(rng, low, high),
                stock=rng.randint(3, 40),
                description=f"{shop['name']}에서 직접 준비한 {name}입니다. 인천e몰 주문 상품.",
                category=shop["category"],
                at=at - timedelta(days=rng.randint(3, 20)),
            )
            made.append(str(product["id"]))
    wallets.charge(conn, member_id=buyer, amount_krw=200_000, at=at - timedelta(days=3))
    orders = []
    for n, product_id in enumerate(rng.sample(made, 4)):
        mall.set_cart_line(conn, member_id=buyer, product_id=product_id, quantity=1, at=at)
        try:
            done = mall.checkout(
                conn, member_id=buyer, at=at - timedelta(days=3 - n),
                ship_to="인천광역시 계양구 계산동 123, 101호",
            )  # fmt: skip
        except errors.EumError:
            mall.clear_cart(conn, member_id=buyer)
            continue
        orders.append(done["orders"][0])
    for order, steps in zip(
        orders, (("ship", "deliver"), ("ship",), (), ("cancel",)), strict=False
    ):
        for step in steps:
            if step == "ship":
                mall.ship(conn, merchant_id=order["merchant"], order_id=order["order"],
                          tracking="CJ대한통운 6543-2100", at=at - timedelta(days=1))  # fmt: skip
            elif step == "deliver":
                mall.deliver(conn, order_id=order["order"], member_id=buyer, at=at)
            else:
                mall.cancel(conn, order_id=order["order"], member_id=buyer, at=at)
    return {"products": len(made), "orders": len(orders)}
