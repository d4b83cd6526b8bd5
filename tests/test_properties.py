"""Random event streams through the real services, checked against SPEC section 3.

Each example builds a fresh platform for a small city (three issuers, a Benefit Plus shop,
an inactive shop, a shop outside the region, cards of every kind, budgets small enough to
run out, a capped rule, a shared budget, fee support, a merchant group's promotion, a user
group, a campaign and coupons) and feeds it a random stream of money events with random,
sometimes invalid amounts; some events repeat an earlier key with the same fields (a
replay) or with different ones (a conflict).

Beside the platform runs a small model written from the SPEC: after every event the whole
platform state must equal what the model expects (so a failed event, a replay or a
conflict changes nothing), and at the end the ledger must verify from its postings.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select

from eum.db import metadata
from eum.ledger import service as ledger
from eum.ledger.store import accounts, postings
from eum.payments.store import payment_lines, payments
from eum.policy.store import cap_usage
from eum.stats import rollups
from tests.conftest import Platform, engine_for

KST = timezone(timedelta(hours=9))
BPS = 10_000
PG_FEE_BPS = 300  # the platform default (SPEC 3.8)
WITHDRAW_MIN_USED_BPS = 6_000  # the platform default (SPEC 3.11)

# --- the city --------------------------------------------------------------------------

CITY: dict[str, Any] = {
    "platform": {
        "limits": {
            "personal": {"monthly_charge": 200_000, "max_balance": 150_000},
            "business": {"monthly_charge": 2_000_000, "max_balance": 1_000_000},
        }
    },
    "issuers": [
        {"id": "incheon", "name": "인천e음", "districts": ["gyeyang", "bupyeong", "seo"]},
        {"id": "gyeyang", "name": "계양e음", "parent": "incheon", "districts": ["gyeyang"]},
        {"id": "gimpo", "name": "김포페이", "districts": ["gimpo"]},
    ],
    "merchants": [
        {
            "id": "m-bunsik",
            "name": "계산동 분식",
            "district": "gyeyang",
            "tier": "benefit_plus",
            "discount_bps": 300,
            "card_fee_bps": 60,
            "annual_sales": 300_000_000,
        },
        {
            "id": "m-mart",
            "name": "작전 마트",
            "district": "gyeyang",
            "card_fee_bps": 150,
            "annual_sales": 1_500_000_000,
        },
        {
            "id": "m-cafe",
            "name": "부평 카페",
            "district": "bupyeong",
            "card_fee_bps": 80,
            "annual_sales": 1_000_000_000,
        },
        {"id": "m-closed", "name": "폐업 상점", "district": "gyeyang", "active": False},
        {"id": "m-gimpo", "name": "김포 식당", "district": "gimpo", "card_fee_bps": 100},
    ],
    "merchant_groups": [
        {"id": "market", "name": "계산시장 상인회", "merchants": ["m-bunsik", "m-mart"]}
    ],
    "budgets": [
        {"id": "incheon-cashback", "owner": "incheon", "amount": 3_000},
        {"id": "gyeyang-event", "owner": "gyeyang", "amount": 150},
        {"id": "gyeyang-fee", "owner": "gyeyang", "amount": 150},
        {"id": "market-promo", "owner": "market", "amount": 200},
    ],
    "rules": [
        {
            "id": "incheon-base",
            "kind": "cashback",
            "owner": "incheon",
            "budget": "incheon-cashback",
            "rate_bps": 400,
            "monthly_cap": 10_000,
        },
        {
            "id": "gyeyang-launch",
            "kind": "cashback",
            "owner": "gyeyang",
            "budget": "gyeyang-event",
            "rate_bps": 100,
            "monthly_cap": 5_000,
        },
        {
            "id": "gyeyang-bplus",
            "kind": "cashback",
            "owner": "gyeyang",
            "cards": "incheon",
            "merchant_tiers": ["benefit_plus"],
            "budget": "gyeyang-event",
            "rate_bps": 200,
        },
        {
            "id": "market-promo",
            "kind": "cashback",
            "owner": "incheon",
            "merchant_group": "market",
            "card_kinds": ["personal", "business"],
            "budget": "market-promo",
            "rate_bps": 300,
            "from": "2020-03-30",
            "until": "2020-04-01",
        },
        {
            "id": "b2b",
            "kind": "cashback",
            "owner": "incheon",
            "card_kinds": ["business", "corporate"],
            "rate_bps": 50,
        },
        {
            "id": "gyeyang-fee",
            "kind": "fee_support",
            "owner": "gyeyang",
            "budget": "gyeyang-fee",
            "rate_bps": 50,
            "max_annual_sales": 1_000_000_000,
        },
        {
            "id": "incheon-fee",
            "kind": "fee_support",
            "owner": "incheon",
            "rate_bps": 30,
            "channels": ["card", "online"],
        },
    ],
    "members": [
        {"id": "u-kim", "card": "gyeyang"},
        {"id": "u-lee", "card": "incheon"},
        {"id": "u-park", "card": "gyeyang", "kind": "business"},
        {"id": "u-choi", "card": "incheon", "kind": "corporate"},
        {"id": "u-gim", "card": "gimpo"},
    ],
    "campaigns": [{"id": "nanum", "name": "인천사랑 나눔", "owner": "incheon"}],
    "coupons": [
        {
            "id": "k-bunsik",
            "merchant": "m-bunsik",
            "value": 2_000,
            "min_spend": 5_000,
            "quantity": 2,
            "from": "2020-03-01",
            "until": "2020-03-31",
        },
        {"id": "k-mart", "merchant": "m-mart", "value": 20_000},
    ],
    "groups": [
        {"id": "club", "name": "계양 산악회", "owner": "u-kim", "members": ["u-kim", "u-lee"]}
    ],
}

# The same city as the SPEC reads it, every default resolved by hand (SPEC 3.3, 3.7, 3.8).


@dataclass(frozen=True)
class Shop:
    district: str
    discount_bps: int
    card_fee_bps: int
    annual_sales: int
    tier: str = "general"
    groups: frozenset[str] = frozenset()
    active: bool = True


SHOPS = {
    "m-bunsik": Shop("gyeyang", 300, 60, 300_000_000, "benefit_plus", frozenset({"market"})),
    "m-mart": Shop("gyeyang", 0, 150, 1_500_000_000, groups=frozenset({"market"})),
    "m-cafe": Shop("bupyeong", 0, 80, 1_000_000_000),
    "m-closed": Shop("gyeyang", 0, 0, 0, active=False),
    "m-gimpo": Shop("gimpo", 0, 100, 0),
}
CARDS = {  # member: (card issuer, card kind)
    "u-kim": ("gyeyang", "personal"),
    "u-lee": ("incheon", "personal"),
    "u-park": ("gyeyang", "business"),
    "u-choi": ("incheon", "corporate"),
    "u-gim": ("gimpo", "personal"),
}
INCHEON_REGION = frozenset({"gyeyang", "bupyeong", "seo"})
REGION = {"incheon": INCHEON_REGION, "gyeyang": INCHEON_REGION, "gimpo": frozenset({"gimpo"})}
LIMITS = {  # card kind: (monthly_charge, max_balance); None is no limit
    "personal": (200_000, 150_000),
    "business": (2_000_000, 1_000_000),
    "corporate": (None, None),
}
BUDGETS = {"incheon-cashback": 3_000, "gyeyang-event": 150, "gyeyang-fee": 150, "market-promo": 200}
GROUPS = {"club": ("u-kim", frozenset({"u-kim", "u-lee"}))}
CAMPAIGNS = frozenset({"nanum"})


@dataclass(frozen=True)
class CouponSpec:
    merchant: str
    value: int
    min_spend: int = 0
    quantity: int | None = None
    start: date | None = None
    end: date | None = None

    def valid_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


COUPONS = {
    "k-bunsik": CouponSpec("m-bunsik", 2_000, 5_000, 2, date(2020, 3, 1), date(2020, 3, 31)),
    "k-mart": CouponSpec("m-mart", 20_000),
}


@dataclass(frozen=True)
class RuleSpec:
    id: str
    rate_bps: int
    districts: frozenset[str]
    budget: str | None = None
    cap: int | None = None
    cards: frozenset[str] | None = None  # issuers at or below `cards`; None for fee support
    kinds: frozenset[str] | None = None
    tiers: frozenset[str] | None = None
    max_sales: int | None = None
    channels: frozenset[str] | None = None
    group: str | None = None
    start: date | None = None
    end: date | None = None

    def applies(self, issuer: str, kind: str, shop: Shop, channel: str, day: date) -> bool:
        return (
            (self.cards is None or issuer in self.cards)
            and shop.district in self.districts
            and (self.kinds is None or kind in self.kinds)
            and (self.tiers is None or shop.tier in self.tiers)
            and (self.max_sales is None or shop.annual_sales <= self.max_sales)
            and (self.channels is None or channel in self.channels)
            and (self.group is None or self.group in shop.groups)
            and (self.start is None or self.start <= day)
            and (self.end is None or day <= self.end)
        )


INCHEON_CARDS = frozenset({"incheon", "gyeyang"})
GYEYANG = frozenset({"gyeyang"})
PERSONAL = frozenset({"personal"})
CASHBACK_RULES = (  # in definition order; cashback rules default to personal cards
    RuleSpec(
        "incheon-base",
        400,
        INCHEON_REGION,
        budget="incheon-cashback",
        cap=10_000,
        cards=INCHEON_CARDS,
        kinds=PERSONAL,
    ),
    RuleSpec(
        "gyeyang-launch",
        100,
        GYEYANG,
        budget="gyeyang-event",
        cap=5_000,
        cards=GYEYANG,
        kinds=PERSONAL,
    ),
    RuleSpec(
        "gyeyang-bplus",
        200,
        GYEYANG,
        budget="gyeyang-event",
        cards=INCHEON_CARDS,
        kinds=PERSONAL,
        tiers=frozenset({"benefit_plus"}),
    ),
    RuleSpec(
        "market-promo",
        300,
        INCHEON_REGION,
        budget="market-promo",
        cards=INCHEON_CARDS,
        kinds=frozenset({"personal", "business"}),
        group="market",
        start=date(2020, 3, 30),
        end=date(2020, 4, 1),
    ),
    RuleSpec(
        "b2b", 50, INCHEON_REGION, cards=INCHEON_CARDS, kinds=frozenset({"business", "corporate"})
    ),
)
FEE_SUPPORT_RULES = (  # fee support looks at no card and defaults to card payments
    RuleSpec(
        "gyeyang-fee",
        50,
        GYEYANG,
        budget="gyeyang-fee",
        max_sales=1_000_000_000,
        channels=frozenset({"card"}),
    ),
    RuleSpec("incheon-fee", 30, INCHEON_REGION, channels=frozenset({"card", "online"})),
)

# --- random events ---------------------------------------------------------------------

INVALID_AMOUNTS = (0, -1, 1_000_000_001, 1000.0, "100", True, None)


def amounts(top: int) -> st.SearchStrategy[Any]:
    """Mostly valid amounts up to ``top``, many small ones, sometimes invalid ones (3.1)."""
    kinds = {
        "usual": st.integers(1, top),
        "small": st.integers(1, 300),
        "largest": st.just(1_000_000_000),
        "invalid": st.sampled_from(INVALID_AMOUNTS),
    }
    weights = ["usual"] * 12 + ["small"] * 4 + ["largest"] + ["invalid"] * 2
    return st.sampled_from(weights).flatmap(kinds.__getitem__)


def one_of_mostly(usual: list[str], rare: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(usual * 4 + rare)


OWN_COUPON = {"m-bunsik": "k-bunsik", "m-mart": "k-mart"}


def with_coupon(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A pay's coupon: mostly none, often the merchant's own, sometimes another or none such."""
    own = OWN_COUPON.get(fields["merchant"])
    choices = [None] * 12 + [own] * 3 + ["k-bunsik", "k-mart", "k-ghost"]
    return st.sampled_from(choices).map(
        lambda coupon: fields if coupon is None else {**fields, "coupon": coupon}
    )


