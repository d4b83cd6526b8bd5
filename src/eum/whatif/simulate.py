"""A synthetic city run through the engine: ``eum simulate`` (issue "Budget foresight",
part 3).

``generate`` makes up a city's behaviour for a number of members and days, deterministic
for a seed, in the shape of what ``eum.whatif.replay.record`` reads from a live database
(a ``Recorded``: the set-up, the events in time order, each member's top-up), so that
``replay`` books it through the payment engine in a sandbox and ``report`` reports it
like a replay, with nothing real to compare with. A rule set can thus be tried on a city
of realistic size before it has any history.

How the city behaves (the figures are plausible, not measured; they are named below):
- Members live in a district drawn by the districts' population weights. 70% of them
  hold their district's brand card (계양e음 in Gyeyang), the others the metro card
  (인천e음); a district without a brand of its own gets the metro card. Card kinds:
  personal 93%, business 6%, corporate 1%.
- Merchants (members // 50, at least 20) are spread over the districts by the same
  weights and over the categories of ``eum.web.names`` by how common such shops are; 15%
  are Benefit Plus (discount 1-7%). Annual sales are drawn around a median per category,
  and the card fee follows the sales tier (Korea's preferential card fees).
- Payments: about 0.3 per member and day. Each day's expectation is higher at weekends
  and on a payday (the 10th and the 25th) and the two days after; its count is drawn
  with a Poisson's spread (a normal draw: the counts are large) and shared among the
  members in proportion to how active each is (gamma-distributed, business and
  corporate cards more so), which makes each member's daily count about Poisson. A
  payment is in the member's home district 80% of the time (else in a district drawn
  by weight), at a category drawn by its share of payments among those the district
  has shops of; its hour follows the category's day (restaurants, snack bars and cafés
  peak at lunch and dinner, shops are busy through the day and early evening), its
  amount is log-normal around the category's typical ticket (the demo's ranges;
  business x3, corporate x6), rounded to 100원, and its channel (card, QR, online)
  depends on the category.
- Each member's wallet is topped up before the period with what its payments charge
  (the list price less a Benefit Plus discount), so no payment fails for want of money.
- 1.5% of payments are refunded 1 to 72 hours later, half in full and half in part;
  refunds after the period's end are left out, as ``record`` leaves them out.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select

from eum import demo
from eum.clock import KST
from eum.db import is_sqlite
from eum.merchants.store import merchants as merchants_table
from eum.money.rules import apply_bps
from eum.policy import service as policy
from eum.scenario import ScenarioError, fresh_engine
from eum.stats import foresight
from eum.web import names
from eum.whatif import report
from eum.whatif.replay import (
    Draft,
    Period,
    Progress,
    Recorded,
    _budget_owner,
    _issuers,
    draft_from_doc,
    live_rules,
    replay,
)

# Named limits on what the command line asks for (the events are held in memory:
# about 0.5 kB each, 0.3 payments per member-day).
MAX_MEMBERS = 1_000_000
MAX_DAYS = 366
MAX_MEMBER_DAYS = 12_000_000  # about 3.6 million payments
MAX_MERCHANTS = 200_000

PAYMENTS_PER_MEMBER_DAY = 0.3
BRAND_CARD_SHARE = 0.7  # members holding their home district's brand card
HOME_SHARE = 0.8  # payments in the member's home district
KINDS = ("personal", "business", "corporate")
KIND_WEIGHTS = (93, 6, 1)
KIND_ACTIVITY = {"personal": 1.0, "business": 1.5, "corporate": 2.0}  # payments, x personal
KIND_TICKET = {"personal": 1, "business": 3, "corporate": 6}  # ticket size, x personal
ACTIVITY_SHAPE = 2.0  # gamma shape of how active members are (mean 1)
BENEFIT_PLUS_SHARE = 0.15
REFUND_SHARE = 0.015
REFUND_DELAY_HOURS = (1, 72)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.05, 1.15, 1.35, 1.2)  # Monday .. Sunday
PAYDAYS = (10, 25)
PAYDAY_BOOST = (1.3, 1.2, 1.1)  # on a payday, the day after and the day after that
MAX_TICKET_KRW = 5_000_000
MERCHANTS_PER_MEMBERS = 50
MIN_MERCHANTS = 20
GROUP_SHARE = 0.05  # of merchants in a merchant group a rule names
HOURS = range(24)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS = ("card", "qr", "online")
# Payments per KST hour: meals peak at lunch and dinner (the shape of
# bench/scale_bench.py's HOUR_WEIGHTS), shops are busy through the day.
MEAL_HOURS = (1, 1, 0, 0, 0, 1, 2, 4, 6, 6, 7, 10, 14, 10, 7, 6, 6, 8, 12, 13, 10, 6, 3, 2)
SHOP_HOURS = (0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 9, 10, 11, 10, 8, 5, 2, 1)
# Card fee by annual sales (Korea's preferential card fees): up to the sales, the bps.
FEE_TIERS = ((300_000_000, 80), (500_000_000, 130), (1_000_000_000, 140), (3_000_000_000, 160))
FEE_ABOVE_BPS = 200
SALES_SPREAD = 0.6  # log-normal sigma of annual sales around the category's median


@dataclass(frozen=True)
class Kind:
    """How a category of merchants behaves: its share of merchants and of payments,
    its median annual sales, its channels (card, QR, online) and its hours."""

    merchants: float
    payments: float
    sales_krw: int
    channels: tuple[int, int, int]
    hours: tuple[int, ...]


CATEGORY_KINDS: dict[str, Kind] = {
    "restaurant": Kind(28, 26, 350_000_000, (70, 27, 3), MEAL_HOURS),
    "snack": Kind(10, 12, 150_000_000, (60, 38, 2), MEAL_HOURS),
    "cafe": Kind(14, 18, 180_000_000, (62, 36, 2), MEAL_HOURS),
    "mart": Kind(12, 20, 1_200_000_000, (75, 15, 10), SHOP_HOURS),
    "butcher": Kind(6, 6, 500_000_000, (78, 20, 2), SHOP_HOURS),
    "pharmacy": Kind(6, 6, 600_000_000, (85, 15, 0), SHOP_HOURS),
    "beauty": Kind(7, 3, 200_000_000, (80, 18, 2), SHOP_HOURS),
    "books": Kind(4, 2, 250_000_000, (65, 15, 20), SHOP_HOURS),
    "hardware": Kind(4, 1.5, 400_000_000, (75, 10, 15), SHOP_HOURS),
    "academy": Kind(5, 1.5, 400_000_000, (60, 10, 30), SHOP_HOURS),
    "flowers": Kind(2, 1, 150_000_000, (65, 20, 15), SHOP_HOURS),
    "laundry": Kind(2, 3, 120_000_000, (70, 30, 0), SHOP_HOURS),
}
assert set(CATEGORY_KINDS) == set(names.CATEGORIES) == set(demo.CATEGORY)


# --- the city ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    """What a simulation starts from: the platform settings, the issuers (a tree, in the
    set-up format), each district's population weight, and the rule set with the
    budgets it draws on."""

    platform: dict[str, Any]
    issuers: list[dict[str, Any]]
    weights: dict[str, float]
    draft: Draft

    @property
    def districts(self) -> list[str]:
        return list(self.weights)


def demo_city() -> City:
    """The Incheon demo's issuers, rules and budgets (``eum.demo.city_policy``), its
    districts weighted as the demo weighs them."""
    doc = demo.city_policy()
    platform = {k: v for k, v in doc["platform"].items() if k != "limits"}  # limits off
    return City(
        platform,
        doc["issuers"],
        {d: float(w) for d, w in demo.WEIGHTS.items()},
        Draft("incheon-demo", doc["rules"], doc["budgets"]),
    )


def live_city(conn: Connection, first: date) -> City:
    """A live database's issuers and live rules, with the budgets those rules draw on as
    they held on ``first`` (as the replay starts them). A district weighs as many live
    merchants as it has (one at least): members have no district on record."""
    issuers = _issuers(conn)
    districts = sorted({d for i in issuers for d in i["districts"]})
    shops: dict[str, int] = dict(
        conn.execute(
            select(merchants_table.c.district, func.count()).group_by(merchants_table.c.district)
        ).all()
    )
    rules = draft_from_doc(live_rules(conn), "live").rules
    drawn = sorted({str(r["budget"]) for r in rules if r.get("budget")})
    held = foresight.held_at(conn, drawn, first)
    budgets = [
        {"id": b, "owner": _budget_owner(conn, b), "amount": max(0, held[b])}
        for b in drawn
        if b in held
    ]
    platform = policy.platform(conn)
    return City(
        {
            "pg_fee_bps": platform.pg_fee_bps,
            "withdraw_min_used_bps": platform.withdraw_min_used_bps,
        },
        issuers,
        {d: float(max(1, int(shops.get(d) or 0))) for d in districts},
        Draft("live", rules, budgets),
    )


def with_draft(city: City, draft: Draft) -> City:
    """The city under a draft: its rules, its budgets, and the city's budgets its rules
    draw on that it does not list. A rule whose owner or budget the city does not know
    is refused here, before anything is generated."""
    issuer_ids = {i["id"] for i in city.issuers}
    listed = {b["id"] for b in draft.budgets}
    known = {b["id"]: b for b in city.draft.budgets}
    budgets = list(draft.budgets)
    for i, rule in enumerate(draft.rules):
        if rule["owner"] not in issuer_ids:
            raise ScenarioError(f"rules[{i}].owner: no issuer {rule['owner']!r} in the city")
        b = rule.get("budget")
        if b and b not in listed:
            if b not in known:
                raise ScenarioError(f"rules[{i}].budget: no budget {b!r} in the draft or the city")
            budgets.append(known[b])
            listed.add(b)
    return City(city.platform, city.issuers, city.weights, Draft(draft.name, draft.rules, budgets))


def _cards(issuers: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """District -> (its brand, the metro card): the deepest issuer owning the district,
    and that issuer's root."""
    parent = {i["id"]: i.get("parent") for i in issuers}

    def depth(i: str) -> int:
        return 0 if parent[i] is None else depth(str(parent[i])) + 1

    def root(i: str) -> str:
        return i if parent[i] is None else root(str(parent[i]))

    out: dict[str, tuple[str, str]] = {}
    for i in sorted(parent, key=lambda i: (depth(i), i)):  # deeper issuers win
        for d in next(x for x in issuers if x["id"] == i)["districts"]:
            out[d] = (i, root(i))
    return out


