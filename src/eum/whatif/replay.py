"""What a draft rule set would have done: the recorded payments of a period, replayed
under the draft in a sandbox database (issue "Budget foresight", part 2).

``record`` reads the live database (only reads): the issuers, merchants and groups as
they are, the members who paid in the period, and the period's events in time order —
every payment of a member or a group with its merchant, list price, channel, coupon and
time, the refunds of those payments up to the period's end, and the fundings and
closings of the live budgets the draft draws on. ``replay`` builds a fresh sandbox
platform from that and the draft through the same services the API uses (payments go
through the payment engine's batch booking, ``engine.commit_batch``), and ``report``
(``eum.whatif.report``) compares it with what really happened.

What the sandbox needs beyond the record, and why:
- Members and group pools are topped up before the period with what their payments
  will charge (a charge; a pool by a sandbox funding entry), so no payment fails for
  want of money: cashback never depends on how a wallet's balance was split (SPEC 3.7
  computes it on ``charged``), and the draft may pay more or less cashback than the
  members really had to spend.
- Limits are off in the sandbox (the top-up is one charge).
- Budgets the draft lists take the draft's amount; the live budgets it draws on start
  with what they held when the period began (their balance now minus everything that
  moved since, from the day counters), and get their recorded fundings again.
- Monthly caps start empty on the first day: a period that starts mid-month does not
  see what earlier payments of that month used (start on the 1st for exact caps).
- Merchants, members and groups are replayed as they are now (tier, fees, card).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from eum.clock import KST
from eum.community import service as community
from eum.community.store import user_group_members, user_groups
from eum.db import run_in_transaction
from eum.ledger import service as ledger
from eum.ledger.store import journal_entries, postings
from eum.merchants.store import (
    coupons,
    merchant_group_members,
    merchant_groups,
    merchants,
)
from eum.payments.engine import PayRequest, commit_batch
from eum.payments.store import payments, refunds
from eum.policy import service as policy
from eum.policy.store import budgets, issuer_districts, issuers, rules
from eum.scenario import ScenarioError, apply_setup, parse_yaml, validate
from eum.stats import foresight
from eum.wallets import service as wallets
from eum.wallets.store import members

BATCH = 1000  # payments booked per sandbox transaction (the engine's batch size)
SANDBOX_ACCOUNT = "external:sandbox"  # where the sandbox's pool top-ups come from
DRAFT_SECTIONS = {"name", "rules", "budgets"}
Progress = Callable[[str], Any]


# --- the draft ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A rule set to try: rules in the scenario files' format (and the budgets it opens)."""

    name: str
    rules: list[dict[str, Any]]
    budgets: list[dict[str, Any]] = field(default_factory=list)


def draft_from_doc(doc: object, source: str = "draft") -> Draft:
    """A parsed YAML draft: ``rules`` (required) and ``budgets`` as in scenario files."""
    if not isinstance(doc, dict):
        raise ScenarioError("file: must be a mapping with rules (and budgets)")
    for key in doc:
        if key not in DRAFT_SECTIONS:
            raise ScenarioError(f"{key}: unknown section (a draft has rules and budgets)")
    if not doc.get("rules"):
        raise ScenarioError("rules: a draft needs at least one rule")
    checked = validate({k: v for k, v in doc.items() if k != "name"}, source)
    return Draft(
        str(doc.get("name") or source),
        list(checked.setup.get("rules") or []),
        list(checked.setup.get("budgets") or []),
    )


def load_draft(path: str | Path) -> Draft:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"file: cannot read {path}: {exc.strerror}") from None
    return draft_from_doc(parse_yaml(text), str(path))


def live_rules(conn: Connection) -> dict[str, Any]:
    """The live, active rules in the draft format, in definition order: where a draft
    starts from (``eum policy rules``)."""
    out = []
    for row in conn.execute(select(rules).where(rules.c.active.is_(True)).order_by(rules.c.seq)):
        spec = policy.rule_spec(row)
        spec.pop("active", None)
        out.append({k: v for k, v in spec.items() if v not in (None, [], "")})
    return {"name": "live", "rules": out}


