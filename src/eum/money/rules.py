"""Pricing, cashback, fees and fee support of one payment (SPEC 3.1, 3.6-3.8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import date

from eum.money.model import (
    BPS,
    MAX_AMOUNT_KRW,
    MIN_AMOUNT_KRW,
    Channel,
    Line,
    Price,
    Rule,
    Sale,
)


def is_valid_amount(value: object) -> bool:
    """True for an int (not a bool) of won in 1..1,000,000,000 (SPEC 3.1)."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_AMOUNT_KRW <= value <= MAX_AMOUNT_KRW
    )


def apply_bps(amount_krw: int, rate_bps: int) -> int:
    """``amount x rate``, rounded down (SPEC 3.1: every derived amount is floored)."""
    return amount_krw * rate_bps // BPS


def price(amount_krw: int, discount_bps: int, coupon_value_krw: int | None) -> Price:
    """Discount, coupon and what the wallet pays (SPEC 3.6 steps 1-3)."""
    discount = apply_bps(amount_krw, discount_bps)  # SPEC 3.6.1 floor
    coupon_off = 0 if coupon_value_krw is None else min(coupon_value_krw, amount_krw - discount)
    charged = amount_krw - discount - coupon_off
    assert charged >= 0
    return Price(amount_krw, discount, coupon_off, charged)


def matches(rule: Rule, sale: Sale) -> bool:
    """Whether a rule applies to a sale: every condition of SPEC 3.7 (3.8 for fee support)."""
    if rule.card_issuers is not None and sale.card_issuer not in rule.card_issuers:
        return False
    if sale.merchant_district not in rule.districts:
        return False
    if rule.card_kinds is not None and sale.card_kind not in rule.card_kinds:
        return False
    if rule.merchant_tiers is not None and sale.merchant_tier not in rule.merchant_tiers:
        return False
    if (
        rule.max_annual_sales_krw is not None
        and sale.merchant_annual_sales_krw > rule.max_annual_sales_krw
    ):
        return False
    if rule.channels is not None and sale.channel not in rule.channels:
        return False
    if rule.merchant_group is not None and rule.merchant_group not in sale.merchant_groups:
        return False
    if rule.valid_from is not None and sale.day < rule.valid_from:
        return False
    return not (rule.valid_until is not None and sale.day > rule.valid_until)


def _rate(rule: Rule, day: date | None) -> int:
    """The rule's rate on the payment's KST day (its scheduled steps included).

    ``day`` None is the rule's own ``rate_bps``: only for rules without steps (the pure
    arithmetic tests); a payment always passes its day.
    """
    if day is None:
        assert not rule.steps, f"rule {rule.id} has steps: the payment's day is needed"
        return rule.rate_bps
    return rule.rate_on(day)


def _draw(budget_id: str | None, raw_krw: int, remaining: MutableMapping[str, int]) -> int:
    """Pay ``raw`` from a budget, or what is left of it; no budget pays in full."""
    if budget_id is None:
        return raw_krw
    paid = min(raw_krw, remaining[budget_id])
    remaining[budget_id] -= paid
    return paid


def cashback(
    rules: Iterable[Rule],
    charged_krw: int,
    used_krw: Mapping[str, int],
    remaining: MutableMapping[str, int],
    *,
    day: date | None = None,
) -> list[Line]:
    """Cashback of every matching rule in definition order (SPEC 3.7).

    ``used_krw`` is what the card already qualified under each capped rule this month;
    ``remaining`` holds each budget's balance and is drawn down as rules pay, so where
    two rules share a budget the earlier one draws first. ``day`` is the payment's KST
    day, which picks each rule's scheduled rate.
    """
    lines = []
    for rule in rules:
        assert rule.kind == "cashback"
        if rule.monthly_cap_krw is None:
            qualifying = charged_krw
        else:
            qualifying = max(0, min(charged_krw, rule.monthly_cap_krw - used_krw.get(rule.id, 0)))
        raw = apply_bps(qualifying, _rate(rule, day))  # SPEC 3.7 floor
        paid = _draw(rule.budget_id, raw, remaining)
        lines.append(Line(rule.id, "cashback", rule.budget_id, qualifying, paid))
    return lines


def fee(charged_krw: int, channel: Channel, card_fee_bps: int, pg_fee_bps: int) -> int:
    """The merchant's fee on what the wallet paid (SPEC 3.8)."""
    rate = {"card": card_fee_bps, "qr": 0, "online": pg_fee_bps}[channel]
    return apply_bps(charged_krw, rate)  # SPEC 3.8 floor


def fee_support(
    rules: Iterable[Rule],
    charged_krw: int,
    fee_krw: int,
    remaining: MutableMapping[str, int],
    *,
    day: date | None = None,
) -> list[Line]:
    """Fee support of every matching rule in definition order, never above the fee (SPEC 3.8);
    ``day`` (the payment's KST day) picks each rule's scheduled rate."""
    lines = []
    unsupported = fee_krw
    for rule in rules:
        assert rule.kind == "fee_support"
        raw = min(unsupported, apply_bps(charged_krw, _rate(rule, day)))  # SPEC 3.8 floor
        paid = _draw(rule.budget_id, raw, remaining)
        unsupported -= paid
        lines.append(Line(rule.id, "fee_support", rule.budget_id, charged_krw, paid))
    return lines


def split_wallet(cashback_krw: int, charged_krw: int, amount_krw: int) -> tuple[int, int]:
    """How a wallet pays ``amount``: cashback first, then charged (SPEC 3.4)."""
    from_cashback = min(cashback_krw, amount_krw)
    from_charged = amount_krw - from_cashback
    assert from_charged <= charged_krw, "caller checks the balance first"
    return from_cashback, from_charged
