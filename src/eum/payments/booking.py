"""Booking payments: balances in memory, writes set-based, one transaction.

A ``Booking`` belongs to one transaction. It locks every balance row it will move once,
in ascending id order; books payments one after another against those balances in
memory, each exactly as if it were its own transaction in that order; and at ``flush``
writes all of their entries, postings, payment rows and counters with a handful of
set-based statements. ``pay`` books one payment this way; the payment engine books a
whole batch, so a thousand payments cost a few statements and one durable commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from eum import bulk, errors
from eum.clock import kst_day, kst_month
from eum.ledger import service as ledger
from eum.ledger.model import build_postings
from eum.ledger.store import accounts, journal_entries, postings
from eum.merchants.service import Merchant
from eum.merchants.store import coupon_claims
from eum.money import rules as money
from eum.money.model import Channel, Price, Rule, Sale
from eum.payments.store import payment_lines, payments
from eum.policy.model import Catalog
from eum.policy.store import cap_usage
from eum.stats.rollups import Tally
from eum.wallets.store import members

FEES_ACCOUNT = "external:fees"  # card and gateway fees, owed to the card network / PG


@dataclass(frozen=True, slots=True)
class Payer:
    """Who pays: a member's wallet, or a user group's pool (which has no cashback side)."""

    kind: str  # member | group
    member_id: str | None
    group_id: str | None
    card_issuer_id: str
    card_kind: str
    cashback_account_id: int | None
    charged_account_id: int  # the pool for a group

    @property
    def accounts(self) -> tuple[int, ...]:
        if self.cashback_account_id is None:
            return (self.charged_account_id,)
        return (self.cashback_account_id, self.charged_account_id)


def member_payer(member: Any) -> Payer:
    """A member's wallet as the payer (``member``: a ``wallets.service.Member``)."""
    return Payer(
        "member",
        member.id,
        None,
        member.card_issuer_id,
        member.card_kind,
        member.cashback_account_id,
        member.charged_account_id,
    )


@dataclass(frozen=True, slots=True)
class Ticket:
    """A payment that passed every check that needs no balance: what is left to book."""

    payer: Payer
    merchant: Merchant
    amount_krw: int
    channel: Channel
    at: datetime
    cashback_rules: tuple[Rule, ...]
    fee_support_rules: tuple[Rule, ...]
    ref: str | None = None


