"""Use cases of payments: pay (SPEC 3.6), group pay (3.14), refund (3.9), settle (3.10).

Each use case checks everything first, in the order the scenario format lists, and
only then writes: one balanced ledger entry plus the payment's own rows, in one
transaction. Balance rows are locked in ascending id order before they are read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from eum import errors
from eum.clock import kst_day
from eum.db import add_to_counter
from eum.ledger import service as ledger
from eum.ledger.store import accounts
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchants_table
from eum.money import refunds as refund_rules
from eum.money import rules as money
from eum.money.model import CHANNELS, Channel
from eum.payments.booking import FEES_ACCOUNT, Booking, Payer, Ticket, member_payer, rules_for
from eum.payments.store import payment_lines, payments, refunds, settlement_lines, settlements
from eum.policy import service as policy
from eum.policy.store import cap_usage
from eum.stats.rollups import Tally
from eum.wallets import service as wallets
from eum.wallets.store import members

_ADD_SPENT = (
    update(members)
    .where(members.c.id == bindparam("mid"))
    .values(spent_net=members.c.spent_net + bindparam("delta"))
)

MAX_INVOICE_LENGTH = 200


class Lookup:
    """How a use case finds members and merchants: by a query each, by default. The
    payment engine passes one that answers from rows it read for a whole batch."""

    def member(self, conn: Connection, member_id: object) -> wallets.Member:
        return wallets.find_member(conn, member_id)

    def merchant(self, conn: Connection, merchant_id: object) -> merchants.Merchant:
        return merchants.find_merchant(conn, merchant_id)


BY_QUERY = Lookup()


def _check_channel(channel: object) -> Channel:
    if channel not in CHANNELS:
        raise errors.InvalidRequest("channel must be card, qr or online", field="channel")
    return channel


def pay(
    conn: Connection,
    *,
    member_id: object,
    merchant_id: object,
    amount_krw: object,
    at: datetime,
    channel: object = "card",
    coupon_id: object = None,
    invoice: object = None,
    ref: str | None = None,
    booking: Booking | None = None,
    lookup: Lookup = BY_QUERY,
) -> dict[str, Any]:
    """A member pays a merchant from its wallet (SPEC 3.6).

    With ``booking``, the payment is booked into it and written when the caller flushes
    it; without, it is written before this returns.
    """
    channel = _check_channel(channel)
    member = lookup.member(conn, member_id)
    merchant = lookup.merchant(conn, merchant_id)
    if not money.is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if not merchant.active:
        raise errors.MerchantInactive(field="merchant")
    own = booking is None
    booking = booking or Booking(conn, policy.catalog(conn))
    cat = booking.cat
    if merchant.district not in cat.issuers.region(member.card_issuer_id):
        raise errors.MerchantNotInRegion(field="merchant")
    coupon = _check_coupon(conn, booking, coupon_id, member.id, merchant, amount_krw, at)
    if invoice is not None and (not isinstance(invoice, str) or len(invoice) > MAX_INVOICE_LENGTH):
        raise errors.InvalidRequest("invoice must be a short text", field="invoice")
    cost = money.price(amount_krw, merchant.discount_bps, coupon.value_krw if coupon else None)
    payer = member_payer(member)
    cb, fs = booking.rules(payer, merchant, channel, at, cashback=True)
    ticket = Ticket(payer, merchant, amount_krw, channel, at, cb, fs, ref)
    result = booking.book(ticket, cost, coupon_id=coupon.id if coupon else None, invoice=invoice)
    if own:
        booking.flush()
    return result


def _check_coupon(
    conn: Connection,
    booking: Booking,
    coupon_id: object,
    member_id: str,
    merchant: merchants.Merchant,
    amount_krw: int,
    at: datetime,
) -> merchants.Coupon | None:
    """The coupon checks of SPEC 3.12, in the scenario format's order."""
    if coupon_id is None:
        return None
    coupon = merchants.find_coupon(conn, coupon_id)
    if coupon.merchant_id != merchant.id:
        raise errors.CouponWrongMerchant(field="coupon")
    if booking.claim_used(coupon.id, member_id) or not merchants.coupon_held(
        conn, coupon.id, member_id
    ):
        raise errors.CouponNotHeld(field="coupon")
    if not coupon.valid_on(kst_day(at)):
        raise errors.CouponExpired(field="coupon")
    discount = money.apply_bps(amount_krw, merchant.discount_bps)
    if amount_krw - discount < coupon.min_spend_krw:
        raise errors.CouponMinSpend(field="coupon")
    return coupon