# --- generating ---------------------------------------------------------------------------------


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _fee_bps(sales_krw: int) -> int:
    return next((bps for top, bps in FEE_TIERS if sales_krw <= top), FEE_ABOVE_BPS)


def _members(rng: random.Random, city: City, n: int) -> list[dict[str, Any]]:
    cards = _cards(city.issuers)
    districts = city.districts
    cum = _cumulative([city.weights[d] for d in districts])
    homes = rng.choices(districts, cum_weights=cum, k=n)
    kinds = rng.choices(KINDS, weights=KIND_WEIGHTS, k=n)
    width = len(str(n))
    out = []
    for i, (home, kind) in enumerate(zip(homes, kinds, strict=True)):
        brand, metro = cards[home]
        entry = {
            "id": f"u-{i + 1:0{width}d}",
            "card": brand if rng.random() < BRAND_CARD_SHARE else metro,
            "kind": kind,
            "home": home,
            "activity": rng.gammavariate(ACTIVITY_SHAPE, 1 / ACTIVITY_SHAPE) * KIND_ACTIVITY[kind],
        }
        out.append(entry)
    return out


def _merchants(rng: random.Random, city: City, n: int) -> list[dict[str, Any]]:
    districts = city.districts
    cats = list(CATEGORY_KINDS)
    homes = rng.choices(districts, weights=[city.weights[d] for d in districts], k=n)
    kinds = rng.choices(cats, weights=[CATEGORY_KINDS[c].merchants for c in cats], k=n)
    width = len(str(n))
    out = []
    for i, (district, cat) in enumerate(zip(homes, kinds, strict=True)):
        sales = CATEGORY_KINDS[cat].sales_krw * rng.lognormvariate(0, SALES_SPREAD)
        sales_krw = max(1, round(sales / 1_000_000)) * 1_000_000
        m: dict[str, Any] = {
            "id": f"m-{i + 1:0{width}d}",
            "name": f"{names.district(district)} {names.category(cat)} {i + 1}호점",
            "district": district,
            "category": cat,
            "annual_sales": sales_krw,
            "card_fee_bps": _fee_bps(sales_krw),
        }
        if rng.random() < BENEFIT_PLUS_SHARE:
            m["tier"], m["discount_bps"] = "benefit_plus", rng.randint(1, 7) * 100
        out.append(m)
    return out