def rules_for(
    cat: Catalog,
    payer: Payer,
    merchant: Merchant,
    channel: Channel,
    at: datetime,
    *,
    cashback: bool,
) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The cashback and fee-support rules a sale matches, in definition order (3.7, 3.8)."""
    sale = Sale(
        card_issuer=payer.card_issuer_id,
        card_kind=payer.card_kind,  # type: ignore[arg-type]
        merchant_district=merchant.district,
        merchant_tier=merchant.tier,
        merchant_annual_sales_krw=merchant.annual_sales_krw,
        merchant_groups=cat.groups_of(merchant.id),
        channel=channel,
        day=kst_day(at),
    )
    cb = tuple(r for r in cat.cashback_rules if money.matches(r, sale)) if cashback else ()
    fs = tuple(r for r in cat.fee_support_rules if money.matches(r, sale))
    return cb, fs


@dataclass
class Booking:
    """Payments booked in memory in one transaction, written by ``flush``."""

    conn: Connection
    cat: Catalog
    balances: dict[int, int] = field(default_factory=dict)  # locked rows, kept current
    _cap_used: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _cap_loaded: set[tuple[str, str]] = field(default_factory=set)
    _postings: list[tuple[Any, ...]] = field(default_factory=list)
    _entries: list[tuple[Any, ...]] = field(default_factory=list)
    _payments: list[tuple[Any, ...]] = field(default_factory=list)
    _lines: list[tuple[Any, ...]] = field(default_factory=list)
    _moved: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    _cap_delta: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _spent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _coupon_uses: list[dict[str, Any]] = field(default_factory=list)
    _tally: Tally = field(default_factory=Tally)
    _claims_used: set[tuple[str, str]] = field(default_factory=set)
    _matched: dict[tuple[Any, ...], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = field(
        default_factory=dict
    )

    @property
    def fees_account(self) -> int:
        return self.cat.external_accounts[FEES_ACCOUNT]

    def rules(
        self, payer: Payer, merchant: Merchant, channel: Channel, at: datetime, *, cashback: bool
    ) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        """``rules_for``, remembered per card, merchant, channel and day in this booking."""
        key = (payer.card_issuer_id, payer.card_kind, merchant.id, channel, kst_day(at), cashback)
        found = self._matched.get(key)
        if found is None:
            found = rules_for(self.cat, payer, merchant, channel, at, cashback=cashback)
            self._matched[key] = found
        return found

    def accounts_of(self, ticket: Ticket) -> list[int]:
        """Every balance row booking ``ticket`` may move."""
        sources = [self.cat.rule_accounts[r.id] for r in ticket.cashback_rules]
        sources += [self.cat.rule_accounts[r.id] for r in ticket.fee_support_rules]
        return [*ticket.payer.accounts, ticket.merchant.receivable_account_id, *sources]

    def lock(self, account_ids: Iterable[int]) -> None:
        """Lock and read balance rows not locked yet, in ascending id order."""
        held = self.balances
        wanted = {a for a in account_ids if a not in held}
        if self.fees_account not in held:
            wanted.add(self.fees_account)
        if wanted:
            self.balances.update(ledger.lock_balances(self.conn, wanted))

    def load_caps(self, member_months: Iterable[tuple[str, str]]) -> None:
        """Read the cap usage of every (member, month) given, once per booking."""
        wanted = set(member_months) - self._cap_loaded
        if not wanted:
            return
        months = sorted({month for _, month in wanted})
        for chunk in bulk.chunks(sorted({member for member, _ in wanted})):
            rows = self.conn.execute(
                select(cap_usage).where(
                    bulk.any_of(self.conn, cap_usage.c.member_id, chunk),
                    cap_usage.c.month.in_(months),
                )
            )
            for r in rows:
                self._cap_used[(r.rule_id, r.member_id, r.month)] = int(r.used)
        self._cap_loaded |= wanted

    # --- coupons held in this transaction ------------------------------------------

    def claim_used(self, coupon_id: str, member_id: str) -> bool:
        """Whether this booking already used the member's claim of the coupon."""
        return (coupon_id, member_id) in self._claims_used

    # --- booking ---------------------------------------------------------------------

    def book(
        self,
        ticket: Ticket,
        cost: Price,
        *,
        coupon_id: str | None = None,
        invoice: str | None = None,
    ) -> dict[str, Any]:
        """Steps 4-6 of SPEC 3.6 against the in-memory balances: funds, cashback, fees,
        fee support and one balanced entry. Raises ``InsufficientFunds`` before booking
        anything."""
        payer, merchant, cat = ticket.payer, ticket.merchant, self.cat
        self.lock(self.accounts_of(ticket))
        held = self.balances
        cashback_balance = held[payer.cashback_account_id] if payer.cashback_account_id else 0
        charged_balance = held[payer.charged_account_id]
        if cashback_balance + charged_balance < cost.charged_krw:
            raise errors.InsufficientFunds(field="amount")
        # --- every check passed: from here on, only computation and booking ---
        from_cashback, from_charged = money.split_wallet(
            cashback_balance, charged_balance, cost.charged_krw
        )
        month = kst_month(ticket.at)
        source_of = cat.rule_accounts
        cb_rules, fs_rules = ticket.cashback_rules, ticket.fee_support_rules
        capped = {r.id for r in cb_rules if r.monthly_cap_krw is not None}
        used: dict[str, int] = {}
        if payer.member_id is not None and capped:
            if (payer.member_id, month) not in self._cap_loaded:
                self.load_caps([(payer.member_id, month)])
            for r in cb_rules:
                if r.monthly_cap_krw is not None:
                    used[r.id] = self._cap_used.get((r.id, payer.member_id, month), 0)
        remaining = {
            r.budget_id: held[source_of[r.id]] for r in (*cb_rules, *fs_rules) if r.budget_id
        }
        day = kst_day(ticket.at)  # picks each rule's scheduled rate
        cb_lines = money.cashback(cb_rules, cost.charged_krw, used, remaining, day=day)
        fee = money.fee(
            cost.charged_krw, ticket.channel, merchant.card_fee_bps, cat.platform.pg_fee_bps
        )
        fs_lines = money.fee_support(fs_rules, cost.charged_krw, fee, remaining, day=day)

        receivable = merchant.receivable_account_id
        pairs: list[tuple[int, int]] = [
            (payer.charged_account_id, -from_charged),
            (receivable, cost.charged_krw - fee),
            (self.fees_account, fee),
        ]
        if payer.cashback_account_id is not None:
            pairs.append((payer.cashback_account_id, -from_cashback))
            pairs += [(payer.cashback_account_id, ln.amount_krw) for ln in cb_lines]
        pairs += [(source_of[ln.rule_id], -ln.amount_krw) for ln in (*cb_lines, *fs_lines)]
        pairs += [(receivable, ln.amount_krw) for ln in fs_lines]
        payment_id = ledger.entry_ids.next()
        lines = build_postings(pairs)
        moved = self._moved
        for account, amount in lines:
            held[account] += amount
            moved[account] += amount
            self._postings.append((payment_id, account, amount))
        if lines:  # a payment that moved nothing (a coupon paid all of it) has no entry
            self._entries.append((payment_id, "pay", ticket.at, ticket.ref))
        self._payments.append(
            (
                payment_id,
                ticket.ref,
                payer.kind,
                payer.member_id if payer.kind == "member" else None,
                payer.group_id,
                merchant.id,
                payer.card_issuer_id,
                ticket.channel,
                cost.amount_krw,
                cost.discount_krw,
                coupon_id,
                cost.coupon_off_krw,
                cost.charged_krw,
                from_cashback,
                fee,
                0,
                "paid",
                invoice,
                ticket.at,
                month,
                merchant.district,
            )
        )
        for i, ln in enumerate((*cb_lines, *fs_lines)):
            self._lines.append(
                (
                    payment_id,
                    ln.rule_id,
                    i,
                    ln.kind,
                    ln.budget_id,
                    source_of[ln.rule_id],
                    ln.rule_id in capped,
                    ln.qualifying_krw,
                    ln.amount_krw,
                )
            )
        self._tally.paid(
            merchant_id=merchant.id,
            district=merchant.district,
            category=merchant.category,
            card_issuer_id=payer.card_issuer_id,
            member_id=payer.member_id if payer.kind == "member" else None,
            at=ticket.at,
            amount=cost.amount_krw,
            charged=cost.charged_krw,
            fee=fee,
            lines=[
                (ln.rule_id, ln.budget_id, ln.kind, ln.amount_krw) for ln in (*cb_lines, *fs_lines)
            ],
        )
        if payer.member_id is not None:
            for ln in cb_lines:
                if ln.rule_id in used and ln.qualifying_krw:
                    key = (ln.rule_id, payer.member_id, month)
                    self._cap_used[key] = used[ln.rule_id] + ln.qualifying_krw
                    self._cap_delta[key] += ln.qualifying_krw
        if payer.kind == "member":
            assert payer.member_id is not None
            self._spent[payer.member_id] += cost.charged_krw
        if coupon_id is not None:
            assert payer.member_id is not None
            self._claims_used.add((coupon_id, payer.member_id))
            self._coupon_uses.append({"cid": coupon_id, "mid": payer.member_id, "pid": payment_id})
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

    # --- writing -------------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything booked since the last flush; returns the number of payments."""
        conn = self.conn
        done = len(self._payments)
        # The ledger's sealing protocol: an entry's postings first, then its row.
        bulk.insert_rows(conn, postings, POSTING_COLUMNS, self._postings)
        bulk.insert_rows(conn, journal_entries, ENTRY_COLUMNS, self._entries)
        bulk.add_to_column(
            conn, accounts, "id", "balance", [(a, d) for a, d in sorted(self._moved.items()) if d]
        )
        bulk.insert_rows(conn, payments, PAYMENT_COLUMNS, self._payments)
        bulk.insert_rows(conn, payment_lines, LINE_COLUMNS, self._lines)
        bulk.upsert_add(
            conn,
            cap_usage,
            ("rule_id", "member_id", "month"),
            "used",
            [(*k, d) for k, d in sorted(self._cap_delta.items()) if d],
        )
        bulk.add_to_column(conn, members, "id", "spent_net", sorted(self._spent.items()))
        if self._coupon_uses:
            done_uses = conn.execute(_USE_COUPON, self._coupon_uses).rowcount
            assert done_uses == len(self._coupon_uses), "claims are locked with the wallet"
        self._tally.flush(conn)  # last: the counters of what was just written
        for pending in (self._postings, self._entries, self._payments, self._lines):
            pending.clear()
        for counter in (self._moved, self._cap_delta, self._spent):
            counter.clear()
        self._coupon_uses.clear()
        return done


POSTING_COLUMNS = ("entry_id", "account_id", "amount")
ENTRY_COLUMNS = ("id", "kind", "at", "ref")
PAYMENT_COLUMNS = (
    "id",
    "ref",
    "payer_kind",
    "member_id",
    "group_id",
    "merchant_id",
    "card_issuer_id",
    "channel",
    "amount",
    "discount",
    "coupon_id",
    "coupon_off",
    "charged",
    "from_cashback",
    "fee",
    "refunded",
    "status",
    "invoice",
    "at",
    "month",
    "district",
)
LINE_COLUMNS = (
    "payment_id",
    "rule_id",
    "seq",
    "kind",
    "budget_id",
    "account_id",
    "capped",
    "qualifying",
    "amount",
)
_USE_COUPON = (
    update(coupon_claims)
    .where(
        coupon_claims.c.coupon_id == bindparam("cid"),
        coupon_claims.c.member_id == bindparam("mid"),
        coupon_claims.c.used_payment_id.is_(None),
    )
    .values(used_payment_id=bindparam("pid"))
)
