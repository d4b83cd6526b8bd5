"""Korean names of codes the platform stores (districts, categories, card kinds, tiers,
channels), for pages; a code without a name shows as itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from eum.policy.store import issuers

DISTRICTS = {
    "jung": "중구",
    "dong": "동구",
    "michuhol": "미추홀구",
    "yeonsu": "연수구",
    "namdong": "남동구",
    "bupyeong": "부평구",
    "gyeyang": "계양구",
    "seo": "서구",
    "ganghwa": "강화군",
    "ongjin": "옹진군",
}
CATEGORIES = {
    "restaurant": "음식점",
    "snack": "분식",
    "cafe": "카페·제과",
    "mart": "마트·식료품",
    "butcher": "정육·반찬",
    "pharmacy": "약국",
    "beauty": "미용",
    "books": "서점·문구",
    "hardware": "철물·인테리어",
    "academy": "학원",
    "flowers": "꽃집",
    "laundry": "세탁",
}
CARD_KINDS = {"personal": "개인", "business": "사업자", "corporate": "법인"}
TIERS = {"general": "일반", "benefit_plus": "혜택플러스"}
CHANNELS = {"card": "카드", "qr": "QR", "online": "온라인"}
ENGLISH = {
    "중구": "Jung-gu",
    "동구": "Dong-gu",
    "미추홀구": "Michuhol-gu",
    "연수구": "Yeonsu-gu",
    "남동구": "Namdong-gu",
    "부평구": "Bupyeong-gu",
    "계양구": "Gyeyang-gu",
    "서구": "Seo-gu",
    "강화군": "Ganghwa-gun",
    "옹진군": "Ongjin-gun",
    "음식점": "Restaurants",
    "분식": "Snacks",
    "카페·제과": "Cafés & bakeries",
    "마트·식료품": "Groceries",
    "정육·반찬": "Butchers & deli",
    "약국": "Pharmacies",
    "미용": "Beauty",
    "서점·문구": "Books & stationery",
    "철물·인테리어": "Hardware",
    "학원": "Academies",
    "꽃집": "Florists",
    "세탁": "Laundry",
    "일반": "General",
    "사업자": "Business",
    "법인": "Corporate",
    "카드": "Card",
    "온라인": "Online",
}


def district(code: str | None) -> str:
    return DISTRICTS.get(code or "", code or "")


def category(code: str | None) -> str:
    return CATEGORIES.get(code or "", code or "")


def brands(conn: Connection) -> list[dict[str, Any]]:
    """Card brands a citizen can choose: every issuer, the city first."""
    rows = list(conn.execute(select(issuers.c.id, issuers.c.name, issuers.c.parent_id)))
    rows.sort(key=lambda r: (r.parent_id is not None, r.id))
    return [{"id": r.id, "name": r.name or r.id} for r in rows]


def districts_known(conn: Connection) -> list[str]:
    """Every district some issuer covers, in the order of ``DISTRICTS`` first."""
    from eum.policy import service as policy

    tree = policy.catalog(conn).issuers
    found: set[str] = set()
    for issuer_id in tree.parent:
        found |= set(tree.covers(issuer_id))
    order = list(DISTRICTS)
    return sorted(found, key=lambda d: (order.index(d) if d in order else len(order), d))


def _register() -> None:
    from eum.web import i18n

    i18n.register(ENGLISH)


_register()