MEMBERS = one_of_mostly(["u-kim", "u-lee", "u-park"], ["u-choi", "u-gim", "u-ghost"])
# "richest" is resolved when the event runs: the member with the most money (or cashback),
# so that enough payments, donations and contributions get through.
SPENDERS = st.sampled_from(["richest"] * 8).flatmap(lambda r: st.one_of(st.just(r), MEMBERS))
SHOP_IDS = one_of_mostly(["m-bunsik", "m-mart", "m-cafe"], ["m-closed", "m-gimpo", "m-ghost"])
CHANNELS = st.sampled_from(["card", "card", "qr", "online"])
PICK = st.integers(0, 10_000)

FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "charge": st.fixed_dictionaries({"member": MEMBERS, "amount": amounts(60_000)}),
    "pay": st.fixed_dictionaries(
        {"member": SPENDERS, "merchant": SHOP_IDS, "amount": amounts(40_000)},
        optional={"channel": CHANNELS},
    ).flatmap(with_coupon),
    "refund": st.fixed_dictionaries(
        {
            "payment": PICK,
            "amount": st.one_of(st.sampled_from(["all", "half", "one"]), amounts(20_000)),
        }
    ),
    "withdraw": st.fixed_dictionaries({"member": SPENDERS, "amount": amounts(50_000)}),
    "donate": st.fixed_dictionaries(
        {
            "member": MEMBERS,
            "campaign": one_of_mostly(["nanum"], ["c-ghost"]),
            "amount": amounts(100),
        }
    ),
    "group_donate": st.fixed_dictionaries(
        {
            "group": one_of_mostly(["club"], ["g-ghost"]),
            "by": one_of_mostly(["u-kim"], ["u-lee", "u-ghost"]),
            "campaign": one_of_mostly(["nanum"], ["c-ghost"]),
            "amount": amounts(100),
        }
    ),
    "contribute": st.fixed_dictionaries(
        {"member": SPENDERS, "group": one_of_mostly(["club"], ["g-ghost"]), "amount": amounts(100)}
    ),
    "group_pay": st.fixed_dictionaries(
        {
            "group": one_of_mostly(["club"], ["g-ghost"]),
            "by": one_of_mostly(["u-kim"], ["u-lee", "u-ghost"]),
            "merchant": SHOP_IDS,
            "amount": amounts(300),
        },
        optional={"channel": CHANNELS},
    ),
    "fund": st.fixed_dictionaries(
        {"budget": st.sampled_from([*BUDGETS, "b-ghost"]), "amount": amounts(2_000)}
    ),
    "claim": st.fixed_dictionaries(
        {"member": MEMBERS, "coupon": one_of_mostly(["k-bunsik", "k-mart"], ["k-ghost"])}
    ),
    "settle": st.just({}),
    "replay": st.fixed_dictionaries({"pick": PICK}),
    "conflict": st.fixed_dictionaries({"pick": PICK}),
}
OPS = [
    *["charge"] * 4,
    *["pay"] * 9,
    *["refund"] * 3,
    "withdraw",
    "donate",
    "group_donate",
    *["contribute"] * 2,
    *["group_pay"] * 2,
    "fund",
    *["claim"] * 3,
    "settle",
    *["replay"] * 2,
    "conflict",
]
START = datetime(2020, 3, 28, tzinfo=KST)


