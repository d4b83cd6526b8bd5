"""The money rules of SPEC section 3, checked on the pure functions of ``eum.money``.

No database, no clock: every expected value below is worked out by hand from the SPEC
clause named in the test, so a wrong floor, a wrong order or a compounding refund shows.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eum.money import refunds
from eum.money import rules as money
from eum.money.model import Line, Price, Rule, Sale
from eum.policy.model import IssuerTree

MARCH_16 = date(2020, 3, 16)

# A Gyeyang resident's personal card at a small general shop in Gyeyang, by card.
SALE = Sale(
    card_issuer="gyeyang",
    card_kind="personal",
    merchant_district="gyeyang",
    merchant_tier="general",
    merchant_annual_sales_krw=300_000_000,
    merchant_groups=frozenset(),
    channel="card",
    day=MARCH_16,
)

# A rule with every condition open except its owner's districts (SPEC 3.7 defaults).
OPEN_RULE = Rule(
    id="rule",
    kind="cashback",
    owner_id="gyeyang",
    budget_id=None,
    rate_bps=400,
    monthly_cap_krw=None,
    card_issuers=None,
    districts=frozenset({"gyeyang"}),
    card_kinds=None,
    merchant_tiers=None,
    max_annual_sales_krw=None,
    channels=None,
    merchant_group=None,
    valid_from=None,
    valid_until=None,
)


def cashback_rule(id: str = "rule", **changes: object) -> Rule:
    return dataclasses.replace(OPEN_RULE, id=id, **changes)  # type: ignore[arg-type]


def fee_rule(id: str = "fee", **changes: object) -> Rule:
    fields: dict[str, object] = {"rate_bps": 50, **changes}
    return dataclasses.replace(OPEN_RULE, id=id, kind="fee_support", **fields)  # type: ignore[arg-type]


def sale(**changes: object) -> Sale:
    return dataclasses.replace(SALE, **changes)  # type: ignore[arg-type]


def paid(lines: list[Line]) -> dict[str, int]:
    return {ln.rule_id: ln.amount_krw for ln in lines}


def qualified(lines: list[Line]) -> dict[str, int]:
    return {ln.rule_id: ln.qualifying_krw for ln in lines}


# --- 3.1 amounts -------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, 2, 1_000, 999_999_999, 1_000_000_000])
def test_an_integer_from_one_won_to_one_billion_is_a_valid_amount(amount: int) -> None:
    assert money.is_valid_amount(amount) is True


@pytest.mark.parametrize(
    "amount",
    [0, -1, -1_000, 1_000_000_001, 10**12, 1000.0, 1.5, "100", "1000", True, False, None, [100]],
    ids=repr,
)
def test_zero_negative_too_large_float_string_bool_and_missing_amounts_are_invalid(
    amount: object,
) -> None:
    assert money.is_valid_amount(amount) is False


def test_every_derived_amount_is_rounded_down() -> None:
    assert money.apply_bps(999, 400) == 39  # 39.96
    assert money.apply_bps(12_345, 80) == 98  # 98.76
    assert money.apply_bps(1, 9_999) == 0  # 0.9999
    assert money.apply_bps(10_000, 400) == 400  # exact stays exact


# --- 3.6 price: Benefit Plus discount and coupon -------------------------------------------


def test_a_general_merchant_charges_the_list_price() -> None:
    assert money.price(10_000, 0, None) == Price(10_000, 0, 0, 10_000)


def test_a_benefit_plus_merchant_discounts_before_the_wallet_pays() -> None:
    # 33,333 x 3% = 999.99 -> 999 off (SPEC 3.6.1 floor).
    assert money.price(33_333, 300, None) == Price(33_333, 999, 0, 32_334)


def test_the_benefit_plus_discount_at_seven_percent_is_floored() -> None:
    # 14,999 x 7% = 1,049.93 -> 1,049.
    assert money.price(14_999, 700, None) == Price(14_999, 1_049, 0, 13_950)


def test_a_coupon_comes_off_after_the_discount() -> None:
    # 10,000 - 300 (3%) - 2,000 coupon = 7,700.
    assert money.price(10_000, 300, 2_000) == Price(10_000, 300, 2_000, 7_700)


def test_a_coupon_worth_more_than_the_discounted_price_takes_it_to_zero() -> None:
    # coupon_off = min(50,000, 10,000 - 300) = 9,700; the wallet pays nothing.
    assert money.price(10_000, 300, 50_000) == Price(10_000, 300, 9_700, 0)


def test_a_coupon_worth_exactly_the_discounted_price_leaves_nothing_to_pay() -> None:
    assert money.price(10_000, 300, 9_700) == Price(10_000, 300, 9_700, 0)


def test_a_coupon_at_a_general_merchant_is_capped_at_the_list_price() -> None:
    assert money.price(1_000, 0, 1_500) == Price(1_000, 0, 1_000, 0)


def test_a_one_won_coupon_at_a_benefit_plus_shop_takes_one_won() -> None:
    # 99 x 1% = 0.99 -> no discount; coupon 1 -> 98.
    assert money.price(99, 100, 1) == Price(99, 0, 1, 98)


# --- 3.7 which rules match ---------------------------------------------------------------


def test_an_open_rule_matches_any_sale_in_its_owners_districts() -> None:
    assert money.matches(OPEN_RULE, SALE)


def test_the_cards_condition_covers_the_issuer_and_every_issuer_below_it() -> None:
    tree = IssuerTree(
        parent={"incheon": None, "gyeyang": "incheon", "bupyeong": "incheon"},
        districts={
            "incheon": frozenset({"gyeyang", "bupyeong", "seo"}),
            "gyeyang": frozenset({"gyeyang"}),
            "bupyeong": frozenset({"bupyeong"}),
        },
    )
    metro_cards = cashback_rule(card_issuers=tree.subtree("incheon"))
    gyeyang_cards = cashback_rule(card_issuers=tree.subtree("gyeyang"))

    assert tree.subtree("incheon") == {"incheon", "gyeyang", "bupyeong"}
    assert money.matches(metro_cards, sale(card_issuer="gyeyang"))
    assert money.matches(metro_cards, sale(card_issuer="incheon"))
    assert money.matches(gyeyang_cards, sale(card_issuer="gyeyang"))
    assert not money.matches(gyeyang_cards, sale(card_issuer="incheon"))
    assert not money.matches(gyeyang_cards, sale(card_issuer="bupyeong"))


def test_an_issuer_covers_its_own_districts_and_those_below_it() -> None:
    tree = IssuerTree(
        parent={"incheon": None, "gyeyang": "incheon", "gimpo": None},
        districts={
            "incheon": frozenset({"seo"}),
            "gyeyang": frozenset({"gyeyang"}),
            "gimpo": frozenset({"gimpo"}),
        },
    )
    assert tree.covers("incheon") == {"seo", "gyeyang"}
    assert tree.covers("gyeyang") == {"gyeyang"}
    assert tree.region("gyeyang") == {"seo", "gyeyang"}  # a card's region is its metro's (3.3)
    assert "gimpo" not in tree.region("gyeyang")


def test_a_rule_skips_merchants_outside_its_districts() -> None:
    rule = cashback_rule(districts=frozenset({"gyeyang"}))
    assert not money.matches(rule, sale(merchant_district="bupyeong"))
    assert money.matches(rule, sale(merchant_district="gyeyang"))


def test_a_personal_card_rule_skips_business_and_corporate_cards() -> None:
    rule = cashback_rule(card_kinds=frozenset({"personal"}))
    assert money.matches(rule, sale(card_kind="personal"))
    assert not money.matches(rule, sale(card_kind="business"))
    assert not money.matches(rule, sale(card_kind="corporate"))


def test_a_business_card_rule_matches_only_business_cards() -> None:
    rule = cashback_rule(card_kinds=frozenset({"business"}))
    assert money.matches(rule, sale(card_kind="business"))
    assert not money.matches(rule, sale(card_kind="personal"))


def test_a_benefit_plus_rule_skips_general_merchants() -> None:
    rule = cashback_rule(merchant_tiers=frozenset({"benefit_plus"}))
    assert money.matches(rule, sale(merchant_tier="benefit_plus"))
    assert not money.matches(rule, sale(merchant_tier="general"))


def test_max_annual_sales_includes_a_merchant_exactly_at_the_limit() -> None:
    rule = fee_rule(max_annual_sales_krw=1_000_000_000)
    assert money.matches(rule, sale(merchant_annual_sales_krw=1_000_000_000))
    assert money.matches(rule, sale(merchant_annual_sales_krw=0))
    assert not money.matches(rule, sale(merchant_annual_sales_krw=1_000_000_001))


def test_a_card_only_rule_skips_qr_and_online_payments() -> None:
    rule = fee_rule(channels=frozenset({"card"}))
    assert money.matches(rule, sale(channel="card"))
    assert not money.matches(rule, sale(channel="qr"))
    assert not money.matches(rule, sale(channel="online"))


def test_a_rule_without_channels_matches_every_channel() -> None:
    for channel in ("card", "qr", "online"):
        assert money.matches(OPEN_RULE, sale(channel=channel))


def test_a_merchant_group_rule_matches_only_members_of_the_group() -> None:
    rule = cashback_rule(merchant_group="gyesan-market")
    assert money.matches(rule, sale(merchant_groups=frozenset({"gyesan-market", "other"})))
    assert not money.matches(rule, sale(merchant_groups=frozenset({"other"})))
    assert not money.matches(rule, sale(merchant_groups=frozenset()))


def test_a_rule_period_includes_its_first_and_last_day() -> None:
    rule = cashback_rule(valid_from=date(2020, 3, 16), valid_until=date(2020, 12, 31))
    assert not money.matches(rule, sale(day=date(2020, 3, 15)))
    assert money.matches(rule, sale(day=date(2020, 3, 16)))
    assert money.matches(rule, sale(day=date(2020, 12, 31)))
    assert not money.matches(rule, sale(day=date(2021, 1, 1)))


def test_an_open_ended_period_matches_long_before_and_after() -> None:
    assert money.matches(cashback_rule(valid_until=date(2020, 3, 31)), sale(day=date(1999, 1, 1)))
    assert money.matches(cashback_rule(valid_from=date(2020, 3, 1)), sale(day=date(2099, 1, 1)))


# --- 3.7 cashback ------------------------------------------------------------------------


def test_an_uncapped_rule_without_budget_pays_its_rate_rounded_down() -> None:
    lines = money.cashback([cashback_rule()], 12_345, {}, {})
    # 12,345 x 4% = 493.8 -> 493, all of it qualifying.
    assert lines == [Line("rule", "cashback", None, 12_345, 493)]


def test_cashback_qualifies_only_what_is_left_of_the_monthly_cap() -> None:
    rule = cashback_rule(monthly_cap_krw=300_000)
    lines = money.cashback([rule], 50_000, {"rule": 290_000}, {})
    # qualifying = min(50,000, 300,000 - 290,000) = 10,000; 4% -> 400.
    assert qualified(lines) == {"rule": 10_000}
    assert paid(lines) == {"rule": 400}


def test_a_used_up_cap_qualifies_nothing_and_never_goes_below_zero() -> None:
    rule = cashback_rule(monthly_cap_krw=300_000)
    at_cap = money.cashback([rule], 50_000, {"rule": 300_000}, {})
    over_cap = money.cashback([rule], 50_000, {"rule": 310_000}, {})
    assert (qualified(at_cap), paid(at_cap)) == ({"rule": 0}, {"rule": 0})
    assert (qualified(over_cap), paid(over_cap)) == ({"rule": 0}, {"rule": 0})


def test_each_rule_keeps_its_own_cap_and_the_member_gets_the_sum() -> None:
    base = cashback_rule("base", rate_bps=400, monthly_cap_krw=300_000)
    launch = cashback_rule("launch", rate_bps=100, monthly_cap_krw=100_000)
    lines = money.cashback([base, launch], 40_000, {"base": 0, "launch": 80_000}, {})
    # base: 40,000 x 4% = 1,600; launch: min(40,000, 20,000) x 1% = 200.
    assert qualified(lines) == {"base": 40_000, "launch": 20_000}
    assert paid(lines) == {"base": 1_600, "launch": 200}
    assert sum(paid(lines).values()) == 1_800


def test_a_rule_pays_only_what_is_left_in_its_budget() -> None:
    remaining = {"event": 150}
    lines = money.cashback([cashback_rule(budget_id="event")], 10_000, {}, remaining)
    # raw 400, budget 150: pays 150 and the budget is empty.
    assert lines == [Line("rule", "cashback", "event", 10_000, 150)]
    assert remaining == {"event": 0}


def test_an_empty_budget_pays_nothing_but_the_rule_is_still_listed() -> None:
    remaining = {"event": 0}
    lines = money.cashback([cashback_rule(budget_id="event")], 10_000, {}, remaining)
    assert lines == [Line("rule", "cashback", "event", 10_000, 0)]


def test_where_two_rules_share_a_budget_the_earlier_one_draws_first() -> None:
    base = cashback_rule("base", rate_bps=400, budget_id="shared")
    bonus = cashback_rule("bonus", rate_bps=100, budget_id="shared")

    first_base = money.cashback([base, bonus], 10_000, {}, {"shared": 450})
    first_bonus = money.cashback([bonus, base], 10_000, {}, {"shared": 450})

    # base raw 400, bonus raw 100, 450 in the budget.
    assert paid(first_base) == {"base": 400, "bonus": 50}
    assert paid(first_bonus) == {"bonus": 100, "base": 350}


def test_a_rule_without_budget_pays_in_full_whatever_other_budgets_hold() -> None:
    funded = cashback_rule("funded", rate_bps=400, budget_id="event")
    unfunded = cashback_rule("unfunded", rate_bps=200)
    remaining = {"event": 0}
    lines = money.cashback([funded, unfunded], 10_000, {}, remaining)
    assert paid(lines) == {"funded": 0, "unfunded": 200}
    assert remaining == {"event": 0}


def test_a_zero_won_payment_lists_every_rule_with_zero() -> None:
    base = cashback_rule("base", budget_id="b", monthly_cap_krw=300_000)
    launch = cashback_rule("launch", rate_bps=100)
    remaining = {"b": 1_000}
    lines = money.cashback([base, launch], 0, {}, remaining)
    assert lines == [
        Line("base", "cashback", "b", 0, 0),
        Line("launch", "cashback", None, 0, 0),
    ]
    assert remaining == {"b": 1_000}


# --- 3.8 fees and fee support --------------------------------------------------------------


def test_a_card_payment_pays_the_merchants_card_fee() -> None:
    assert money.fee(10_000, "card", 80, 300) == 80
    assert money.fee(12_345, "card", 80, 300) == 98  # 98.76 floored


def test_a_qr_payment_has_no_fee() -> None:
    assert money.fee(12_345, "qr", 150, 300) == 0


def test_an_online_payment_pays_the_gateway_fee_not_the_card_fee() -> None:
    assert money.fee(12_345, "online", 80, 300) == 370  # 370.35 floored
    assert money.fee(12_345, "online", 80, 250) == 308  # 308.625 floored


def test_fee_support_never_pays_more_than_the_fee() -> None:
    # 10,000 x 0.5% = 50, but the fee is only 30 (0.3%).
    lines = money.fee_support([fee_rule(rate_bps=50)], 10_000, 30, {})
    assert paid(lines) == {"fee": 30}


def test_fee_support_pays_its_rate_when_the_fee_is_larger() -> None:
    # 12,345 x 0.5% = 61.725 -> 61; fee 98.
    lines = money.fee_support([fee_rule(rate_bps=50)], 12_345, 98, {})
    assert paid(lines) == {"fee": 61}


def test_a_later_fee_support_rule_covers_only_the_fee_still_unsupported() -> None:
    district = fee_rule("district", rate_bps=50)
    city = fee_rule("city", rate_bps=50)
    # fee 80 on 10,000: the first rule pays 50, the second min(30, 50) = 30.
    assert paid(money.fee_support([district, city], 10_000, 80, {})) == {"district": 50, "city": 30}
    assert paid(money.fee_support([city, district], 10_000, 80, {})) == {"city": 50, "district": 30}


def test_fee_support_is_limited_by_its_budget_and_the_next_rule_covers_the_rest() -> None:
    district = fee_rule("district", rate_bps=50, budget_id="small")
    city = fee_rule("city", rate_bps=50)
    remaining = {"small": 20}
    lines = money.fee_support([district, city], 10_000, 80, remaining)
    # district: min(80, 50) limited to 20; city: min(80 - 20, 50) = 50.
    assert paid(lines) == {"district": 20, "city": 50}
    assert remaining == {"small": 0}


def test_two_fee_support_rules_sharing_a_budget_draw_in_definition_order() -> None:
    first = fee_rule("first", rate_bps=30, budget_id="shared")
    second = fee_rule("second", rate_bps=30, budget_id="shared")
    remaining = {"shared": 40}
    lines = money.fee_support([first, second], 10_000, 150, remaining)
    assert paid(lines) == {"first": 30, "second": 10}
    assert remaining == {"shared": 0}


def test_a_payment_without_fee_gets_no_fee_support() -> None:
    remaining = {"b": 1_000}
    lines = money.fee_support([fee_rule(budget_id="b")], 10_000, 0, remaining)
    assert paid(lines) == {"fee": 0}
    assert remaining == {"b": 1_000}


# --- 3.4 the wallet pays cashback first --------------------------------------------------


def test_a_wallet_pays_from_cashback_first_then_from_charged() -> None:
    assert money.split_wallet(3_000, 10_000, 5_000) == (3_000, 2_000)


def test_a_wallet_with_enough_cashback_leaves_charged_money_untouched() -> None:
    assert money.split_wallet(8_000, 10_000, 5_000) == (5_000, 0)


def test_a_wallet_without_cashback_pays_from_charged() -> None:
    assert money.split_wallet(0, 10_000, 5_000) == (0, 5_000)


def test_a_zero_won_payment_takes_nothing_from_the_wallet() -> None:
    assert money.split_wallet(3_000, 10_000, 0) == (0, 0)


# --- 3.9 refunds -----------------------------------------------------------------------


def test_a_derived_amount_counts_in_proportion_to_what_remains_rounded_down() -> None:
    assert refunds.prorate(400, 10_000, 7_000) == 280
    assert refunds.prorate(99, 1_000, 333) == 32  # 32.967
    assert refunds.prorate(400, 10_000, 0) == 0
    assert refunds.prorate(400, 10_000, 10_000) == 400


def test_a_zero_won_payment_has_nothing_to_prorate() -> None:
    assert refunds.prorate(0, 0, 0) == 0
    assert refunds.current(7, 0, 0) == 7


def test_a_refund_moves_back_the_difference_before_and_after() -> None:
    # 99 on 1,000: before 99, after refunding 667 floor(99 x 333 / 1,000) = 32 -> 67 back.
    assert refunds.moved_back(99, 1_000, 0, 667) == 67
    # the rest of it comes back with the last 333.
    assert refunds.moved_back(99, 1_000, 667, 333) == 32


def test_rounding_never_compounds_over_partial_refunds() -> None:
    # X = 10 on c = 6, refunded one won at a time. From the original: 8, 6, 5, 3, 1, 0.
    # Compounding (floor of the previous value) would give 8, 6, 4, ...
    currents = [refunds.current(10, 6, refunded) for refunded in range(7)]
    backs = [refunds.moved_back(10, 6, refunded, 1) for refunded in range(6)]
    assert currents == [10, 8, 6, 5, 3, 1, 0]
    assert backs == [2, 2, 1, 2, 2, 1]
    assert sum(backs) == 10


def test_a_partial_refund_splits_every_derived_quantity() -> None:
    split = refunds.split_refund(
        charged_krw=10_000,
        refunded_krw=0,
        refund_krw=2_500,
        from_cashback_krw=3_000,
        fee_krw=80,
        cashback_krw={"base": 400, "launch": 100},
        qualifying_krw={"base": 10_000, "launch": 10_000},
        fee_support_krw={"fee": 50},
    )
    # c' = 7,500 of 10,000: 2,250 / 60 / 300 / 75 / 7,500 / 37 (37.5) remain.
    assert split.from_cashback_krw == 750
    assert split.fee_krw == 20
    assert dict(split.cashback_krw) == {"base": 100, "launch": 25}
    assert dict(split.qualifying_krw) == {"base": 2_500, "launch": 2_500}
    assert dict(split.fee_support_krw) == {"fee": 13}
    assert split.cashback_total_krw == 125
    assert split.fee_support_total_krw == 13


def test_a_second_partial_refund_starts_from_what_the_first_left() -> None:
    split = refunds.split_refund(
        charged_krw=10_000,
        refunded_krw=2_500,
        refund_krw=2_500,
        from_cashback_krw=3_000,
        fee_krw=80,
        cashback_krw={"base": 400, "launch": 100},
        qualifying_krw={"base": 10_000, "launch": 10_000},
        fee_support_krw={"fee": 50},
    )
    # c' = 5,000: 1,500 / 40 / 200 / 50 / 5,000 / 25 remain; fee support 37 -> 25 is 12.
    assert split.from_cashback_krw == 750
    assert split.fee_krw == 20
    assert dict(split.cashback_krw) == {"base": 100, "launch": 25}
    assert dict(split.qualifying_krw) == {"base": 2_500, "launch": 2_500}
    assert dict(split.fee_support_krw) == {"fee": 12}


def test_a_full_refund_gives_back_everything_the_payment_earned() -> None:
    split = refunds.split_refund(
        charged_krw=31_667,
        refunded_krw=0,
        refund_krw=31_667,
        from_cashback_krw=1_234,
        fee_krw=380,
        cashback_krw={"base": 1_266, "launch": 316},
        qualifying_krw={"base": 31_667, "launch": 31_667},
        fee_support_krw={"fee": 158},
    )
    assert split.from_cashback_krw == 1_234
    assert split.fee_krw == 380
    assert dict(split.cashback_krw) == {"base": 1_266, "launch": 316}
    assert dict(split.qualifying_krw) == {"base": 31_667, "launch": 31_667}
    assert dict(split.fee_support_krw) == {"fee": 158}


def test_the_qualifying_volume_given_back_restores_exactly_what_the_payment_used() -> None:
    # A payment of 50,000 that qualified only 10,000 under its cap gives back 10,000 in
    # all, 2,000 of it for a fifth of the payment.
    split = refunds.split_refund(
        charged_krw=50_000,
        refunded_krw=0,
        refund_krw=10_000,
        from_cashback_krw=0,
        fee_krw=0,
        cashback_krw={"base": 400},
        qualifying_krw={"base": 10_000},
        fee_support_krw={},
    )
    assert dict(split.qualifying_krw) == {"base": 2_000}
    assert dict(split.cashback_krw) == {"base": 80}


def test_a_refund_beyond_what_remains_is_a_programmer_error() -> None:
    with pytest.raises(AssertionError):
        refunds.split_refund(
            charged_krw=1_000,
            refunded_krw=600,
            refund_krw=401,
            from_cashback_krw=0,
            fee_krw=0,
            cashback_krw={},
            qualifying_krw={},
            fee_support_krw={},
        )


@st.composite
def payment_and_refunds(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """A charged amount c, a derived quantity X <= c, and refunds that add up to at most c."""
    charged = draw(st.integers(1, 1_000_000))
    derived = draw(st.integers(0, charged))
    parts: list[int] = []
    left = charged
    for _ in range(draw(st.integers(1, 8))):
        if left == 0:
            break
        part = draw(st.integers(1, left))
        parts.append(part)
        left -= part
    return charged, derived, parts


@given(payment_and_refunds(), st.booleans())
def test_several_partial_refunds_move_back_exactly_what_one_refund_of_their_sum_would(
    case: tuple[int, int, list[int]], refund_the_rest: bool
) -> None:
    charged, derived, parts = case
    if refund_the_rest and sum(parts) < charged:
        parts = [*parts, charged - sum(parts)]
    refunded = 0
    moved = 0
    for part in parts:
        back = refunds.moved_back(derived, charged, refunded, part)
        assert back >= 0
        moved += back
        refunded += part
        # After any sequence the value is the one computed from the original (no compounding).
        assert derived - moved == derived * (charged - refunded) // charged
    assert moved == refunds.moved_back(derived, charged, 0, refunded)
    if refunded == charged:
        assert moved == derived


@given(payment_and_refunds())
def test_split_refunds_summed_equal_one_full_refund(case: tuple[int, int, list[int]]) -> None:
    charged, derived, parts = case
    parts = [*parts, charged - sum(parts)] if sum(parts) < charged else parts
    original = {
        "from_cashback_krw": derived,
        "fee_krw": derived // 3,
        "cashback_krw": {"base": derived // 25, "launch": derived // 100},
        "qualifying_krw": {"base": derived, "launch": charged},
        "fee_support_krw": {"fee": derived // 200},
    }
    totals = dict.fromkeys(
        ["from_cashback", "fee", "base", "launch", "q_base", "q_launch", "fee_support"], 0
    )
    refunded = 0
    for part in parts:
        split = refunds.split_refund(
            charged_krw=charged,
            refunded_krw=refunded,
            refund_krw=part,
            **original,  # type: ignore[arg-type]
        )
        refunded += part
        totals["from_cashback"] += split.from_cashback_krw
        totals["fee"] += split.fee_krw
        totals["base"] += split.cashback_krw["base"]
        totals["launch"] += split.cashback_krw["launch"]
        totals["q_base"] += split.qualifying_krw["base"]
        totals["q_launch"] += split.qualifying_krw["launch"]
        totals["fee_support"] += split.fee_support_krw["fee"]
    assert totals == {
        "from_cashback": derived,
        "fee": derived // 3,
        "base": derived // 25,
        "launch": derived // 100,
        "q_base": derived,
        "q_launch": charged,
        "fee_support": derived // 200,
    }