def group_pay(
    conn: Connection,
    *,
    group_id: object,
    by_member_id: object,
    merchant_id: object,
    amount_krw: object,
    at: datetime,
    channel: object = "card",
    ref: str | None = None,
) -> dict[str, Any]:
    """A group's owner pays a merchant from the group's pool: no coupon, no cashback (3.14)."""
    from eum.community import service as community

    channel = _check_channel(channel)
    group = community.find_group(conn, group_id)
    by = wallets.find_member(conn, by_member_id)
    merchant = merchants.find_merchant(conn, merchant_id)
    if not money.is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if by.id != group.owner_id:
        raise errors.NotGroupOwner(field="by")
    if not merchant.active:
        raise errors.MerchantInactive(field="merchant")
    cat = policy.catalog(conn)
    if merchant.district not in cat.issuers.region(by.card_issuer_id):
        raise errors.MerchantNotInRegion(field="merchant")
    cost = money.price(amount_krw, merchant.discount_bps, None)
    payer = Payer(
        "group", by.id, group.id, by.card_issuer_id, by.card_kind, None, group.pool_account_id
    )
    cb, fs = rules_for(cat, payer, merchant, channel, at, cashback=False)
    booking = Booking(conn, cat)
    result = booking.book(Ticket(payer, merchant, amount_krw, channel, at, cb, fs, ref), cost)
    booking.flush()
    return result


def find_payment(
    conn: Connection, *, ref: object = None, payment_id: object = None, lock: bool = False
) -> Any:
    """A successful payment by the client's reference (its pay key) or by id; with
    ``lock``, its row is locked until the transaction ends (PostgreSQL; SQLite's writers
    already run one at a time)."""
    query = select(payments).with_for_update() if lock else select(payments)
    if payment_id is not None:
        try:
            query = query.where(payments.c.id == int(str(payment_id)))
        except ValueError:
            raise errors.UnknownPayment(field="payment") from None
    elif isinstance(ref, str):
        query = query.where(payments.c.ref == ref)
    else:
        raise errors.UnknownPayment(field="payment")
    row = conn.execute(query).first()
    if row is None:
        raise errors.UnknownPayment(field="payment")
    return row


def refund(
    conn: Connection,
    *,
    amount_krw: object,
    at: datetime,
    ref: object = None,
    payment_id: object = None,
) -> dict[str, Any]:
    """Refund part or all of a payment, recomputing what it earned on what remains (3.9).

    The payment's row is locked before its refunded total is read: two refunds of one
    payment at once run one after the other, the second seeing what the first refunded.
    """
    payment = find_payment(conn, ref=ref, payment_id=payment_id, lock=True)
    if not money.is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if amount_krw > payment.charged - payment.refunded:
        raise errors.RefundExceedsPayment(field="amount")
    lines = conn.execute(
        select(payment_lines)
        .where(payment_lines.c.payment_id == payment.id)
        .order_by(payment_lines.c.seq)
    ).all()
    cb = {ln.rule_id: ln.amount for ln in lines if ln.kind == "cashback"}
    fs = {ln.rule_id: ln.amount for ln in lines if ln.kind == "fee_support"}
    split = refund_rules.split_refund(
        charged_krw=payment.charged,
        refunded_krw=payment.refunded,
        refund_krw=amount_krw,
        from_cashback_krw=payment.from_cashback,
        fee_krw=payment.fee,
        cashback_krw=cb,
        qualifying_krw={ln.rule_id: ln.qualifying for ln in lines if ln.kind == "cashback"},
        fee_support_krw=fs,
    )
    merchant = merchants.find_merchant(conn, payment.merchant_id)
    payer_accounts = _payer_accounts(conn, payment)
    source_of = {ln.rule_id: ln.account_id for ln in lines}
    fees_account = policy.catalog(conn).external_accounts[FEES_ACCOUNT]
    locked = ledger.lock_balances(
        conn,
        [
            *(a for a in payer_accounts if a is not None),
            merchant.receivable_account_id,
            fees_account,
            *source_of.values(),
        ],
    )
    pairs = _refund_pairs(payer_accounts, locked, split, amount_krw, source_of)
    pairs += [
        (
            merchant.receivable_account_id,
            -(amount_krw - split.fee_krw + split.fee_support_total_krw),
        ),
        (fees_account, -split.fee_krw),
    ]
    refund_id = ledger.entry_ids.next()
    ledger.post(conn, "refund", at, pairs, ref=payment.ref, entry_id=refund_id)
    refunded = payment.refunded + amount_krw
    status = "refunded" if refunded == payment.charged else "partially_refunded"
    conn.execute(
        update(payments).where(payments.c.id == payment.id).values(refunded=refunded, status=status)
    )
    conn.execute(
        insert(refunds).values(
            id=refund_id,
            payment_id=payment.id,
            amount=amount_krw,
            cashback_back=split.cashback_total_krw,
            fee_back=split.fee_krw,
            fee_support_back=split.fee_support_total_krw,
            at=at,
        )
    )
    capped = {ln.rule_id for ln in lines if ln.capped}
    for rule_id, back in split.qualifying_krw.items():
        if back and rule_id in capped and payment.member_id is not None:
            # The cap is given back to the month of the original payment (SPEC 3.9).
            add_to_counter(
                conn,
                cap_usage,
                {"rule_id": rule_id, "member_id": payment.member_id, "month": payment.month},
                "used",
                -back,
            )
    if payment.payer_kind == "member":
        conn.execute(_ADD_SPENT, {"mid": payment.member_id, "delta": -amount_krw})
    budget_of = {ln.rule_id: ln.budget_id for ln in lines}
    tally = Tally()
    tally.refunded(
        merchant_id=payment.merchant_id,
        district=merchant.district,
        category=merchant.category,
        card_issuer_id=payment.card_issuer_id or "",
        paid_at=payment.at,
        at=at,
        amount=amount_krw,
        fee_back=split.fee_krw,
        lines_back=[
            *((r, budget_of[r], "cashback", won) for r, won in split.cashback_krw.items()),
            *((r, budget_of[r], "fee_support", won) for r, won in split.fee_support_krw.items()),
        ],
    )
    tally.flush(conn)
    return {
        "refund_id": str(refund_id),
        "payment_id": str(payment.id),
        "amount": amount_krw,
        "refunded": refunded,
        "status": status,
        "cashback_returned": split.cashback_total_krw,
        "fee_returned": split.fee_krw,
        "fee_support_returned": split.fee_support_total_krw,
    }


