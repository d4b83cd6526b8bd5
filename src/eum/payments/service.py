"""Use cases of payments: pay (SPEC 3.6), group pay (3.14), refund (3.9), settle (3.10).

Each use case checks everything first, in the order the scenario format lists, and
only then writes: one balanced ledger entry plus the payment's own rows, in one
transaction. Balance rows are locked in ascending id order before they are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from eum import errors
from eum.clock import kst_day, kst_month
from eum.db import add_to_counter
from eum.ledger import service as ledger
from eum.ledger.store import accounts
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchants_table
from eum.money import refunds as refund_rules
from eum.money import rules as money
from eum.money.model import CHANNELS, Line, Price, Sale
from eum.payments.store import payment_lines, payments, refunds, settlement_lines, settlements
from eum.policy import service as policy
from eum.policy.model import Catalog
from eum.policy.store import cap_usage
from eum.wallets import service as wallets
from eum.wallets.store import members

FEES_ACCOUNT = "external:fees"  # card and gateway fees, owed to the card network / PG
_ADD_SPENT = (
    update(members)
    .where(members.c.id == bindparam("mid"))
    .values(spent_net=members.c.spent_net + bindparam("delta"))
)
MAX_INVOICE_LENGTH = 200


@dataclass(frozen=True)
class Payer:
    """Who pays: a member's wallet, or a user group's pool (which has no cashback side)."""

    kind: str  # member | group
    member_id: str | None
    group_id: str | None
    card_issuer_id: str
    card_kind: str
    cashback_account_id: int | None
    charged_account_id: int  # the pool for a group


def _check_channel(channel: object) -> str:
    if channel not in CHANNELS:
        raise errors.InvalidRequest("channel must be card, qr or online", field="channel")
    assert isinstance(channel, str)
    return channel


def _sale(
    cat: Catalog,
    payer: Payer,
    merchant: merchants.Merchant,
    groups: frozenset[str],
    channel: str,
    at: datetime,
) -> Sale:
    return Sale(
        card_issuer=payer.card_issuer_id,
        card_kind=payer.card_kind,  # type: ignore[arg-type]
        merchant_district=merchant.district,
        merchant_tier=merchant.tier,
        merchant_annual_sales_krw=merchant.annual_sales_krw,
        merchant_groups=groups,
        channel=channel,  # type: ignore[arg-type]
        day=kst_day(at),
    )


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
) -> dict[str, Any]:
    """A member pays a merchant from its wallet (SPEC 3.6)."""
    channel = _check_channel(channel)
    member = wallets.find_member(conn, member_id)
    merchant = merchants.find_merchant(conn, merchant_id)
    if not money.is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if not merchant.active:
        raise errors.MerchantInactive(field="merchant")
    cat = policy.catalog(conn)
    if merchant.district not in cat.issuers.region(member.card_issuer_id):
        raise errors.MerchantNotInRegion(field="merchant")
    coupon = _check_coupon(conn, coupon_id, member.id, merchant, amount_krw, at)
    if invoice is not None and (not isinstance(invoice, str) or len(invoice) > MAX_INVOICE_LENGTH):
        raise errors.InvalidRequest("invoice must be a short text", field="invoice")
    cost = money.price(amount_krw, merchant.discount_bps, coupon.value_krw if coupon else None)
    payer = Payer(
        "member",
        member.id,
        None,
        member.card_issuer_id,
        member.card_kind,
        member.cashback_account_id,
        member.charged_account_id,
    )
    result = _book(
        conn,
        cat,
        payer,
        merchant,
        cost,
        channel,
        at,
        with_cashback=True,
        coupon_id=coupon.id if coupon else None,
        invoice=invoice,
        ref=ref,
    )
    if coupon is not None:
        merchants.use_coupon(conn, coupon.id, member.id, int(result["payment_id"]))
    return result


def _check_coupon(
    conn: Connection,
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
    if not merchants.coupon_held(conn, coupon.id, member_id):
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
    return _book(
        conn,
        cat,
        payer,
        merchant,
        cost,
        channel,
        at,
        with_cashback=False,
        coupon_id=None,
        invoice=None,
        ref=ref,
    )


def _book(
    conn: Connection,
    cat: Catalog,
    payer: Payer,
    merchant: merchants.Merchant,
    cost: Price,
    channel: str,
    at: datetime,
    *,
    with_cashback: bool,
    coupon_id: str | None,
    invoice: object,
    ref: str | None,
) -> dict[str, Any]:
    """Steps 4-6 of SPEC 3.6: funds, cashback, fees and fee support, then one entry."""
    sale = _sale(cat, payer, merchant, cat.groups_of(merchant.id), channel, at)
    cb_rules = [r for r in cat.cashback_rules if money.matches(r, sale)] if with_cashback else []
    fs_rules = [r for r in cat.fee_support_rules if money.matches(r, sale)]
    source_of = {r.id: cat.rule_accounts[r.id] for r in (*cb_rules, *fs_rules)}
    fees_account = cat.external_accounts[FEES_ACCOUNT]
    wallet_ids = [a for a in (payer.cashback_account_id, payer.charged_account_id) if a is not None]
    locked = ledger.lock_balances(
        conn, [*wallet_ids, merchant.receivable_account_id, fees_account, *source_of.values()]
    )
    cashback_balance = locked[payer.cashback_account_id] if payer.cashback_account_id else 0
    charged_balance = locked[payer.charged_account_id]
    if cashback_balance + charged_balance < cost.charged_krw:
        raise errors.InsufficientFunds(field="amount")
    # --- every check passed: from here on, only computation and writes ---
    from_cashback, from_charged = money.split_wallet(
        cashback_balance, charged_balance, cost.charged_krw
    )
    month = kst_month(at)
    used = _cap_used(conn, cb_rules, payer.member_id, month)
    remaining = {
        r.budget_id: locked[source_of[r.id]] for r in (*cb_rules, *fs_rules) if r.budget_id
    }
    cb_lines = money.cashback(cb_rules, cost.charged_krw, used, remaining)
    fee = money.fee(cost.charged_krw, channel, merchant.card_fee_bps, cat.platform.pg_fee_bps)  # type: ignore[arg-type]
    fs_lines = money.fee_support(fs_rules, cost.charged_krw, fee, remaining)

    pairs: list[tuple[int, int]] = [
        (payer.charged_account_id, -from_charged),
        (merchant.receivable_account_id, cost.charged_krw - fee),
        (fees_account, fee),
    ]
    if payer.cashback_account_id is not None:
        pairs.append((payer.cashback_account_id, -from_cashback))
        pairs += [(payer.cashback_account_id, ln.amount_krw) for ln in cb_lines]
    pairs += [(source_of[ln.rule_id], -ln.amount_krw) for ln in (*cb_lines, *fs_lines)]
    pairs += [(merchant.receivable_account_id, ln.amount_krw) for ln in fs_lines]
    payment_id = ledger.entry_ids.next()
    ledger.post(conn, "pay", at, pairs, ref=ref, entry_id=payment_id)

    conn.execute(
        insert(payments),
        {
            "id": payment_id,
            "ref": ref,
            "payer_kind": payer.kind,
            "member_id": payer.member_id if payer.kind == "member" else None,
            "group_id": payer.group_id,
            "merchant_id": merchant.id,
            "card_issuer_id": payer.card_issuer_id,
            "channel": channel,
            "amount": cost.amount_krw,
            "discount": cost.discount_krw,
            "coupon_id": coupon_id,
            "coupon_off": cost.coupon_off_krw,
            "charged": cost.charged_krw,
            "from_cashback": from_cashback,
            "fee": fee,
            "refunded": 0,
            "status": "paid",
            "invoice": invoice,
            "at": at,
            "month": month,
        },
    )
    lines = [*cb_lines, *fs_lines]
    capped = {r.id for r in cb_rules if r.monthly_cap_krw is not None}
    if lines:
        conn.execute(
            insert(payment_lines),
            [
                {
                    "payment_id": payment_id,
                    "rule_id": ln.rule_id,
                    "seq": i,
                    "kind": ln.kind,
                    "budget_id": ln.budget_id,
                    "account_id": source_of[ln.rule_id],
                    "capped": ln.rule_id in capped,
                    "qualifying": ln.qualifying_krw,
                    "amount": ln.amount_krw,
                }
                for i, ln in enumerate(lines)
            ],
        )
    _add_cap_usage(conn, cb_rules, cb_lines, payer.member_id, month, sign=1)
    if payer.kind == "member":
        conn.execute(_ADD_SPENT, {"mid": payer.member_id, "delta": cost.charged_krw})
    return {
        "payment_id": str(payment_id),
        "amount": cost.amount_krw,
        "discount": cost.discount_krw,
        "coupon_off": cost.coupon_off_krw,
        "charged": cost.charged_krw,
        "from_cashback": from_cashback,
        "cashback": {ln.rule_id: ln.amount_krw for ln in cb_lines},
        "fee": fee,
        "fee_support": {ln.rule_id: ln.amount_krw for ln in fs_lines},
    }


def _cap_used(
    conn: Connection, rules: Sequence[Any], member_id: str | None, month: str
) -> dict[str, int]:
    capped = [r.id for r in rules if r.monthly_cap_krw is not None]
    if not capped or member_id is None:
        return {}
    rows = conn.execute(
        select(cap_usage.c.rule_id, cap_usage.c.used).where(
            cap_usage.c.member_id == member_id,
            cap_usage.c.month == month,
            cap_usage.c.rule_id.in_(capped),
        )
    )
    return {r.rule_id: int(r.used) for r in rows}


def _add_cap_usage(
    conn: Connection,
    rules: Sequence[Any],
    lines: Sequence[Line],
    member_id: str | None,
    month: str,
    *,
    sign: int,
) -> None:
    capped = {r.id for r in rules if r.monthly_cap_krw is not None}
    for ln in lines:
        if ln.rule_id in capped and ln.qualifying_krw and member_id is not None:
            add_to_counter(
                conn,
                cap_usage,
                {"rule_id": ln.rule_id, "member_id": member_id, "month": month},
                "used",
                sign * ln.qualifying_krw,
            )


def find_payment(conn: Connection, *, ref: object = None, payment_id: object = None) -> Any:
    """A successful payment by the client's reference (its pay key) or by id."""
    query = select(payments)
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
    """Refund part or all of a payment, recomputing what it earned on what remains (3.9)."""
    payment = find_payment(conn, ref=ref, payment_id=payment_id)
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
