"""The demo city's phone-order directory and Benefit Plus services, made through the
services: about thirty food and café shops take phone orders, Gyeyang and Incheon publish
three weeks of free consultations, and shop1 (a Gyeyang Benefit Plus shop) has booked one
and asked for a QR kit."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, select

from eum.auth.store import users
from eum.benefits import service
from eum.clock import KST, kst_day
from eum.merchants.store import merchants
from eum.policy.service import issuer_tree

PHONE_SHOPS = 30
SLOT_DAYS = 21
FOOD = ("restaurant", "snack", "cafe")
MENUS = {
    "restaurant": [
        ("돼지국밥", 9_000),
        ("순대국밥", 9_000),
        ("칼국수", 8_000),
        ("짜장면", 7_000),
        ("짬뽕", 9_000),
        ("탕수육(소)", 18_000),
        ("제육볶음", 10_000),
        ("김치찌개", 9_000),
        ("된장찌개", 9_000),
        ("삼겹살 1인분", 15_000),
    ],
    "snack": [
        ("떡볶이", 4_500),
        ("순대", 4_500),
        ("튀김 모둠", 5_000),
        ("김밥", 3_500),
        ("참치김밥", 4_500),
        ("라볶이", 6_000),
        ("쫄면", 7_000),
        ("어묵", 3_000),
    ],
    "cafe": [
        ("아메리카노", 3_000),
        ("카페라테", 3_800),
        ("바닐라라테", 4_300),
        ("생과일주스", 5_000),
        ("소금빵 3개", 7_500),
        ("식빵", 4_500),
        ("크루아상", 3_500),
        ("조각 케이크", 5_500),
    ],
}
HOURS = (
    "매일 11:00~21:00",
    "평일 10:30~22:00, 주말 11:00~21:00",
    "매일 08:00~20:00, 첫째·셋째 월요일 휴무",
    "월~토 11:00~20:30, 일요일 휴무",
    "매일 16:00~새벽 01:00",
)
# (issuer, weekday 0=Monday, hour, kind, place)
SCHEDULE = (
    ("gyeyang", 1, 14, "tax", "계양구청 본관 3층 소상공인 상담실"),
    ("gyeyang", 2, 10, "labour", "계양구청 본관 3층 소상공인 상담실"),
    ("gyeyang", 3, 15, "legal", "계양구청 본관 3층 소상공인 상담실"),
    ("incheon", 0, 10, "tax", "인천광역시청 애뜰광장 옆 소상공인 종합지원센터"),
    ("incheon", 2, 14, "legal", "인천광역시청 애뜰광장 옆 소상공인 종합지원센터"),
    ("incheon", 4, 11, "labour", "인천광역시청 애뜰광장 옆 소상공인 종합지원센터"),
)
SLOT_MINUTES = 60


def seed_demo(conn: Connection, at: datetime, rng: random.Random) -> None:
    """Phone-order listings, consultation slots, and shop1's booking and QR kit."""
    _phone_listings(conn, at, rng)
    slots = _slots(conn, at)
    _shop1(conn, at, rng, slots)


def _phone(rng: random.Random) -> str:
    return f"032-{rng.randint(420, 589)}-{rng.randint(0, 9999):04d}"


def _menu(category: str, rng: random.Random) -> str:
    picked = rng.sample(MENUS[category], k=rng.randint(3, 5))
    return "\n".join(f"{name} {price:,}원" for name, price in picked)


def _phone_listings(conn: Connection, at: datetime, rng: random.Random) -> None:
    rows = conn.execute(
        select(merchants.c.id, merchants.c.category)
        .where(merchants.c.category.in_(FOOD), merchants.c.status == "approved")
        .order_by(merchants.c.id)
    ).all()
    chosen = sorted(rng.sample(rows, k=min(PHONE_SHOPS, len(rows))), key=lambda r: r.id)
    for row in chosen:
        service.set_phone_listing(
            conn,
            merchant_id=row.id,
            phone=_phone(rng),
            hours=rng.choice(HOURS),
            menu=_menu(row.category, rng),
            at=at,
        )


def _slots(conn: Connection, at: datetime) -> list[service.Slot]:
    """Weekly slots of the issuers of SCHEDULE over the next ``SLOT_DAYS`` days."""
    known = issuer_tree(conn).parent
    first = kst_day(at) + timedelta(days=1)
    out = []
    for offset in range(SLOT_DAYS):
        day = first + timedelta(days=offset)
        for issuer, weekday, hour, kind, place in SCHEDULE:
            if issuer in known and day.weekday() == weekday:
                starts_at = datetime.combine(day, time(hour), KST)
                out.append(
                    service.publish_slot(
                        conn,
                        issuer_id=issuer,
                        kind=kind,
                        starts_at=starts_at,
                        minutes=SLOT_MINUTES,
                        place=place,
                        at=at,
                    )
                )
    return out


def _shop1(conn: Connection, at: datetime, rng: random.Random, slots: list[service.Slot]) -> None:
    """shop1 books the first Gyeyang tax consultation and asks for a QR kit (when it is a
    Benefit Plus shop, as in the full demo city)."""
    row = conn.execute(
        select(merchants)
        .join(users, users.c.merchant_id == merchants.c.id)
        .where(users.c.login == "shop1")
    ).first()
    if row is None or row.tier != "benefit_plus":
        return
    tax = next((s for s in slots if s.issuer_id == "gyeyang" and s.kind == "tax"), None)
    if tax is not None:
        service.book_slot(
            conn, merchant_id=row.id, slot_id=tax.id, note="종합소득세 신고 상담", at=at
        )
    town: Any = row.neighbourhood or "계산동"
    service.request_qr_kit(
        conn,
        merchant_id=row.id,
        address=f"인천광역시 계양구 {town} {rng.randint(10, 999)}-{rng.randint(1, 30)}, 1층",
        at=at,
    )