def _payer_accounts(conn: Connection, payment: Any) -> tuple[int | None, int]:
    """(cashback, charged) accounts of a member payment; (None, pool) of a group payment."""
    if payment.payer_kind == "member":
        member = wallets.find_member(conn, payment.member_id)
        return member.cashback_account_id, member.charged_account_id
    from eum.community import service as community

    return None, community.find_group(conn, payment.group_id).pool_account_id


def _refund_pairs(
    payer_accounts: tuple[int | None, int],
    locked: dict[int, int],
    split: refund_rules.RefundSplit,
    amount_krw: int,
    source_of: dict[str, int],
) -> list[tuple[int, int]]:
    """The payer's and the budgets' side of a refund (SPEC 3.9)."""
    cashback_acc, charged_acc = payer_accounts
    back_to: dict[int, int] = defaultdict(int)
    for rule_id, back in split.fee_support_krw.items():
        back_to[source_of[rule_id]] += back
    if cashback_acc is None:  # a group payment earned no cashback: all back to the pool
        return [(charged_acc, amount_krw), *back_to.items()]
    to_cashback = split.from_cashback_krw
    cashback_after = locked[cashback_acc] + to_cashback
    charged_after = locked[charged_acc] + amount_krw - to_cashback
    # The wallet returns the cashback difference, from cashback first, then charged. The
    # refund itself covers it unless a payment earned more than 100% back; a shortfall is
    # then not clawed back and its budgets are made whole only for what was returned.
    claw = min(split.cashback_total_krw, cashback_after + charged_after)
    claw_cashback = min(claw, cashback_after)
    left = claw
    for rule_id, back in split.cashback_krw.items():
        take = min(back, left)
        left -= take
        back_to[source_of[rule_id]] += take
    return [
        (cashback_acc, to_cashback - claw_cashback),
        (charged_acc, amount_krw - to_cashback - (claw - claw_cashback)),
        *back_to.items(),
    ]


def settle(conn: Connection, *, at: datetime) -> dict[str, Any]:
    """Pay every merchant's positive receivable out to its bank; negatives carry over (3.10)."""
    rows = conn.execute(
        select(
            merchants_table.c.id,
            merchants_table.c.receivable_account_id,
            merchants_table.c.payout_account_id,
        )
        .select_from(
            merchants_table.join(accounts, accounts.c.id == merchants_table.c.receivable_account_id)
        )
        .where(accounts.c.balance > 0)
    ).all()
    locked = ledger.lock_balances(conn, [r.receivable_account_id for r in rows])
    pairs: list[tuple[int, int]] = []
    lines = []
    for r in rows:
        due = locked[r.receivable_account_id]
        if due > 0:
            pairs += [(r.receivable_account_id, -due), (r.payout_account_id, due)]
            lines.append({"merchant_id": r.id, "amount": due})
    settlement_id = ledger.entry_ids.next()
    total = sum(line["amount"] for line in lines)
    if lines:
        ledger.post(conn, "settle", at, pairs, entry_id=settlement_id)
        conn.execute(
            insert(settlements).values(id=settlement_id, at=at, merchants=len(lines), amount=total)
        )
        conn.execute(
            insert(settlement_lines), [{"settlement_id": settlement_id, **ln} for ln in lines]
        )
    return {
        "settlement_id": str(settlement_id) if lines else None,
        "merchants": len(lines),
        "amount": total,
    }