# --- the period and what was recorded ---------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the period ends before it starts")

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=KST)

    @property
    def end(self) -> datetime:
        """The first instant after the period (midnight KST after its last day)."""
        after = self.last + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=KST)

    def days(self) -> list[str]:
        return [
            (self.first + timedelta(days=k)).isoformat()
            for k in range((self.last - self.first).days + 1)
        ]


@dataclass
class Recorded:
    """What the live database recorded: the sandbox's set-up and the period's events."""

    period: Period
    setup: dict[str, Any]
    events: list[tuple[datetime, int, str, dict[str, Any]]]  # (at, order, op, fields)
    top_ups: dict[str, int]  # member -> won its payments charge
    pool_top_ups: dict[str, int]  # group -> won its payments charge
    live_budgets: dict[str, int]  # live budget -> what it held when the period began
    payments: int = 0
    refunds: int = 0


def _issuers(conn: Connection) -> list[dict[str, Any]]:
    own: dict[str, list[str]] = defaultdict(list)
    for r in conn.execute(select(issuer_districts).order_by(issuer_districts.c.district)):
        own[r.issuer_id].append(r.district)
    rows = {r.id: r for r in conn.execute(select(issuers))}
    depth: dict[str, int] = {}

    def level(i: str) -> int:
        if i not in depth:
            parent = rows[i].parent_id
            depth[i] = 0 if parent is None else level(parent) + 1
        return depth[i]

    out = []
    for i in sorted(rows, key=lambda i: (level(i), i)):  # parents before children
        item: dict[str, Any] = {"id": i, "name": rows[i].name, "districts": own.get(i, [])}
        if rows[i].parent_id is not None:
            item["parent"] = rows[i].parent_id
        out.append(item)
    return out


def _merchants(conn: Connection) -> list[dict[str, Any]]:
    out = []
    for m in conn.execute(select(merchants).order_by(merchants.c.id)):
        item: dict[str, Any] = {
            "id": m.id,
            "name": m.name,
            "district": m.district,
            "tier": m.tier,
            "annual_sales": int(m.annual_sales),
            "card_fee_bps": int(m.card_fee_bps),
            "active": True,  # it was when its recorded payments were made
        }
        if m.category:
            item["category"] = m.category
        if m.tier == "benefit_plus":
            item["discount_bps"] = int(m.discount_bps)
        out.append(item)
    return out


def _merchant_groups(conn: Connection) -> list[dict[str, Any]]:
    held: dict[str, list[str]] = defaultdict(list)
    for r in conn.execute(
        select(merchant_group_members).order_by(merchant_group_members.c.merchant_id)
    ):
        held[r.group_id].append(r.merchant_id)
    return [
        {"id": g.id, "name": g.name, "merchants": held.get(g.id, [])}
        for g in conn.execute(select(merchant_groups).order_by(merchant_groups.c.id))
    ]


FUNDING_OPS = {"fund": "fund", "budget_close": "close"}