@st.composite
def times(draw: st.DrawFn) -> tuple[datetime, str]:
    """A KST time around the end of March, written in KST or, sometimes, in UTC (SPEC 3.2)."""
    kst = START + timedelta(
        days=draw(st.integers(0, 5)),
        hours=draw(st.integers(0, 23)),
        minutes=draw(st.integers(0, 59)),
    )
    if draw(st.integers(0, 3)) == 0:
        return kst, kst.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return kst, kst.strftime("%Y-%m-%dT%H:%M")


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, tuple[datetime, str], dict[str, Any]]:
    op = draw(st.sampled_from(OPS))
    return op, draw(times()), draw(FIELDS[op])


# Streams open with a few charges so that there is money to spend.
OPENING = st.lists(
    st.tuples(
        st.just("charge"),
        times(),
        st.fixed_dictionaries(
            {
                "member": st.sampled_from(["u-kim", "u-lee", "u-park", "u-choi"]),
                "amount": st.integers(5_000, 60_000),
            }
        ),
    ),
    min_size=1,
    max_size=4,
)
STREAMS = st.tuples(OPENING, st.lists(steps(), min_size=10, max_size=40)).map(lambda t: t[0] + t[1])

# --- the model -------------------------------------------------------------------------


def is_amount(value: object) -> bool:
    return type(value) is int and 1 <= value <= 1_000_000_000  # SPEC 3.1


def prorate(x: int, charged: int, remaining: int) -> int:
    return x if charged == 0 else x * remaining // charged  # SPEC 3.9