def _groups(
    rng: random.Random, rules: Sequence[Mapping[str, Any]], shops: Sequence[str]
) -> list[dict[str, Any]]:
    """The merchant groups the rules name, each holding a few of the made-up merchants."""
    wanted = sorted({str(r["merchant_group"]) for r in rules if r.get("merchant_group")})
    k = max(1, round(len(shops) * GROUP_SHARE))
    return [{"id": g, "name": g, "merchants": sorted(rng.sample(shops, k=k))} for g in wanted]


def day_weights(first: date, days: int) -> list[float]:
    """Each day's relative number of payments: its weekday's weight, boosted on a payday
    and the two days after."""
    out = []
    for k in range(days):
        day = first + timedelta(days=k)
        since = min(
            (day.day - p for p in PAYDAYS if 0 <= day.day - p < len(PAYDAY_BOOST)), default=None
        )
        boost = PAYDAY_BOOST[since] if since is not None else 1.0
        out.append(WEEKDAY_WEIGHTS[day.weekday()] * boost)
    return out


@dataclass(frozen=True)
class _Shape:
    """A category's draws, precomputed: hours and channels (cumulative weights) and the
    log-normal parameters of its ticket."""

    hours: list[float]
    channels: list[float]
    mu: float
    sigma: float


def _shapes() -> dict[str, _Shape]:
    out = {}
    for code, kind in CATEGORY_KINDS.items():
        low, high = demo.CATEGORY[code].ticket  # typical range: median its geometric mean
        out[code] = _Shape(
            _cumulative(kind.hours),
            _cumulative(kind.channels),
            math.log(math.sqrt(low * high)),
            math.log(high / low) / 4,  # the range is about +-2 sigma
        )
    return out