def record(conn: Connection, period: Period, draft: Draft) -> Recorded:
    """Read what the sandbox needs from the live database (reads only)."""
    start, end = period.start, period.end
    in_period = (payments.c.at >= start) & (payments.c.at < end)
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    top_ups: dict[str, int] = defaultdict(int)
    pool_top_ups: dict[str, int] = defaultdict(int)
    payers: set[str] = set()
    groups_used: set[str] = set()
    coupons_used: set[str] = set()
    count = 0
    for p in conn.execute(select(payments).where(in_period).order_by(payments.c.id)):
        count += 1
        fields: dict[str, Any] = {
            "key": f"p{p.id}",
            "merchant": p.merchant_id,
            "amount": int(p.amount),
            "channel": p.channel,
        }
        if p.payer_kind == "group":
            fields.update(group=p.group_id)
            groups_used.add(p.group_id)
            pool_top_ups[p.group_id] += int(p.charged)
            events.append((p.at, p.id, "group_pay", fields))
            continue
        fields["member"] = p.member_id
        payers.add(p.member_id)
        top_ups[p.member_id] += int(p.charged)
        if p.coupon_id is not None:
            fields["coupon"] = p.coupon_id
            coupons_used.add(p.coupon_id)
        events.append((p.at, p.id, "pay", fields))
    n_refunds = 0
    for r in conn.execute(
        select(refunds.c.id, refunds.c.payment_id, refunds.c.amount, refunds.c.at)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .where(in_period, refunds.c.at < end)
        .order_by(refunds.c.id)
    ):
        n_refunds += 1
        events.append(
            (r.at, r.id, "refund", {"payment": f"p{r.payment_id}", "amount": int(r.amount)})
        )
    drafted = {b["id"] for b in draft.budgets}
    drawn = {r["budget"] for r in draft.rules if r.get("budget")} - drafted
    live_budgets = foresight.held_at(conn, drawn, period.first)
    if live_budgets:
        rows = conn.execute(
            select(budgets.c.id, journal_entries.c.id.label("entry"), journal_entries.c.kind)
            .add_columns(journal_entries.c.at, postings.c.amount)
            .join(postings, postings.c.account_id == budgets.c.account_id)
            .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
            .where(
                budgets.c.id.in_(sorted(live_budgets)),
                journal_entries.c.kind.in_(sorted(FUNDING_OPS)),
                journal_entries.c.at >= start,
                journal_entries.c.at < end,
            )
        )
        for b, entry, kind, at, amount in rows:
            events.append((at, entry, FUNDING_OPS[kind], {"budget": b, "amount": int(amount)}))
    events.sort(key=lambda e: (e[0], e[1]))
    owners: dict[str, str] = {}
    group_items = []
    if groups_used:
        held: dict[str, list[str]] = defaultdict(list)
        for r in conn.execute(
            select(user_group_members).where(user_group_members.c.group_id.in_(sorted(groups_used)))
        ):
            held[r.group_id].append(r.member_id)
        for g in conn.execute(
            select(user_groups)
            .where(user_groups.c.id.in_(sorted(groups_used)))
            .order_by(user_groups.c.id)
        ):
            owners[g.id] = g.owner_id
            group_items.append(
                {"id": g.id, "name": g.name, "owner": g.owner_id, "members": sorted(held[g.id])}
            )
            payers.update(held[g.id])
    for _at, _order, op, f in events:
        if op == "group_pay":
            f["by"] = owners[f["group"]]
    member_items = (
        [
            {"id": m.id, "card": m.card_issuer_id, "kind": m.card_kind}
            for m in conn.execute(
                select(members.c.id, members.c.card_issuer_id, members.c.card_kind)
                .where(members.c.id.in_(sorted(payers)))
                .order_by(members.c.id)
            )
        ]
        if payers
        else []
    )
    coupon_items = []
    if coupons_used:
        for c in conn.execute(select(coupons).where(coupons.c.id.in_(sorted(coupons_used)))):
            item: dict[str, Any] = {
                "id": c.id,
                "merchant": c.merchant_id,
                "value": int(c.value),
                "min_spend": int(c.min_spend),
            }
            if c.valid_from is not None:
                item["from"] = c.valid_from
            if c.valid_until is not None:
                item["until"] = c.valid_until
            coupon_items.append(item)
    platform = policy.platform(conn)
    setup = {
        "platform": {
            "pg_fee_bps": platform.pg_fee_bps,
            "withdraw_min_used_bps": platform.withdraw_min_used_bps,
        },
        "issuers": _issuers(conn),
        "merchants": _merchants(conn),
        "merchant_groups": _merchant_groups(conn),
        "budgets": [
            *draft.budgets,
            *(
                {"id": b, "owner": _budget_owner(conn, b), "amount": max(0, left)}
                for b, left in sorted(live_budgets.items())
            ),
        ],
        "rules": draft.rules,
        "members": member_items,
        "coupons": coupon_items,
        "groups": group_items,
    }
    return Recorded(
        period, setup, events, dict(top_ups), dict(pool_top_ups), live_budgets, count, n_refunds
    )


def _budget_owner(conn: Connection, budget_id: str) -> str:
    return str(
        conn.execute(select(budgets.c.owner_id).where(budgets.c.id == budget_id)).scalar_one()
    )


# --- the replay -------------------------------------------------------------------------------


@dataclass
class Replayed:
    """How the replay went: payments booked and refused (by error code)."""

    booked: int = 0
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refunds: int = 0
    seconds: float = 0.0