@dataclass
class Paid:
    """A successful payment as it was made, and how much of it was refunded since."""

    payer: str  # member id, or group id for a group payment
    by_group: bool
    merchant: str
    month: str
    amount: int
    discount: int
    coupon_off: int
    charged: int
    from_cashback: int
    cashback: dict[str, int]
    qualifying: dict[str, int]
    fee: int
    fee_support: dict[str, int]
    refunded: int = 0

    def now(self, x: int, refunded: int | None = None) -> int:
        done = self.refunded if refunded is None else refunded
        return prorate(x, self.charged, self.charged - done)

    def view(self) -> dict[str, Any]:
        """The payment as the platform state shows it (scenario README, Output)."""
        status = "paid" if self.refunded == 0 else "partially_refunded"
        if self.refunded and self.refunded == self.charged:
            status = "refunded"
        return {
            "amount": self.amount,
            "discount": self.discount,
            "coupon_off": self.coupon_off,
            "charged": self.charged,
            "refunded": self.refunded,
            "status": status,
            "from_cashback": self.now(self.from_cashback),
            "cashback": {k: self.now(v) for k, v in self.cashback.items()},
            "fee": self.now(self.fee),
            "fee_support": {k: self.now(v) for k, v in self.fee_support.items()},
        }


class Failed(Exception):
    """The model expects the event to fail with this SPEC error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def require(condition: bool, code: str) -> None:
    if not condition:
        raise Failed(code)


@dataclass
class Model:
    """What SPEC section 3 says the platform holds, beyond what its state shows."""

    paid: dict[str, Paid] = field(default_factory=dict)
    charged_total: Counter[str] = field(default_factory=Counter)
    month_charged: Counter[tuple[str, str]] = field(default_factory=Counter)
    claims: dict[tuple[str, str], bool] = field(default_factory=dict)  # -> used
    claimed: Counter[str] = field(default_factory=Counter)
    withdrawn: int = 0
    issued: int = 0

    def used(self, rule_id: str, member: str, month: str) -> int:
        """What the card qualified under a capped rule in a month, after refunds (3.7, 3.9)."""
        return sum(
            p.now(p.qualifying[rule_id])
            for p in self.paid.values()
            if not p.by_group and p.payer == member and p.month == month and rule_id in p.qualifying
        )

    def spent_net(self, member: str) -> int:
        """Charged amounts of the member's own payments minus their refunds (3.11)."""
        return sum(
            p.charged - p.refunded
            for p in self.paid.values()
            if not p.by_group and p.payer == member
        )


def wallet(state: dict[str, Any], member: str) -> tuple[int, int]:
    w = state["members"][member]
    return w["cashback"], w["charged"]


def set_wallet(state: dict[str, Any], member: str, cashback: int, charged: int) -> None:
    assert cashback >= 0 and charged >= 0, "the model never expects a negative balance"
    state["members"][member] = {"cashback": cashback, "charged": charged}


