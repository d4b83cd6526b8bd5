"""Domain types the money rules work on: a sale's context, a rule, a computed line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Channel = Literal["card", "qr", "online"]
CardKind = Literal["personal", "business", "corporate"]
RuleKind = Literal["cashback", "fee_support"]
Tier = Literal["general", "benefit_plus"]

CHANNELS: tuple[Channel, ...] = ("card", "qr", "online")
CARD_KINDS: tuple[CardKind, ...] = ("personal", "business", "corporate")
RULE_KINDS: tuple[RuleKind, ...] = ("cashback", "fee_support")
TIERS: tuple[Tier, ...] = ("general", "benefit_plus")

MIN_AMOUNT_KRW = 1
MAX_AMOUNT_KRW = 1_000_000_000  # SPEC 3.1
BPS = 10_000
MIN_DISCOUNT_BPS = 100  # Benefit Plus pre-discount, SPEC 3.6
MAX_DISCOUNT_BPS = 700
MAX_RATE_BPS = BPS  # a single rule never pays more than what it is applied to
MAX_RULE_STEPS = 24  # scheduled rate changes of one rule (two years of monthly steps)


@dataclass(frozen=True, slots=True)
class Sale:
    """What a rule looks at when it decides whether it matches a payment (SPEC 3.7)."""

    card_issuer: str
    card_kind: CardKind
    merchant_district: str
    merchant_tier: Tier
    merchant_annual_sales_krw: int
    merchant_groups: frozenset[str]
    channel: Channel
    day: date  # the KST date of the payment's own time


@dataclass(frozen=True, slots=True)
class Rule:
    """A cashback or fee-support rule with its conditions resolved.

    ``card_issuers`` is the set of issuers at or below the rule's ``cards`` issuer;
    ``None`` in a condition means "no condition". ``steps`` are rate changes announced
    in advance, ``(first KST day, rate_bps)`` in strictly ascending day order (the
    policy service checks the order, so nothing here sorts per payment).
    """

    id: str
    kind: RuleKind
    owner_id: str
    budget_id: str | None
    rate_bps: int
    monthly_cap_krw: int | None
    card_issuers: frozenset[str] | None
    districts: frozenset[str]
    card_kinds: frozenset[str] | None
    merchant_tiers: frozenset[str] | None
    max_annual_sales_krw: int | None
    channels: frozenset[str] | None
    merchant_group: str | None
    valid_from: date | None
    valid_until: date | None
    steps: tuple[tuple[date, int], ...] = ()

    def rate_on(self, day: date) -> int:
        """The rate on a KST day: that of the last step begun by ``day``, else ``rate_bps``.

        A rule without steps costs one empty loop; steps are few and already in order.
        """
        rate = self.rate_bps
        for start, step_bps in self.steps:
            if start > day:
                break
            rate = step_bps
        return rate

    def steps_after(self, day: date) -> tuple[tuple[date, int], ...]:
        """The steps not begun yet on ``day``: what a citizen is told in advance."""
        return tuple(step for step in self.steps if step[0] > day)


@dataclass(frozen=True, slots=True)
class Line:
    """What one rule paid on one payment: ``qualifying`` volume and ``amount_krw`` paid."""

    rule_id: str
    kind: RuleKind
    budget_id: str | None
    qualifying_krw: int
    amount_krw: int


@dataclass(frozen=True, slots=True)
class Price:
    """The price of a payment before any wallet is touched (SPEC 3.6 steps 1-3)."""

    amount_krw: int
    discount_krw: int
    coupon_off_krw: int
    charged_krw: int