def _top_up(conn: Connection, recorded: Recorded) -> None:
    """Every payer's wallet or pool gets what its payments will charge, just before the
    period begins (one charge; a pool from the sandbox's own account)."""
    before = recorded.period.start - timedelta(seconds=1)
    for member_id, won in sorted(recorded.top_ups.items()):
        if won > 0:
            wallets.charge(conn, member_id=member_id, amount_krw=won, at=before)
    if recorded.pool_top_ups:
        source = ledger.account_id(conn, SANDBOX_ACCOUNT) or ledger.open_account(
            conn, SANDBOX_ACCOUNT, "external", allow_negative=True
        )
        for group_id, won in sorted(recorded.pool_top_ups.items()):
            pool = community.find_group(conn, group_id).pool_account_id
            ledger.post(conn, "sandbox_top_up", before, [(source, -won), (pool, won)], ref=group_id)


def replay(recorded: Recorded, sandbox: Engine, progress: Progress | None = None) -> Replayed:
    """Build the sandbox platform and feed it the recorded events, in time order, through
    the services: payments in batches through the payment engine's booking."""
    say = progress or (lambda _m: None)
    began = time.perf_counter()
    try:
        run_in_transaction(sandbox, apply_setup, recorded.setup)
    except ScenarioError:
        raise
    run_in_transaction(sandbox, _top_up, recorded)
    out = Replayed()
    pending: list[PayRequest] = []
    claims: list[tuple[str, str, datetime]] = []
    total = len(recorded.events)
    last_said = time.perf_counter()

    def flush() -> None:
        nonlocal pending, claims
        if claims:
            run_in_transaction(sandbox, _claim_all, claims)
        if pending:
            for outcome in commit_batch(sandbox, pending).outcomes:
                _count(out, outcome)
        pending, claims = [], []

    for done, (at, _order, op, f) in enumerate(recorded.events, 1):
        if op == "pay":
            if "coupon" in f:
                claims.append((f["member"], f["coupon"], at))
            pending.append(
                PayRequest(
                    member_id=f["member"],
                    merchant_id=f["merchant"],
                    amount_krw=f["amount"],
                    at=at,
                    channel=f["channel"],
                    coupon_id=f.get("coupon"),
                    ref=f["key"],
                )
            )
            if len(pending) >= BATCH:
                flush()
        else:
            flush()
            _count(out, _one(sandbox, op, f, at))
            if op == "refund":
                out.refunds += 1
        if time.perf_counter() - last_said >= 2.0:
            last_said = time.perf_counter()
            say(f"  {done:,} / {total:,} events ({at.date().isoformat()})")
    flush()
    out.seconds = time.perf_counter() - began
    say(f"  {total:,} events replayed in {out.seconds:.1f} s")
    return out


def _claim_all(conn: Connection, claims: Sequence[tuple[str, str, datetime]]) -> None:
    from eum.errors import EumError
    from eum.merchants import service as merchants_service

    for member_id, coupon_id, at in claims:
        with contextlib.suppress(EumError):  # claimed before: the payment then says so
            merchants_service.claim_coupon(conn, member_id=member_id, coupon_id=coupon_id, at=at)


def _count(out: Replayed, outcome: Mapping[str, Any] | Exception) -> None:
    if isinstance(outcome, Exception):
        out.refused[type(outcome).__name__] += 1
    elif outcome.get("ok", True) is False:
        out.refused[str(outcome.get("error"))] += 1
    elif "payment_id" in outcome and "refund_id" not in outcome:
        out.booked += 1


def _one(sandbox: Engine, op: str, f: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A recorded event other than a member's payment, in a transaction of its own, as
    the scenario runner calls its service (a closing, which scenarios lack, directly)."""
    from eum.errors import EumError
    from eum.scenario import _dispatch

    def unit(conn: Connection) -> dict[str, Any]:
        if op == "close":
            return policy.close_budget(conn, budget_id=f["budget"], at=at)
        return _dispatch(conn, {"op": op, **f}, at)

    try:
        return {"ok": True, **run_in_transaction(sandbox, unit)}
    except EumError as exc:
        return {"ok": False, "error": exc.code}