class Expect:
    """Applies one event to a copy of the state as the SPEC says; raises Failed(code)."""

    def __init__(self, model: Model, state: dict[str, Any], kst: datetime, key: str | None) -> None:
        self.model, self.state, self.kst, self.key = model, state, kst, key
        self.day, self.month = kst.date(), kst.strftime("%Y-%m")

    def charge(self, member: str, amount: object) -> None:
        require(member in CARDS, "unknown_member")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        monthly, max_balance = LIMITS[CARDS[member][1]]
        cashback, charged = wallet(self.state, member)
        month_total = self.model.month_charged[member, self.month] + amount
        require(monthly is None or month_total <= monthly, "monthly_charge_limit")
        require(max_balance is None or cashback + charged + amount <= max_balance, "max_balance")
        set_wallet(self.state, member, cashback, charged + amount)
        self.model.month_charged[member, self.month] += amount
        self.model.charged_total[member] += amount
        self.model.issued += amount

    def withdraw(self, member: str, amount: object) -> None:
        require(member in CARDS, "unknown_member")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        cashback, charged = wallet(self.state, member)
        require(amount <= charged, "insufficient_funds")
        spent = self.model.spent_net(member)
        require(
            spent * BPS >= WITHDRAW_MIN_USED_BPS * self.model.charged_total[member],
            "withdrawal_not_allowed",
        )
        set_wallet(self.state, member, cashback, charged - amount)
        self.model.withdrawn += amount

    def claim(self, member: str, coupon: str) -> None:
        require(member in CARDS, "unknown_member")
        require(coupon in COUPONS, "unknown_coupon")
        spec = COUPONS[coupon]
        require(spec.valid_on(self.day), "coupon_expired")
        require((coupon, member) not in self.model.claims, "coupon_already_claimed")
        require(
            spec.quantity is None or self.model.claimed[coupon] < spec.quantity, "coupon_sold_out"
        )
        self.model.claims[coupon, member] = False
        self.model.claimed[coupon] += 1

    def pay(
        self,
        member: str,
        merchant: str,
        amount: object,
        channel: str = "card",
        coupon: str | None = None,
    ) -> None:
        require(member in CARDS, "unknown_member")
        require(merchant in SHOPS, "unknown_merchant")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        shop = SHOPS[merchant]
        require(shop.active, "merchant_inactive")
        issuer, kind = CARDS[member]
        require(shop.district in REGION[issuer], "merchant_not_in_region")
        discount = amount * shop.discount_bps // BPS  # 0 unless Benefit Plus (3.6.1)
        coupon_value = self.coupon_value(member, merchant, coupon, amount - discount)
        coupon_off = 0 if coupon_value is None else min(coupon_value, amount - discount)
        charged = amount - discount - coupon_off
        cashback, wallet_charged = wallet(self.state, member)
        require(cashback + wallet_charged >= charged, "insufficient_funds")
        from_cashback = min(cashback, charged)  # SPEC 3.4
        earned, qualifying = self.cashback(member, issuer, kind, shop, charged, channel)
        fee, support = self.fee(shop, charged, channel)
        set_wallet(
            self.state,
            member,
            cashback - from_cashback + sum(earned.values()),
            wallet_charged - (charged - from_cashback),
        )
        self.book(
            Paid(
                member,
                False,
                merchant,
                self.month,
                amount,
                discount,
                coupon_off,
                charged,
                from_cashback,
                earned,
                qualifying,
                fee,
                support,
            )
        )
        if coupon is not None:
            self.model.claims[coupon, member] = True

    def coupon_value(
        self, member: str, merchant: str, coupon: str | None, discounted: int
    ) -> int | None:
        if coupon is None:
            return None
        require(coupon in COUPONS, "unknown_coupon")
        spec = COUPONS[coupon]
        require(spec.merchant == merchant, "coupon_wrong_merchant")
        require(self.model.claims.get((coupon, member)) is False, "coupon_not_held")
        require(spec.valid_on(self.day), "coupon_expired")
        require(discounted >= spec.min_spend, "coupon_min_spend")
        return spec.value

    def cashback(
        self, member: str, issuer: str, kind: str, shop: Shop, charged: int, channel: str
    ) -> tuple[dict[str, int], dict[str, int]]:
        """SPEC 3.7: every matching rule in definition order, each with its own cap."""
        earned, qualifying = {}, {}
        for rule in CASHBACK_RULES:
            if not rule.applies(issuer, kind, shop, channel, self.day):
                continue
            q = charged
            if rule.cap is not None:
                q = max(0, min(charged, rule.cap - self.model.used(rule.id, member, self.month)))
            earned[rule.id] = self.draw(rule.budget, q * rule.rate_bps // BPS)
            qualifying[rule.id] = q
        return earned, qualifying

    def fee(self, shop: Shop, charged: int, channel: str) -> tuple[int, dict[str, int]]:
        """SPEC 3.8: the channel's fee, then fee support never above what is unsupported."""
        rate = {"card": shop.card_fee_bps, "qr": 0, "online": PG_FEE_BPS}[channel]
        fee = charged * rate // BPS
        unsupported, support = fee, {}
        for rule in FEE_SUPPORT_RULES:
            if rule.applies("", "", shop, channel, self.day):
                support[rule.id] = self.draw(
                    rule.budget, min(unsupported, charged * rule.rate_bps // BPS)
                )
                unsupported -= support[rule.id]
        return fee, support

    def draw(self, budget: str | None, raw: int) -> int:
        if budget is None:
            return raw
        remaining: int = self.state["budgets"][budget]["remaining"]
        paid = min(raw, remaining)
        self.state["budgets"][budget]["remaining"] = remaining - paid
        return paid

    def book(self, paid: Paid) -> None:
        receivable = self.state["merchants"][paid.merchant]
        receivable["receivable"] += paid.charged - paid.fee + sum(paid.fee_support.values())
        assert self.key is not None
        self.model.paid[self.key] = paid

    def group_pay(
        self, group: str, by: str, merchant: str, amount: object, channel: str = "card"
    ) -> None:
        require(group in GROUPS, "unknown_group")
        require(by in CARDS, "unknown_member")
        require(merchant in SHOPS, "unknown_merchant")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        require(by == GROUPS[group][0], "not_group_owner")
        shop = SHOPS[merchant]
        require(shop.active, "merchant_inactive")
        require(shop.district in REGION[CARDS[by][0]], "merchant_not_in_region")
        discount = amount * shop.discount_bps // BPS
        charged = amount - discount
        pool = self.state["groups"][group]["pool"]
        require(pool >= charged, "insufficient_funds")
        fee, support = self.fee(shop, charged, channel)
        self.state["groups"][group]["pool"] = pool - charged
        self.book(
            Paid(
                group,
                True,
                merchant,
                self.month,
                amount,
                discount,
                0,
                charged,
                0,
                {},
                {},
                fee,
                support,
            )
        )

    def refund(self, payment: str, amount: object) -> None:
        """SPEC 3.9: every derived quantity now counts as floor(X c'/c); differences move back."""
        require(payment in self.model.paid, "unknown_payment")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        p = self.model.paid[payment]
        require(amount <= p.charged - p.refunded, "refund_exceeds_payment")
        after = p.refunded + amount

        def back(x: int) -> int:
            return p.now(x) - p.now(x, after)

        support_back = {k: back(v) for k, v in p.fee_support.items()}
        shop = self.state["merchants"][p.merchant]
        shop["receivable"] -= amount - back(p.fee) + sum(support_back.values())
        returned = {**self.refund_to_payer(p, amount, back), **support_back}
        for rule in (*CASHBACK_RULES, *FEE_SUPPORT_RULES):
            if rule.budget is not None and rule.id in returned:
                self.state["budgets"][rule.budget]["remaining"] += returned[rule.id]
        p.refunded = after

    def refund_to_payer(self, p: Paid, amount: int, back: Any) -> dict[str, int]:
        """The payer gets the refund and returns the cashback difference; returns, per
        cashback rule, what its budget gets back."""
        if p.by_group:
            self.state["groups"][p.payer]["pool"] += amount
            return {}
        cashback, charged = wallet(self.state, p.payer)
        to_cashback = back(p.from_cashback)
        cashback, charged = cashback + to_cashback, charged + amount - to_cashback
        owed = {k: back(v) for k, v in p.cashback.items()}
        # The SPEC returns the difference "from cashback first, then charged" and lets no
        # balance go below zero; where both are short the platform keeps what it cannot take
        # and gives the budgets back only what it took, earlier rules first.
        claw = min(sum(owed.values()), cashback + charged)
        from_cashback = min(claw, cashback)
        set_wallet(self.state, p.payer, cashback - from_cashback, charged - (claw - from_cashback))
        returned, left = {}, claw
        for rule_id, value in owed.items():
            returned[rule_id] = min(value, left)
            left -= returned[rule_id]
        return returned

    def donate(self, member: str, campaign: str, amount: object) -> None:
        require(member in CARDS, "unknown_member")
        require(campaign in CAMPAIGNS, "unknown_campaign")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        cashback, charged = wallet(self.state, member)
        require(cashback >= amount, "insufficient_cashback")  # SPEC 3.13: cashback only
        set_wallet(self.state, member, cashback - amount, charged)
        self.state["campaigns"][campaign]["donated"] += amount

    def group_donate(self, group: str, by: str, campaign: str, amount: object) -> None:
        require(group in GROUPS, "unknown_group")
        require(by in CARDS, "unknown_member")
        require(campaign in CAMPAIGNS, "unknown_campaign")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        require(by == GROUPS[group][0], "not_group_owner")
        pool = self.state["groups"][group]["pool"]
        require(pool >= amount, "insufficient_funds")
        self.state["groups"][group]["pool"] = pool - amount
        self.state["campaigns"][campaign]["donated"] += amount

    def contribute(self, member: str, group: str, amount: object) -> None:
        require(member in CARDS, "unknown_member")
        require(group in GROUPS, "unknown_group")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        require(member in GROUPS[group][1], "not_group_member")
        cashback, charged = wallet(self.state, member)
        require(cashback >= amount, "insufficient_cashback")
        set_wallet(self.state, member, cashback - amount, charged)
        self.state["groups"][group]["pool"] += amount

    def fund(self, budget: str, amount: object) -> None:
        require(budget in BUDGETS, "unknown_budget")
        require(is_amount(amount), "invalid_amount")
        assert isinstance(amount, int)
        self.state["budgets"][budget]["remaining"] += amount

    def settle(self) -> None:
        """SPEC 3.10: positive receivables are paid out, negative ones carried over."""
        for shop in self.state["merchants"].values():
            if shop["receivable"] > 0:
                shop["settled"] += shop["receivable"]
                shop["receivable"] = 0


# --- running a stream ------------------------------------------------------------------


def database_rows(conn: Connection) -> dict[str, list[str]]:
    """Every row of every table but the idempotency store, where a failed event's result
    is kept (SPEC 3.17: a failed operation leaves no trace but its error)."""
    return {
        t.name: sorted(repr(tuple(row)) for row in conn.execute(select(t)))
        for t in metadata.sorted_tables
        if t.name != "idempotency_keys"
    }


def without_replay_flag(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "replayed"}


def mutated(ev: dict[str, Any]) -> dict[str, Any]:
    """The same request with one field different (3.16: a field left out is not the same as
    one written with its default)."""
    if ev["op"] in ("pay", "group_pay") and "channel" not in ev:
        return {**ev, "channel": "card"}
    amount = ev["amount"]
    return {**ev, "amount": amount + 1 if type(amount) is int else 7}


class Stream:
    """Feeds events to a platform and checks each against the model."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.model = Model()
        self.keyed: list[tuple[dict[str, Any], dict[str, Any]]] = []  # first event, first result
        self.pay_keys: list[str] = []
        self.state = platform.state()
        self.rows = platform.read(database_rows)

    def run(self, op: str, when: tuple[datetime, str], fields: dict[str, Any]) -> None:
        kst, at = when
        if op in ("replay", "conflict"):
            if self.keyed:
                self.repeat(op == "conflict", self.keyed[fields["pick"] % len(self.keyed)][0], at)
            return
        ev = self.build(op, fields)
        result = self.platform.event(at=at, **ev)
        self.check(ev, kst, result)
        if "key" in ev:
            self.keyed.append((ev, result))

    def build(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        n = len(self.keyed)
        if op == "settle":
            return {"op": "settle"}
        if op == "claim":
            return {"op": "claim", **fields}
        if op == "group_donate":
            return {"op": "donate", "key": f"k{n}", **fields}
        ev = {"op": op, "key": f"k{n}", **fields}
        if ev.get("member") == "richest":
            ev["member"] = self.richest(cashback_only=op in ("donate", "contribute"))
        if op in ("pay", "group_pay"):
            self.pay_keys.append(ev["key"])
        if op == "refund":
            ev["payment"], ev["amount"] = self.refund_target(fields["payment"], fields["amount"])
        return ev

    def richest(self, *, cashback_only: bool) -> str:
        def money(member: str) -> int:
            cashback, charged = wallet(self.state, member)
            return cashback if cashback_only else cashback + charged

        return max(["u-kim", "u-lee", "u-park"], key=money)

    def refund_target(self, pick: int | str, amount: Any) -> tuple[str, Any]:
        """A payment made before (or failed, or never made) and an amount of what is left."""
        candidates = [*self.model.paid] * 6 + [*self.pay_keys, "p-missing"]
        key = pick if isinstance(pick, str) else candidates[pick % len(candidates)]
        if amount in ("all", "half", "one"):
            p = self.model.paid.get(key)
            left = p.charged - p.refunded if p else 1_000
            amount = {"all": left, "half": left // 2, "one": 1}[amount]
        return key, amount

    def check(self, ev: dict[str, Any], kst: datetime, result: dict[str, Any]) -> None:
        expected = copy.deepcopy(self.state)
        try:
            self.apply(ev, Expect(self.model, expected, kst, ev.get("key")))
        except Failed as failure:
            assert result == {**result, "ok": False, "error": failure.code}, (ev, result)
            self.unchanged(ev)
            return
        assert result["ok"] is True, (ev, result)
        before = self.state
        self.state = self.platform.state()
        self.rows = self.platform.read(database_rows)
        expected["payments"] = {k: p.view() for k, p in self.model.paid.items()}
        assert strip(self.state) == strip(expected), ev
        check_invariants(self.state, self.model)
        if ev["op"] == "refund":
            self.check_refund(ev, before, result)

    def apply(self, ev: dict[str, Any], expect: Expect) -> None:
        fields = {k: v for k, v in ev.items() if k not in ("op", "key")}
        op = ev["op"]
        if op == "donate" and "group" in ev:
            op = "group_donate"
        if op == "refund":
            expect.refund(fields["payment"], fields["amount"])
        else:
            getattr(expect, op)(**fields)

    def check_refund(
        self, ev: dict[str, Any], before: dict[str, Any], result: dict[str, Any]
    ) -> None:
        """A refund never creates money: the payer ends with at most what it had plus the
        refund, and the payment's refunded total grows by exactly the refund."""
        p = self.model.paid[ev["payment"]]
        if p.by_group:
            held_before = before["groups"][p.payer]["pool"]
            held_after = self.state["groups"][p.payer]["pool"]
        else:
            held_before = sum(wallet(before, p.payer))
            held_after = sum(wallet(self.state, p.payer))
        assert held_after <= held_before + ev["amount"]
        assert held_after >= held_before + ev["amount"] - result["cashback_returned"]
        assert result["refunded"] == p.refunded == self.state["payments"][ev["payment"]]["refunded"]

    def repeat(self, conflict: bool, first: dict[str, Any], at: str) -> None:
        """The same key again, at another time: the first result and no change (3.16), or
        ``idempotency_conflict`` with no change either."""
        original = next(result for ev, result in self.keyed if ev is first)
        ev = mutated(first) if conflict else first
        result = self.platform.event(at=at, **ev)
        if conflict:
            assert without_replay_flag(result) == {"ok": False, "error": "idempotency_conflict"}
        else:
            assert result["replayed"] is True
            assert without_replay_flag(result) == without_replay_flag(original)
        self.unchanged(ev)

    def unchanged(self, ev: dict[str, Any]) -> None:
        assert self.platform.state() == self.state, ev
        assert self.platform.read(database_rows) == self.rows, ev

    def finish(self) -> None:
        check_invariants(self.state, self.model)
        self.platform.read(lambda conn: check_books(conn, self.model))


def strip(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("totals", "ledger", "results")}


def check_invariants(state: dict[str, Any], model: Model) -> None:
    """What must hold after any event, whatever the stream."""
    assert state["ledger"] == {"balanced": True}
    for w in state["members"].values():
        assert w["cashback"] >= 0 and w["charged"] >= 0
    assert all(g["pool"] >= 0 for g in state["groups"].values())
    assert all(b["remaining"] >= 0 for b in state["budgets"].values())
    for view in state["payments"].values():
        assert 0 <= view["refunded"] <= view["charged"]
        assert view["charged"] == view["amount"] - view["discount"] - view["coupon_off"]
        assert all(v >= 0 for v in view["cashback"].values())
        assert 0 <= sum(view["fee_support"].values()) <= view["fee"]
        assert 0 <= view["from_cashback"] <= view["charged"] - view["refunded"]
    payments_now = state["payments"].values()
    assert state["totals"] == {
        "members": len(CARDS),
        "issued": model.issued,
        "withdrawn": model.withdrawn,
        "paid": sum(v["charged"] - v["refunded"] for v in payments_now),
        "cashback": sum(sum(v["cashback"].values()) for v in payments_now),
        "fee": sum(v["fee"] for v in payments_now),
        "fee_support": sum(sum(v["fee_support"].values()) for v in payments_now),
        "donated": sum(c["donated"] for c in state["campaigns"].values()),
        "settled": sum(m["settled"] for m in state["merchants"].values()),
    }
    for shop, m in state["merchants"].items():
        earned = sum(
            p.charged - p.refunded - p.now(p.fee) + sum(p.now(v) for v in p.fee_support.values())
            for p in model.paid.values()
            if p.merchant == shop
        )
        assert m["receivable"] + m["settled"] == earned, shop


def check_books(conn: Connection, model: Model) -> None:
    """The ledger verifies from its postings, and every cap counter equals what the card's
    payments of that month still qualify after refunds."""
    verification = ledger.verify(conn)
    assert verification.ok, verification.mismatches
    assert verification.postings_total_krw == 0
    total = conn.execute(select(func.coalesce(func.sum(postings.c.amount), 0))).scalar_one()
    assert total == 0
    sums = dict(
        conn.execute(
            select(postings.c.account_id, func.sum(postings.c.amount)).group_by(
                postings.c.account_id
            )
        ).all()
    )
    for account_id, balance in conn.execute(select(accounts.c.id, accounts.c.balance)):
        assert balance == int(sums.get(account_id) or 0)
    caps = {r.id: r.cap for r in CASHBACK_RULES if r.cap is not None}
    counted = set()
    for row in conn.execute(select(cap_usage).where(cap_usage.c.rule_id.in_(caps))):
        assert 0 <= row.used <= caps[row.rule_id]
        assert row.used == model.used(row.rule_id, row.member_id, row.month)
        counted.add((row.rule_id, row.member_id, row.month))
    for paid in model.paid.values():
        for rule_id in paid.qualifying.keys() & caps.keys():
            if (rule_id, paid.payer, paid.month) not in counted:
                assert model.used(rule_id, paid.payer, paid.month) == 0
    uncapped = conn.execute(select(cap_usage).where(cap_usage.c.rule_id.not_in(caps))).all()
    assert uncapped == []  # see test_a_refund_keeps_no_cap_counter_for_an_uncapped_rule
    months = dict(conn.execute(select(payments.c.ref, payments.c.month)).all())
    assert months == {key: p.month for key, p in model.paid.items()}  # KST months (3.2)
    lines = conn.execute(select(func.count()).select_from(payment_lines)).scalar_one()
    assert lines == sum(len(p.cashback) + len(p.fee_support) for p in model.paid.values())
    # the dashboard counters, kept event by event, equal a recount from the rows
    assert rollups.stored(conn) == rollups.recount(conn)


def run_stream(
    backend: str, stream: list[tuple[str, tuple[datetime, str], dict[str, Any]]]
) -> None:
    with engine_for(backend) as eng:
        runner = Stream(Platform(eng).setup(CITY))
        for op, when, fields in stream:
            runner.run(op, when, fields)
        runner.finish()


# --- the tests -------------------------------------------------------------------------


def at(text: str) -> tuple[datetime, str]:
    """An event time as the streams carry it: the KST time and the text the event gets."""
    kst = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (kst if kst.tzinfo else kst.replace(tzinfo=KST)).astimezone(KST), text


# A stream that surely reaches what random ones reach only now and then: a shared budget
# drawn in definition order and running out, a monthly cap used up and given back by a
# refund to the month of its payment, a payment just after midnight KST written in UTC,
# a merchant-group promotion, a coupon, B2B cashback, a pooled group payment and its
# refund, settlement then a refund (a negative receivable), an allowed withdrawal, a
# replay and a conflict. Keys are k0, k1, ... in the order of keyed events.
WALK = [
    ("charge", at("2020-03-28T09:00"), {"member": "u-kim", "amount": 40_000}),  # k0
    ("charge", at("2020-03-28T09:00"), {"member": "u-park", "amount": 100_000}),  # k1
    ("claim", at("2020-03-28T09:30"), {"member": "u-kim", "coupon": "k-bunsik"}),
    (
        "pay",
        at("2020-03-28T10:00"),
        {"member": "u-kim", "merchant": "m-bunsik", "amount": 20_000, "coupon": "k-bunsik"},
    ),  # k2
    (
        "pay",
        at("2020-03-31T20:30:00Z"),
        {"member": "u-kim", "merchant": "m-mart", "amount": 12_000},
    ),  # k3
    (
        "pay",
        at("2020-03-31T23:00"),
        {"member": "u-kim", "merchant": "m-cafe", "amount": 3_000},
    ),  # k4
    ("refund", at("2020-04-02T10:00"), {"payment": "k2", "amount": "half"}),  # k5
    (
        "pay",
        at("2020-03-31T23:30"),
        {"member": "u-kim", "merchant": "m-cafe", "amount": 4_000, "channel": "online"},
    ),  # k6
    (
        "pay",
        at("2020-03-30T11:00"),
        {"member": "u-park", "merchant": "m-mart", "amount": 30_000, "channel": "qr"},
    ),  # k7
    (
        "contribute",
        at("2020-04-01T12:00"),
        {"member": "u-kim", "group": "club", "amount": 50},
    ),  # k8
    (
        "group_pay",
        at("2020-04-01T12:10"),
        {"group": "club", "by": "u-kim", "merchant": "m-bunsik", "amount": 40},
    ),  # k9
    ("settle", at("2020-04-01T23:00"), {}),
    ("refund", at("2020-04-02T09:00"), {"payment": "k9", "amount": "all"}),  # k10
    ("refund", at("2020-04-02T09:10"), {"payment": "k3", "amount": "one"}),  # k11
    ("withdraw", at("2020-04-02T10:00"), {"member": "u-kim", "amount": 1_000}),  # k12
    (
        "donate",
        at("2020-04-02T10:10"),
        {"member": "u-kim", "campaign": "nanum", "amount": 1},
    ),  # k13
    (
        "group_donate",
        at("2020-04-02T10:20"),
        {"group": "club", "by": "u-kim", "campaign": "nanum", "amount": 10},
    ),  # k14
    ("replay", at("2020-04-02T11:00"), {"pick": 2}),
    ("conflict", at("2020-04-02T11:00"), {"pick": 3}),
    ("replay", at("2020-04-02T11:00"), {"pick": 3}),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STREAMS)
@example(WALK)
def test_random_event_streams_keep_the_books_and_follow_the_money_rules(
    stream: list[tuple[str, tuple[datetime, str], dict[str, Any]]],
) -> None:
    run_stream("sqlite", stream)


@pytest.mark.postgres
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STREAMS)
def test_random_event_streams_keep_the_books_on_postgresql(
    stream: list[tuple[str, tuple[datetime, str], dict[str, Any]]],
) -> None:
    run_stream("postgres", stream)


# --- what the streams found ------------------------------------------------------------


def test_a_refund_keeps_no_cap_counter_for_an_uncapped_rule(sqlite_platform: Platform) -> None:
    """Found by the streams: refunds used to give qualifying volume back to rules without a
    cap, leaving their counters below zero."""
    city = sqlite_platform.setup(CITY)
    city.event("charge", key="c1", member="u-kim", amount=10_000)
    # 1,000 at the Benefit Plus shop: 30 off, 970 charged; gyeyang-bplus has no cap.
    paid = city.event("pay", key="p1", member="u-kim", merchant="m-bunsik", amount=1_000)
    refund = city.event("refund", key="r1", payment="p1", amount=970)
    assert paid["charged"] == 970 and refund["status"] == "refunded"

    rows = city.read(lambda conn: conn.execute(select(cap_usage)).all())
    counters = {(r.rule_id, r.member_id, r.month): r.used for r in rows}
    # SPEC 3.7/3.9: only capped rules count what a card qualified; a full refund gives it all back.
    assert counters == {
        ("incheon-base", "u-kim", "2020-03"): 0,
        ("gyeyang-launch", "u-kim", "2020-03"): 0,
    }