def generate(
    city: City,
    members: int,
    days: int,
    seed: int,
    first: date,
    merchants: int | None = None,
    progress: Progress | None = None,
) -> Recorded:
    """A city's members, merchants and payments over ``days`` from ``first``, as a
    replay's record (deterministic for ``seed``)."""
    if not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"members must be 1..{MAX_MEMBERS:,}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS}")
    if members * days > MAX_MEMBER_DAYS:
        raise ValueError(f"members x days must be at most {MAX_MEMBER_DAYS:,}")
    shops_n = (
        merchants if merchants is not None else max(MIN_MERCHANTS, members // MERCHANTS_PER_MEMBERS)
    )
    if not 1 <= shops_n <= MAX_MERCHANTS:
        raise ValueError(f"merchants must be 1..{MAX_MERCHANTS:,}")
    say = progress or (lambda _m: None)
    rng = random.Random(seed)
    people = _members(rng, city, members)
    shops = _merchants(rng, city, shops_n)
    period = Period(first, first + timedelta(days=days - 1))
    events, top_ups, paid, refunded = _payments(rng, city, people, shops, period, say)
    setup = {
        "platform": dict(city.platform),
        "issuers": city.issuers,
        "merchants": shops,
        "merchant_groups": _groups(rng, city.draft.rules, [m["id"] for m in shops]),
        "budgets": city.draft.budgets,
        "rules": city.draft.rules,
        "members": [{"id": p["id"], "card": p["card"], "kind": p["kind"]} for p in people],
    }
    homes = {p["id"]: p["home"] for p in people}
    return Simulated(period, setup, events, top_ups, {}, {}, paid, refunded, homes)


Event = tuple[datetime, int, str, dict[str, Any]]


@dataclass
class Simulated(Recorded):
    """A generated record, with what the set-up format has no place for: each member's
    home district."""

    homes: dict[str, str] = field(default_factory=dict)


Place = tuple[list[str], list[float], dict[str, list[int]]]


def _places(city: City, shops: Sequence[Mapping[str, Any]]) -> dict[str, Place]:
    """Per district with shops: its categories, their cumulative payment weights and
    their shops (indexes). A payment picks among the categories its district has, so
    that a small city's payments stay as local as a large one's."""
    held: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for j, m in enumerate(shops):
        held[m["district"]][m["category"]].append(j)
    out: dict[str, Place] = {}
    for d in city.districts:
        if d in held:
            cats = [c for c in CATEGORY_KINDS if c in held[d]]
            weights = _cumulative([CATEGORY_KINDS[c].payments for c in cats])
            out[d] = (cats, weights, dict(held[d]))
    return out


def _payments(
    rng: random.Random,
    city: City,
    people: list[dict[str, Any]],
    shops: list[dict[str, Any]],
    period: Period,
    say: Progress,
) -> tuple[list[Event], dict[str, int], int, int]:
    """Every day's payments in time order, with the refunds due that day merged in."""
    shapes = _shapes()
    places = _places(city, shops)
    districts = list(places)  # where some shop is
    district_cum = _cumulative([city.weights[d] for d in districts])
    activity_cum = _cumulative([p["activity"] for p in people])
    member_ids = [p["id"] for p in people]
    homes = [p["home"] for p in people]
    scales = [KIND_TICKET[p["kind"]] for p in people]
    shop_ids = [m["id"] for m in shops]
    discounts = [int(m.get("discount_bps") or 0) for m in shops]
    weights = day_weights(period.first, len(period.days()))
    mean_weight = sum(weights) / len(weights)
    random_, choices = rng.random, rng.choices
    events: list[Event] = []
    top_ups: dict[str, int] = defaultdict(int)
    due: list[tuple[datetime, int, str, int]] = []  # refunds: (at, n, payment key, won)
    end = period.end
    paid = refunded = 0
    last_said = time.perf_counter()
    everyone = range(len(people))
    for k, weight in enumerate(weights):
        day = period.first + timedelta(days=k)
        start = datetime(day.year, day.month, day.day, tzinfo=KST)
        expected = PAYMENTS_PER_MEMBER_DAY * len(people) * weight / mean_weight
        count = max(0, round(rng.gauss(expected, math.sqrt(expected))))
        todays = []
        for i in choices(everyone, cum_weights=activity_cum, k=count):
            home = homes[i]
            if home not in places or random_() >= HOME_SHARE:
                home = choices(districts, cum_weights=district_cum)[0]
            cats, cat_cum, pools = places[home]
            cat = choices(cats, cum_weights=cat_cum)[0]
            pool = pools[cat]
            shop = pool[int(random_() * len(pool))]
            shape = shapes[cat]
            second = choices(HOURS, cum_weights=shape.hours)[0] * 3600 + int(random_() * 3600)
            ticket = rng.lognormvariate(shape.mu, shape.sigma) * scales[i]
            amount = min(MAX_TICKET_KRW, max(1, round(ticket / 100)) * 100)
            channel = choices(CHANNELS, cum_weights=shape.channels)[0]
            todays.append((second, i, shop, amount, channel))
        todays.sort()
        pays: list[tuple[datetime, str, dict[str, Any]]] = []
        for second, i, shop, amount, channel in todays:
            paid += 1
            key = f"p{paid}"
            at = start + timedelta(seconds=second)
            member = member_ids[i]
            pays.append(
                (
                    at,
                    "pay",
                    {
                        "key": key,
                        "member": member,
                        "merchant": shop_ids[shop],
                        "amount": amount,
                        "channel": channel,
                    },
                )
            )
            charged = amount - apply_bps(amount, discounts[shop])  # SPEC 3.6.1 floor
            top_ups[member] += charged
            if random_() < REFUND_SHARE:
                back = rng.randint(REFUND_DELAY_HOURS[0] * 3600, REFUND_DELAY_HOURS[1] * 3600)
                when = at + timedelta(seconds=back)
                part = charged // 2 // 100 * 100
                won = charged if random_() < 0.5 or part < 100 else part
                if when < end:
                    heapq.heappush(due, (when, paid, key, won))
        tomorrow = start + timedelta(days=1)
        backs = []
        while due and due[0][0] < tomorrow:
            when, _n, key, won = heapq.heappop(due)
            backs.append((when, "refund", {"payment": key, "amount": won}))
        refunded += len(backs)
        for at, op, fields in heapq.merge(pays, backs, key=lambda e: e[0]):
            events.append((at, len(events) + 1, op, fields))
        if time.perf_counter() - last_said >= 2.0:
            last_said = time.perf_counter()
            say(f"  generated to {day.isoformat()}: {paid:,} payments")
    return events, dict(top_ups), paid, refunded


# --- what the city looks like ------------------------------------------------------------------


def summary(recorded: Recorded) -> dict[str, Any]:
    """The city's shape, for the user to check: members by card kind, district and card,
    merchants by district, category and tier, payments by weekday, hour, day, category
    and channel."""
    setup = recorded.setup
    homes = recorded.homes if isinstance(recorded, Simulated) else {}
    people = setup["members"]
    shops = setup["merchants"]
    category = {m["id"]: m["category"] for m in shops}
    by_weekday: Counter[str] = Counter()
    by_hour = [0] * 24
    by_day: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    won = 0
    for at, _order, op, f in recorded.events:
        if op != "pay":
            continue
        by_weekday[WEEKDAYS[at.weekday()]] += 1
        by_hour[at.hour] += 1
        by_day[at.date().isoformat()] += 1
        by_category[category[f["merchant"]]] += 1
        by_channel[f["channel"]] += 1
        won += f["amount"]
    days_of = Counter(WEEKDAYS[date.fromisoformat(d).weekday()] for d in recorded.period.days())
    count = recorded.payments
    member_days = len(people) * len(recorded.period.days())
    return {
        "members": {
            "total": len(people),
            "by_kind": _counted(p["kind"] for p in people),
            "by_district": _counted(homes.get(p["id"], "-") for p in people),
            "by_card": _counted(p["card"] for p in people),
        },
        "merchants": {
            "total": len(shops),
            "by_district": _counted(m["district"] for m in shops),
            "by_category": _counted(m["category"] for m in shops),
            "benefit_plus": sum(1 for m in shops if m.get("tier") == "benefit_plus"),
        },
        "payments": {
            "total": count,
            "refunds": recorded.refunds,
            "amount": won,
            "per_member_day": round(count / member_days, 3) if member_days else 0.0,
            "average_ticket": won // count if count else 0,
            "by_weekday": {w: by_weekday[w] for w in WEEKDAYS},
            "per_weekday_day": {
                w: round(by_weekday[w] / days_of[w]) if days_of[w] else 0 for w in WEEKDAYS
            },
            "by_hour": by_hour,
            "by_day": {d: by_day[d] for d in recorded.period.days()},
            "by_category": _counted(by_category.elements()),
            "by_channel": _counted(by_channel.elements()),
        },
    }


def _counted(items: Any) -> dict[str, int]:
    """Counts, the largest first."""
    return dict(sorted(Counter(items).items(), key=lambda kv: (-kv[1], kv[0])))


def summary_text(city: Mapping[str, Any]) -> str:
    """The city's shape in a few lines (Korean first)."""
    m, s, p = city["members"], city["merchants"], city["payments"]
    kinds = ", ".join(f"{names.CARD_KINDS.get(k, k)} {n:,}" for k, n in m["by_kind"].items())
    homes = ", ".join(f"{names.district(d)} {n:,}" for d, n in m["by_district"].items())
    week = " ".join(f"{w} {n:,}" for w, n in p["per_weekday_day"].items())
    peak = max(p["by_hour"]) or 1
    bars = "".join(" ▁▂▃▄▅▆▇█"[round(8 * n / peak)] for n in p["by_hour"])
    return "\n".join(
        [
            f"가상 도시: 회원 {m['total']:,}명 ({kinds})",
            f"  거주 구: {homes}",
            f"  가맹점 {s['total']:,}곳 (혜택플러스 {s['benefit_plus']:,}곳)",
            f"  결제 {p['total']:,}건 {p['amount']:,}원 (회원·일당 {p['per_member_day']}건, "
            f"평균 {p['average_ticket']:,}원), 환불 {p['refunds']:,}건",
            f"  요일별 하루 평균: {week}",
            f"  시간대 (0-23시): {bars}",
        ]
    )


# --- the run -----------------------------------------------------------------------------------


@contextmanager
def sandbox(url: str | None) -> Iterator[Engine]:
    """A fresh sandbox database (``eum.scenario.fresh_engine``) whose commits need not
    reach the disk: it is thrown away after the report. ``eum.db.make_engine`` has no
    switch for this (live engines keep durable commits), so the sandbox's connections
    get one more connect hook, run after the engine's own."""
    with fresh_engine(url) as engine:
        sqlite = is_sqlite(engine)

        @event.listens_for(engine, "connect")
        def _not_durable(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF" if sqlite else "SET synchronous_commit TO off")
            cur.close()
            if not sqlite:
                dbapi_conn.commit()  # a SET in a rolled-back transaction would be undone

        engine.dispose()  # the connections opened by the migration had no such hook
        yield engine


def _announce_setup(engine: Engine, say: Progress, recorded: Recorded) -> None:
    """Say when the replay's set-up and top-up transactions commit (its first two)."""
    began = time.perf_counter()
    people, shops = len(recorded.setup["members"]), len(recorded.setup["merchants"])
    steps = [
        f"  set up {people:,} members and {shops:,} merchants",
        f"  topped up {len(recorded.top_ups):,} wallets",
    ]

    def on_commit(_conn: Connection) -> None:
        nonlocal began
        if steps:
            say(f"{steps.pop(0)} in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()

    event.listen(engine, "commit", on_commit)


def simulate(
    city: City,
    *,
    members: int,
    days: int,
    seed: int,
    first: date,
    merchants: int | None = None,
    sandbox_url: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Generate a city, replay it in a fresh sandbox (a temporary SQLite file unless
    ``sandbox_url`` names another) and report: the replay's report without a live side,
    plus the city's shape (``city``) and where the time went."""
    say: Callable[[str], Any] = progress or (lambda _m: None)
    began = time.perf_counter()
    say(f"generating {members:,} members over {days} days from {first} (seed {seed})")
    recorded = generate(city, members, days, seed, first, merchants, say)
    generated = time.perf_counter()
    say(
        f"  {recorded.payments:,} payments and {recorded.refunds:,} refunds at "
        f"{len(recorded.setup['merchants']):,} merchants in {generated - began:.1f} s"
    )
    with sandbox(sandbox_url) as engine:
        say("setting up the sandbox")
        _announce_setup(engine, say, recorded)
        replayed = replay(recorded, engine, say)
        replayed_at = time.perf_counter()
        with engine.connect() as conn:
            out = report.build(None, conn, recorded, replayed, city.draft.rules, city.draft.name)
    done = time.perf_counter()
    out["city"] = {
        "seed": seed,
        **summary(recorded),
        "seconds": {
            "generate": round(generated - began, 1),
            "replay": round(replayed_at - generated, 1),
            "report": round(done - replayed_at, 1),
            "total": round(done - began, 1),
        },
    }
    say(
        f"simulated {recorded.payments:,} payments of {members:,} members over {days} days "
        f"in {done - began:.1f} s (generation {generated - began:.1f} s, sandbox "
        f"{replayed_at - generated:.1f} s, report {done - replayed_at:.1f} s)"
    )
    return out
