"""Refunds recompute every derived quantity on what remains (SPEC 3.9).

A quantity X taken when the payment was made counts as floor(X x c' / c) after a
refund, where c is the original charged amount and c' what remains. Computing from
the original value each time keeps rounding from compounding over partial refunds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def prorate(original_krw: int, charged_krw: int, remaining_krw: int) -> int:
    """floor(X x c' / c) (SPEC 3.9); a payment of 0 won has nothing to prorate."""
    if charged_krw == 0:
        return original_krw
    return original_krw * remaining_krw // charged_krw  # SPEC 3.9 floor


def moved_back(original_krw: int, charged_krw: int, refunded_krw: int, refund_krw: int) -> int:
    """How much of X moves back with this refund: its value before minus its value after."""
    before = prorate(original_krw, charged_krw, charged_krw - refunded_krw)
    after = prorate(original_krw, charged_krw, charged_krw - refunded_krw - refund_krw)
    return before - after


@dataclass(frozen=True, slots=True)
class RefundSplit:
    """What one refund moves back, per quantity (all non-negative)."""

    from_cashback_krw: int
    fee_krw: int
    cashback_krw: Mapping[str, int]
    qualifying_krw: Mapping[str, int]
    fee_support_krw: Mapping[str, int]

    @property
    def cashback_total_krw(self) -> int:
        return sum(self.cashback_krw.values())

    @property
    def fee_support_total_krw(self) -> int:
        return sum(self.fee_support_krw.values())


def split_refund(
    *,
    charged_krw: int,
    refunded_krw: int,
    refund_krw: int,
    from_cashback_krw: int,
    fee_krw: int,
    cashback_krw: Mapping[str, int],
    qualifying_krw: Mapping[str, int],
    fee_support_krw: Mapping[str, int],
) -> RefundSplit:
    """Differences of every derived quantity for a refund of ``refund_krw`` (SPEC 3.9).

    Inputs are the values as they were when the payment was made.
    """
    assert 0 < refund_krw <= charged_krw - refunded_krw

    def back(x: int) -> int:
        return moved_back(x, charged_krw, refunded_krw, refund_krw)

    return RefundSplit(
        from_cashback_krw=back(from_cashback_krw),
        fee_krw=back(fee_krw),
        cashback_krw={k: back(v) for k, v in cashback_krw.items()},
        qualifying_krw={k: back(v) for k, v in qualifying_krw.items()},
        fee_support_krw={k: back(v) for k, v in fee_support_krw.items()},
    )


def current(original_krw: int, charged_krw: int, refunded_krw: int) -> int:
    """The current value of a derived quantity after refunds so far (SPEC 3.9)."""
    return prorate(original_krw, charged_krw, charged_krw - refunded_krw)
