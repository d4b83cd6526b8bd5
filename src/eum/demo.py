"""The Incheon demo city: 인천e음, its ten districts and their brands, the seed
articles' rules, a few hundred merchants, a few thousand members and a month of
activity with lunch and dinner peaks — all through the same services as the API.

Deterministic for a seed and an end date: the same inputs build the same city.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

from eum.clock import KST, now
from eum.db import run_in_transaction
from eum.scenario import apply_setup, run_event
from eum.wallets.store import members

SCOPE = "demo"
# Demo logins share one password, printed by `eum demo load` and the README: demo only.
DEMO_PASSWORD = "eum-demo-2020"
BATCH = 400  # events per transaction while loading
# The base cashback steps down from 4% to 3% this many days after the demo's last day, so
# citizens see the change announced in advance (/shops, /wallet) on a fresh demo.
STEP_DOWN_AFTER_DAYS = 14

# district code -> (Korean name, brand, neighbourhoods)
DISTRICTS: dict[str, tuple[str, str, list[str]]] = {
    "jung": ("중구", "중구e음", ["신포동", "동인천동", "연안동", "운서동", "영종동"]),
    "dong": ("동구", "동구e음", ["송림동", "화수동", "만석동", "송현동"]),
    "michuhol": ("미추홀구", "미추홀e음", ["주안동", "숭의동", "용현동", "학익동", "도화동"]),
    "yeonsu": ("연수구", "연수e음", ["송도동", "연수동", "옥련동", "동춘동", "청학동"]),
    "namdong": ("남동구", "남동e음", ["구월동", "간석동", "만수동", "논현동", "서창동"]),
    "bupyeong": ("부평구", "부평e음", ["부평동", "산곡동", "청천동", "삼산동", "부개동"]),
    "gyeyang": ("계양구", "계양e음", ["계산동", "작전동", "효성동", "임학동", "병방동"]),
    "seo": ("서구", "서로e음", ["검암동", "청라동", "가정동", "석남동", "연희동"]),
    "ganghwa": ("강화군", "강화e음", ["강화읍", "길상면", "화도면"]),
    "ongjin": ("옹진군", "옹진e음", ["영흥면", "백령면", "덕적면"]),
}
# weight of each district's population (members and merchants)
WEIGHTS = {
    "jung": 6,
    "dong": 3,
    "michuhol": 14,
    "yeonsu": 13,
    "namdong": 18,
    "bupyeong": 17,
    "gyeyang": 10,
    "seo": 19,
    "ganghwa": 2,
    "ongjin": 1,
}


@dataclass(frozen=True)
class Category:
    code: str
    words: tuple[str, ...]
    ticket: tuple[int, int]  # typical payment range, won
    lunch: bool  # busy at lunch and dinner


CATEGORIES = [
    Category(
        "restaurant",
        ("한식당", "국밥", "칼국수", "고깃집", "중국집", "횟집"),
        (8_000, 60_000),
        True,
    ),
    Category("snack", ("분식", "김밥", "떡볶이"), (4_000, 15_000), True),
    Category("cafe", ("카페", "커피", "베이커리"), (3_000, 15_000), True),
    Category("mart", ("마트", "슈퍼", "농산물"), (10_000, 120_000), False),
    Category("butcher", ("정육점", "반찬가게"), (15_000, 80_000), False),
    Category("pharmacy", ("약국",), (3_000, 30_000), False),
    Category("beauty", ("미용실", "네일샵"), (15_000, 80_000), False),
    Category("books", ("서점", "문구"), (5_000, 40_000), False),
    Category("hardware", ("철물점", "인테리어"), (5_000, 200_000), False),
    Category("academy", ("학원", "독서실"), (100_000, 300_000), False),
    Category("flowers", ("꽃집",), (20_000, 60_000), False),
    Category("laundry", ("세탁소",), (5_000, 30_000), False),
]
CATEGORY = {c.code: c for c in CATEGORIES}
SURNAMES = "김이박최정강조윤장임한오서신권황안송류전홍"
GIVEN = [
    "민준",
    "서연",
    "도윤",
    "지우",
    "하준",
    "서윤",
    "시우",
    "지민",
    "주원",
    "하은",
    "지호",
    "수아",
    "예준",
    "지아",
    "유준",
    "채원",
    "현우",
    "다은",
    "건우",
    "은서",
]


def setup_document(
    rng: random.Random, merchants_n: int, members_n: int, today: date | None = None
) -> dict[str, Any]:
    """The city's issuers, budgets, rules, merchants, members, campaigns and groups; given
    the demo's ``today``, the base cashback carries a step-down announced in advance."""
    city = city_policy(today)
    merchants = _merchants(rng, merchants_n)
    people = _members(rng, members_n)
    personal = [m["id"] for m in people if m.get("kind", "personal") == "personal"]
    groups = []
    for g in range(max(2, members_n // 150)):
        crew = rng.sample(personal, k=min(len(personal), rng.randint(4, 12)))
        groups.append(
            {
                "id": f"group-{g + 1:03d}",
                "name": f"{rng.choice(['등산', '독서', '봉사', '축구', '요리'])} 모임 {g + 1}",
                "owner": crew[0],
                "members": crew,
            }
        )
    return {
        **city,
        "merchants": merchants,
        "members": people,
        "campaigns": [
            {"id": "nanum", "name": "인천사랑 나눔 캠페인", "owner": "incheon"},
            {"id": "gyeyang-kimchi", "name": "계양 사랑의 김장 나눔", "owner": "gyeyang"},
        ],
        "groups": groups,
    }


def city_policy(today: date | None = None) -> dict[str, Any]:
    """The city without its people: platform settings, issuers (인천e음 and a brand per
    district), budgets and rules, in the set-up format (``eum simulate`` starts from it);
    given the demo's ``today``, the base cashback carries a step-down announced in
    advance."""
    issuers = [{"id": "incheon", "name": "인천e음", "districts": list(DISTRICTS)}]
    issuers += [
        {"id": code, "name": brand, "parent": "incheon", "districts": [code]}
        for code, (_, brand, _) in DISTRICTS.items()
    ]
    base_steps = (
        []
        if today is None
        else [{"from": today + timedelta(days=STEP_DOWN_AFTER_DAYS), "rate_bps": 300}]
    )
    return {
        "platform": {
            "pg_fee_bps": 300,
            "withdraw_min_used_bps": 6000,
            "limits": {
                "personal": {"monthly_charge": 1_000_000, "max_balance": 2_000_000},
                "business": {"monthly_charge": 50_000_000, "max_balance": 100_000_000},
                "corporate": {"monthly_charge": 500_000_000, "max_balance": 1_000_000_000},
            },
        },
        "issuers": issuers,
        "budgets": [
            {
                "id": "incheon-cashback",
                "name": "인천e음 기본 캐시백",
                "owner": "incheon",
                "amount": 5_000_000_000,
            },
            {
                "id": "gyeyang-launch",
                "name": "계양e음 출시 기념 1%",
                "owner": "gyeyang",
                "amount": 1_500_000,
            },
            {
                "id": "gyeyang-bplus",
                "name": "계양 혜택플러스 2%",
                "owner": "gyeyang",
                "amount": 20_000_000,
            },
            {
                "id": "gyeyang-fee",
                "name": "계양 소상공인 수수료 지원",
                "owner": "gyeyang",
                "amount": 3_000_000,
            },
        ],
        "rules": [
            {
                "id": "incheon-base",
                "name": "인천e음 기본 캐시백",
                "kind": "cashback",
                "owner": "incheon",
                "budget": "incheon-cashback",
                "rate_bps": 400,
                "monthly_cap": 300_000,
                **({"steps": base_steps} if base_steps else {}),
            },
            {
                "id": "gyeyang-launch",
                "name": "계양e음 출시 이벤트 +1%",
                "kind": "cashback",
                "owner": "gyeyang",
                "budget": "gyeyang-launch",
                "rate_bps": 100,
                "monthly_cap": 300_000,
            },
            {
                "id": "gyeyang-bplus",
                "name": "계양 혜택플러스 가맹점 +2%",
                "kind": "cashback",
                "owner": "gyeyang",
                "cards": "incheon",
                "merchant_tiers": ["benefit_plus"],
                "budget": "gyeyang-bplus",
                "rate_bps": 200,
            },
            {
                "id": "gyeyang-fee",
                "name": "계양 카드수수료 0.5% 지원",
                "kind": "fee_support",
                "owner": "gyeyang",
                "budget": "gyeyang-fee",
                "rate_bps": 50,
                "max_annual_sales": 1_000_000_000,
            },
        ],
    }


def _weighted_district(rng: random.Random) -> str:
    return rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]


def _merchants(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        district = _weighted_district(rng)
        category = rng.choice(CATEGORIES)
        town = rng.choice(DISTRICTS[district][2])
        sales = rng.choice([80, 150, 300, 500, 800, 1_200, 3_000]) * 1_000_000
        m: dict[str, Any] = {
            "id": f"m-{i + 1:04d}",
            "name": f"{town} {rng.choice(category.words)} {i + 1}호점",
            "district": district,
            "category": category.code,
            "annual_sales": sales,
            "card_fee_bps": 80 if sales <= 300_000_000 else 130 if sales <= 1_000_000_000 else 200,
        }
        if rng.random() < 0.2:
            m["tier"], m["discount_bps"] = "benefit_plus", rng.randint(1, 7) * 100
        out.append(m)
    return out


def _members(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        home = _weighted_district(rng)
        kind = rng.choices(["personal", "business", "corporate"], weights=[92, 6, 2])[0]
        card = home if rng.random() < 0.55 else "incheon"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        entry: dict[str, Any] = {"id": f"u-{i + 1:05d}", "card": card, "name": name}
        if kind != "personal":
            entry["kind"] = kind
        out.append(entry)
    return out


def activity(
    rng: random.Random, setup: dict[str, Any], start: date, days: int
) -> list[dict[str, Any]]:
    """A month of events in time order: charges, payments with lunch and dinner peaks,
    refunds, weekly settlements, donations and group pooling."""
    merchants = setup["merchants"]
    by_district: dict[str, list[dict[str, Any]]] = {}
    for m in merchants:
        by_district.setdefault(m["district"], []).append(m)
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    seq = 0

    def add(at: datetime, ev: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        events.append((at, seq, {"at": at.isoformat(), **ev}))

    def moment(day: date, peaks: bool) -> datetime:
        if peaks and rng.random() < 0.65:
            hour = rng.choice([11, 12, 12, 12, 13, 18, 18, 19, 19, 20])
        else:
            hour = rng.randint(8, 21)
        return datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), KST)

    member_home = {
        m["id"]: (m["card"] if m["card"] != "incheon" else _weighted_district(rng))
        for m in setup["members"]
    }
    pay_keys: list[tuple[datetime, str, int]] = []
    for member in setup["members"]:
        kind = member.get("kind", "personal")
        scale = {"personal": 1, "business": 20, "corporate": 100}[kind]
        # Spending is planned against a running balance so that the month mostly succeeds,
        # with a top-up charge when the wallet runs low, as people really do.
        balance, charge_no = 0, 0
        first = datetime.combine(start, time(rng.randint(7, 10), rng.randint(0, 59)), KST)
        trips = sorted(
            start + timedelta(days=rng.randint(1, days - 1)) for _ in range(rng.randint(3, 12))
        )
        for n, day in enumerate(trips):
            home = member_home[member["id"]]
            pool = by_district[home] if rng.random() < 0.7 and home in by_district else merchants
            shop = rng.choice(pool)
            category = CATEGORY[shop["category"]]
            at = moment(day, category.lunch)
            low, high = category.ticket
            amount = rng.randint(low // 100, high // 100) * 100 * scale
            if amount > balance:
                charge_no += 1
                top_up = max(amount, rng.choice([100_000, 200_000, 300_000]) * scale)
                when = first if charge_no == 1 else at - timedelta(minutes=rng.randint(5, 600))
                add(
                    when,
                    {
                        "op": "charge",
                        "key": f"demo-c-{member['id']}-{charge_no}",
                        "member": member["id"],
                        "amount": top_up,
                    },
                )
                balance += top_up
            key = f"demo-p-{member['id']}-{n}"
            ev: dict[str, Any] = {
                "op": "pay",
                "key": key,
                "member": member["id"],
                "merchant": shop["id"],
                "amount": amount,
                "channel": "qr" if rng.random() < 0.3 else "card",
            }
            if kind != "personal":
                ev["invoice"] = f"INV-{day:%Y%m%d}-{seq:05d}"
            add(at, ev)
            balance -= amount
            pay_keys.append((at, key, amount))
    for at, key, amount in rng.sample(pay_keys, k=len(pay_keys) // 40):
        later = at + timedelta(hours=rng.randint(1, 72))
        part = amount if rng.random() < 0.5 else max(100, amount // 2 // 100 * 100)
        add(later, {"op": "refund", "key": f"demo-r-{key}", "payment": key, "amount": part})
    for d in range(days):
        day = start + timedelta(days=d)
        if day.weekday() == 0:
            add(datetime.combine(day, time(2, 0), KST), {"op": "settle"})
    end = datetime.combine(start + timedelta(days=days - 1), time(21, 0), KST)
    for member in rng.sample(setup["members"], k=len(setup["members"]) // 20):
        add(
            end - timedelta(hours=rng.randint(0, 48)),
            {
                "op": "donate",
                "key": f"demo-d-{member['id']}",
                "member": member["id"],
                "campaign": rng.choice(["nanum", "gyeyang-kimchi"]),
                "amount": rng.choice([500, 1_000, 2_000]),
            },
        )
    for group in setup["groups"]:
        for who in group["members"]:
            add(
                end - timedelta(hours=rng.randint(50, 70)),
                {
                    "op": "contribute",
                    "key": f"demo-g-{group['id']}-{who}",
                    "member": who,
                    "group": group["id"],
                    "amount": rng.choice([300, 500, 1_000]),
                },
            )
        add(
            end,
            {
                "op": "donate",
                "key": f"demo-gd-{group['id']}",
                "group": group["id"],
                "by": group["owner"],
                "campaign": "nanum",
                "amount": 1_000,
            },
        )
    events.sort(key=lambda t: (t[0], t[1]))
    return [ev for _, _, ev in events]


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(members)).scalar_one()) == 0


def _batches(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load(
    engine: Engine,
    *,
    seed: int = 2020,
    until: date | None = None,
    merchants_n: int = 300,
    members_n: int = 2_000,
    days: int = 30,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Build the demo city in an empty, migrated database; returns what it did."""
    from eum.clock import parse_time

    rng = random.Random(seed)
    until = until or now().date()
    start = until - timedelta(days=days - 1)
    setup = setup_document(rng, merchants_n, members_n, today=until)
    run_in_transaction(engine, apply_setup, setup)
    progress(
        f"set up {len(setup['issuers'])} issuers, {merchants_n} merchants, {members_n} members"
    )
    logins = run_in_transaction(engine, demo_logins, setup)
    events = activity(rng, setup, start, days)
    outcome: dict[str, int] = {}

    def run_batch(conn: Any, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [run_event(conn, ev, parse_time(ev["at"]), scope=SCOPE) for ev in batch]

    done = 0
    for batch in _batches(events, BATCH):
        for ev, result in zip(batch, run_in_transaction(engine, run_batch, batch), strict=True):
            label = ev["op"] if result["ok"] else f"{ev['op']}:{result['error']}"
            outcome[label] = outcome.get(label, 0) + 1
        done += len(batch)
        progress(f"events {done:,}/{len(events):,}")
    extras = run_in_transaction(engine, _extras, setup, random.Random(seed + 1), until)
    progress(f"mall and merchant services: {extras}")
    return {
        "seed": seed,
        "extras": extras,
        "from": start.isoformat(),
        "until": until.isoformat(),
        "events": len(events),
        "outcome": dict(sorted(outcome.items())),
        "logins": logins,
        "password": DEMO_PASSWORD,
    }


def _extras(conn: Any, setup: dict[str, Any], rng: random.Random, until: date) -> dict[str, Any]:
    """Neighbourhoods of the shops (the 동 their name starts with), the mall's products and
    citizen1's orders, phone-order listings and Benefit Plus services, promoters' work."""
    from eum.benefits import demo as benefits_demo
    from eum.mall import demo as mall_demo
    from eum.merchants.store import merchants as merchant_table
    from eum.promoters import demo as promoters_demo

    at = datetime.combine(until, time(12), KST)
    for m in setup["merchants"]:
        conn.execute(
            update(merchant_table)
            .where(merchant_table.c.id == m["id"])
            .values(neighbourhood=m["name"].split(" ", 1)[0])
        )
    buyer = next(m for m in setup["members"] if m["card"] == "gyeyang" and "kind" not in m)
    out: dict[str, Any] = {"mall": mall_demo.seed_demo(conn, setup, rng, at, buyer["id"])}
    benefits_demo.seed_demo(conn, at, rng)
    promoters_demo.seed_demo(conn, at, rng)
    return out


def demo_logins(conn: Any, setup: dict[str, Any]) -> dict[str, str]:
    """A handful of accounts to try the platform with: the operator, an admin per issuer,
    a Gyeyang promoter, two Gyeyang shops (one Benefit Plus) and three citizens."""
    from eum.auth.service import create_staff
    from eum.clock import now

    at = now()
    made: dict[str, str] = {}

    def add(login: str, what: str, **spec: Any) -> None:
        create_staff(conn, login=login, password=DEMO_PASSWORD, at=at, **spec)
        made[login] = what

    add("operator", "platform operator", role="operator")
    for issuer in setup["issuers"]:
        add(
            f"admin-{issuer['id']}",
            f"{issuer['name']} admin",
            role="issuer_admin",
            issuer_id=issuer["id"],
        )
    add("promoter-gyeyang", "Gyeyang field promoter", role="promoter", issuer_id="gyeyang")
    gyeyang = [m for m in setup["merchants"] if m["district"] == "gyeyang"]
    shops = [
        next((m for m in gyeyang if m.get("tier") == "benefit_plus"), gyeyang[0]),
        next(m for m in gyeyang if m.get("tier") != "benefit_plus"),
    ]
    for n, shop in enumerate(shops, start=1):
        add(
            f"shop{n}",
            f"merchant {shop['id']} {shop['name']}",
            role="merchant",
            merchant_id=shop["id"],
        )
    citizens = [
        next(m for m in setup["members"] if m["card"] == "gyeyang" and "kind" not in m),
        next(m for m in setup["members"] if m["card"] == "incheon" and "kind" not in m),
        next(m for m in setup["members"] if m.get("kind") == "business"),
    ]
    for n, person in enumerate(citizens, start=1):
        kind = person.get("kind", "personal")
        add(
            f"citizen{n}",
            f"member {person['id']} ({person['card']} card, {kind})",
            role="member",
            member_id=person["id"],
        )
    return made
