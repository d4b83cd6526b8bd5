"""Service tests: people walking through the product, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from eum.ledger.store import journal_entries, postings
from tests.conftest import GYEYANG_CITY, Platform


def city(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GYEYANG_CITY)
    doc.update(changes)
    return doc


def entries(p: Platform) -> tuple[int, int]:
    return p.read(
        lambda c: (
            c.execute(select(func.count()).select_from(journal_entries)).scalar_one(),
            c.execute(select(func.count()).select_from(postings)).scalar_one(),
        )
    )


def test_a_gyeyang_resident_pays_at_a_benefit_plus_shop_and_gets_discount_and_cashback(
    platform: Platform,
) -> None:
    platform.setup(city())
    assert platform.event("charge", key="c1", member="u-kim", amount=100_000)["ok"]
    paid = platform.event("pay", key="p1", member="u-kim", merchant="m-bunsik", amount=10_000)
    assert paid["ok"]
    # 3% Benefit Plus pre-discount; 4% city + 1% Gyeyang launch on the 9,700 paid.
    assert (paid["discount"], paid["charged"]) == (300, 9_700)
    assert paid["cashback"] == {"incheon-base": 388, "gyeyang-launch": 97}
    # card fee 0.8% = 77, of which Gyeyang supports 0.5% of 9,700 = 48
    assert (paid["fee"], paid["fee_support"]) == (77, {"gyeyang-fee": 48})
    state = platform.state()
    assert state["members"]["u-kim"] == {"cashback": 485, "charged": 90_300}
    assert state["merchants"]["m-bunsik"] == {"receivable": 9_700 - 77 + 48, "settled": 0}
    assert state["budgets"]["gyeyang-event"] == {"remaining": 1_000 - 97}
    assert state["ledger"]["balanced"] is True


def test_an_incheon_card_gets_no_gyeyang_launch_cashback(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-lee", amount=100_000)
    paid = platform.event("pay", key="p1", member="u-lee", merchant="m-mart", amount=10_000)
    assert paid["cashback"] == {"incheon-base": 400}
    assert paid["fee_support"] == {}  # the mart sells more than 1 bn a year


def test_a_budget_pays_what_it_has_left_then_nothing(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-kim", amount=500_000)
    first = platform.event("pay", key="p1", member="u-kim", merchant="m-mart", amount=90_000)
    second = platform.event("pay", key="p2", member="u-kim", merchant="m-mart", amount=20_000)
    third = platform.event("pay", key="p3", member="u-kim", merchant="m-mart", amount=20_000)
    assert first["cashback"]["gyeyang-launch"] == 900
    assert second["cashback"]["gyeyang-launch"] == 100  # 200 due, 100 left
    assert third["cashback"]["gyeyang-launch"] == 0
    assert platform.state()["budgets"]["gyeyang-event"] == {"remaining": 0}


def test_replaying_a_key_returns_the_first_result_and_changes_nothing(platform: Platform) -> None:
    platform.setup(city())
    first = platform.event("charge", key="c1", member="u-kim", amount=50_000)
    before, books = platform.state(), entries(platform)
    again = platform.event("charge", at="2020-03-17T09:00", key="c1", member="u-kim", amount=50_000)
    assert again["replayed"] is True and first["replayed"] is False
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    assert platform.state() == before and entries(platform) == books


def test_a_failed_result_is_replayed_even_when_it_would_now_succeed(platform: Platform) -> None:
    platform.setup(city())
    failed = platform.event("pay", key="p1", member="u-kim", merchant="m-mart", amount=1_000)
    assert failed["error"] == "insufficient_funds"
    platform.event("charge", key="c1", member="u-kim", amount=50_000)
    again = platform.event("pay", key="p1", member="u-kim", merchant="m-mart", amount=1_000)
    assert (again["ok"], again["error"], again["replayed"]) == (False, "insufficient_funds", True)
    assert platform.state()["payments"] == {}


def test_a_key_reused_for_another_request_conflicts_and_is_not_stored(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-kim", amount=50_000)
    conflict = platform.event("charge", key="c1", member="u-kim", amount=60_000)
    assert conflict == {"ok": False, "error": "idempotency_conflict"}
    # a field left out is not the same as one written with its default
    platform.event("pay", key="p1", member="u-kim", merchant="m-mart", amount=1_000)
    explicit = platform.event(
        "pay", key="p1", member="u-kim", merchant="m-mart", amount=1_000, channel="card"
    )
    assert explicit["error"] == "idempotency_conflict"
    assert platform.state()["members"]["u-kim"]["charged"] == 49_000


def test_a_failed_operation_leaves_no_trace_but_its_error(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-kim", amount=10_000)
    before, books = platform.state(), entries(platform)
    for op, fields in [
        ("pay", {"member": "u-kim", "merchant": "m-mart", "amount": 20_000}),
        ("pay", {"member": "u-kim", "merchant": "m-mart", "amount": 1000.0}),
        ("withdraw", {"member": "u-kim", "amount": 5_000}),
        ("donate", {"member": "u-kim", "campaign": "nanum", "amount": 1}),
        ("contribute", {"member": "u-kim", "group": "club", "amount": 1}),
        ("group_pay", {"group": "club", "by": "u-lee", "merchant": "m-mart", "amount": 1}),
        ("refund", {"payment": "nope", "amount": 1}),
        ("charge", {"member": "u-kim", "amount": 2_000_000}),
    ]:
        result = platform.event(op, key=f"bad-{op}-{len(str(fields))}", **fields)
        assert result["ok"] is False, (op, result)
    assert platform.state() == before and entries(platform) == books


def test_refunds_give_cashback_back_to_budgets_and_cap_to_the_original_month(
    platform: Platform,
) -> None:
    platform.setup(city())
    platform.event("charge", at="2020-03-31T09:00", key="c1", member="u-kim", amount=400_000)
    platform.event(
        "pay", at="2020-03-31T12:00", key="p1", member="u-kim", merchant="m-mart", amount=300_000
    )
    # April: refund all of March's payment; March's cap is restored, April's untouched.
    refund = platform.event("refund", at="2020-04-01T10:00", key="r1", payment="p1", amount=300_000)
    assert refund["ok"] and refund["status"] == "refunded"
    assert refund["cashback_returned"] == 12_000 + 1_000
    state = platform.state()
    assert state["budgets"]["gyeyang-event"] == {"remaining": 1_000}
    assert state["budgets"]["incheon-cashback"] == {"remaining": 10_000_000_000}
    assert state["members"]["u-kim"] == {"cashback": 0, "charged": 400_000}
    again = platform.event(
        "pay", at="2020-03-31T13:00", key="p2", member="u-kim", merchant="m-mart", amount=300_000
    )
    assert again["cashback"]["incheon-base"] == 12_000  # the whole March cap is free again


def test_cashback_already_spent_is_clawed_back_from_charged_money(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-lee", amount=100_000)
    platform.event("pay", key="p1", member="u-lee", merchant="m-mart", amount=50_000)  # +2,000
    platform.event("donate", key="d1", member="u-lee", campaign="nanum", amount=1_500)
    assert platform.state()["members"]["u-lee"] == {"cashback": 500, "charged": 50_000}
    platform.event("refund", key="r1", payment="p1", amount=50_000)
    # 50,000 back to charged, then the 2,000 cashback is returned: 500 from cashback first,
    # the other 1,500 from charged money.
    assert platform.state()["members"]["u-lee"] == {"cashback": 0, "charged": 98_500}
    assert platform.state()["budgets"]["incheon-cashback"] == {"remaining": 10_000_000_000}


def test_settlement_pays_out_receivables_and_carries_a_negative_one_over(
    platform: Platform,
) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-lee", amount=100_000)
    platform.event("pay", key="p1", member="u-lee", merchant="m-cafe", amount=50_000)
    platform.event("settle")
    platform.event("refund", key="r1", payment="p1", amount=10_000)
    platform.event("settle")
    state = platform.state()
    assert state["merchants"]["m-cafe"] == {"receivable": -(10_000 - 80), "settled": 50_000 - 400}
    platform.event("charge", key="c2", member="u-lee", amount=20_000)
    platform.event("pay", key="p2", member="u-lee", merchant="m-cafe", amount=20_000)
    platform.event("settle")
    assert platform.state()["merchants"]["m-cafe"] == {
        "receivable": 0,
        "settled": 50_000 - 400 + 20_000 - 160 - 9_920,
    }


def test_withdrawal_opens_once_sixty_percent_is_spent(platform: Platform) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-lee", amount=100_000)
    platform.event("pay", key="p1", member="u-lee", merchant="m-cafe", amount=59_999)
    assert platform.event("withdraw", key="w1", member="u-lee", amount=1_000)["error"] == (
        "withdrawal_not_allowed"
    )
    platform.event("pay", key="p2", member="u-lee", merchant="m-cafe", amount=1)
    assert platform.event("withdraw", key="w2", member="u-lee", amount=1_000)["ok"]
    assert platform.state()["totals"]["withdrawn"] == 1_000


def test_a_group_pools_cashback_pays_without_earning_and_gets_refunds_in_its_pool(
    platform: Platform,
) -> None:
    platform.setup(city())
    platform.event("charge", key="c1", member="u-lee", amount=100_000)
    platform.event("pay", key="p1", member="u-lee", merchant="m-cafe", amount=100_000)
    assert platform.event("contribute", key="g1", member="u-lee", group="club", amount=3_000)["ok"]
    not_owner = platform.event(
        "group_pay", key="gp0", group="club", by="u-lee", merchant="m-bunsik", amount=1_000
    )
    assert not_owner["error"] == "not_group_owner"
    paid = platform.event(
        "group_pay", key="gp1", group="club", by="u-kim", merchant="m-bunsik", amount=2_000
    )
    assert paid["cashback"] == {} and paid["charged"] == 1_940
    platform.event("refund", key="r1", payment="gp1", amount=940)
    state = platform.state()
    assert state["groups"]["club"] == {"pool": 3_000 - 1_940 + 940}
    assert platform.event(
        "donate", key="d1", group="club", by="u-kim", campaign="nanum", amount=2_000
    )["ok"]
    assert platform.state()["campaigns"]["nanum"] == {"donated": 2_000}
