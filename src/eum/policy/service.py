"""Use cases of issuers and policy: the issuer tree, platform settings, budgets, rules."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from eum import errors
from eum.audit import service as audit
from eum.auth.model import Principal
from eum.ledger import service as ledger_service
from eum.ledger.store import accounts
from eum.merchants.store import merchant_group_members, merchant_groups, merchants
from eum.money.model import (
    CARD_KINDS,
    CHANNELS,
    MAX_RATE_BPS,
    MAX_RULE_STEPS,
    RULE_KINDS,
    TIERS,
    Rule,
)
from eum.policy.model import Catalog, IssuerTree, Limits, Platform
from eum.policy.store import (
    budgets,
    issuer_districts,
    issuers,
    platform_settings,
    rule_versions,
    rules,
)

MAX_DISTRICTS = 200
MAX_ID_LENGTH = 64


def _check_id(value: str, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise errors.InvalidRequest(f"{field} must be 1..{MAX_ID_LENGTH} characters", field=field)
    return value


def set_platform(
    conn: Connection,
    *,
    pg_fee_bps: int | None = None,
    withdraw_min_used_bps: int | None = None,
    limits: Mapping[str, Mapping[str, int]] | None = None,
) -> None:
    """Set platform-wide settings; what is not given keeps its current value."""
    values: dict[str, Any] = {}
    if pg_fee_bps is not None:
        values["pg_fee_bps"] = _bps(pg_fee_bps, "pg_fee_bps")
    if withdraw_min_used_bps is not None:
        values["withdraw_min_used_bps"] = _bps(withdraw_min_used_bps, "withdraw_min_used_bps")
    if limits is not None:
        clean: dict[str, dict[str, int]] = {}
        for kind, pair in limits.items():
            if kind not in CARD_KINDS:
                raise errors.InvalidRequest(f"unknown card kind {kind!r}", field="limits")
            for name, value in pair.items():
                if name not in ("monthly_charge", "max_balance") or not _is_krw(value):
                    raise errors.InvalidRequest(f"bad limit {kind}.{name}", field="limits")
            clean[kind] = dict(pair)
        values["limits"] = clean
    for key, value in values.items():
        conn.execute(platform_settings.delete().where(platform_settings.c.key == key))
        conn.execute(insert(platform_settings).values(key=key, value=value))
    touch_policy(conn)


def _is_krw(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bps(value: object, field: str, *, top: int = MAX_RATE_BPS) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise errors.InvalidRequest(f"{field} must be an integer of 0..{top} bps", field=field)
    return value


def platform(conn: Connection) -> Platform:
    values = {r.key: r.value for r in conn.execute(select(platform_settings))}
    limits = {
        kind: Limits(pair.get("monthly_charge"), pair.get("max_balance"))
        for kind, pair in values.get("limits", {}).items()
    }
    return Platform(
        pg_fee_bps=values.get("pg_fee_bps", Platform.pg_fee_bps),
        withdraw_min_used_bps=values.get("withdraw_min_used_bps", Platform.withdraw_min_used_bps),
        limits=limits,
    )


def create_issuer(
    conn: Connection,
    *,
    id: str,
    name: str,
    districts: Iterable[str],
    parent: str | None,
    at: datetime,
) -> None:
    """Add an issuer (a metro when ``parent`` is None, else a district below it)."""
    _check_id(id, "id")
    if conn.execute(select(issuers.c.id).where(issuers.c.id == id)).first():
        raise errors.AlreadyExists(f"issuer {id} exists", field="id")
    if (
        parent is not None
        and not conn.execute(select(issuers.c.id).where(issuers.c.id == parent)).first()
    ):
        raise errors.UnknownIssuer(f"no issuer {parent}", field="parent")
    codes = sorted(set(districts))
    if not codes or len(codes) > MAX_DISTRICTS:
        raise errors.InvalidRequest("an issuer covers 1..200 districts", field="districts")
    funding = ledger_service.open_account(
        conn, f"issuer:{id}:funding", "funding", allow_negative=True
    )
    conn.execute(
        insert(issuers).values(
            id=id, name=name, parent_id=parent, funding_account_id=funding, created_at=at
        )
    )
    conn.execute(insert(issuer_districts), [{"issuer_id": id, "district": d} for d in codes])
    touch_policy(conn)


def issuer_tree(conn: Connection) -> IssuerTree:
    parent = {r.id: r.parent_id for r in conn.execute(select(issuers.c.id, issuers.c.parent_id))}
    districts: dict[str, set[str]] = {i: set() for i in parent}
    for r in conn.execute(select(issuer_districts)):
        districts[r.issuer_id].add(r.district)
    return IssuerTree(parent, {k: frozenset(v) for k, v in districts.items()})


@dataclass(frozen=True)
class BudgetRef:
    id: str
    account_id: int
    funding_account_id: int


def create_budget(
    conn: Connection, *, id: str, owner: str, amount_krw: int, at: datetime, name: str | None = None
) -> None:
    """Open a budget owned by an issuer or a merchant group, funded with ``amount_krw``."""
    _check_id(id, "id")
    if conn.execute(select(budgets.c.id).where(budgets.c.id == id)).first():
        raise errors.AlreadyExists(f"budget {id} exists", field="id")
    if not _is_krw(amount_krw):
        raise errors.InvalidAmount(field="amount")
    issuer = conn.execute(select(issuers.c.funding_account_id).where(issuers.c.id == owner)).first()
    group = conn.execute(
        select(merchant_groups.c.funding_account_id).where(merchant_groups.c.id == owner)
    ).first()
    if issuer is None and group is None:
        raise errors.InvalidRequest(
            f"budget owner {owner} is neither issuer nor merchant group", field="owner"
        )
    funding = (issuer or group)[0]  # type: ignore[index]
    account = ledger_service.open_account(conn, f"budget:{id}", "budget")
    conn.execute(
        insert(budgets).values(
            id=id,
            name=name,
            owner_kind="issuer" if issuer is not None else "merchant_group",
            owner_id=owner,
            account_id=account,
            funding_account_id=funding,
            created_at=at,
        )
    )
    if amount_krw:
        ledger_service.post(
            conn, "budget_open", at, [(funding, -amount_krw), (account, amount_krw)], ref=id
        )
        _count_funding(conn, id, at, amount_krw)
    touch_policy(conn)


def budget_ref(conn: Connection, budget_id: str) -> BudgetRef | None:
    row = conn.execute(
        select(budgets.c.id, budgets.c.account_id, budgets.c.funding_account_id).where(
            budgets.c.id == budget_id
        )
    ).first()
    return None if row is None else BudgetRef(row.id, row.account_id, row.funding_account_id)


def _str_set(value: object, field: str, allowed: Iterable[str] | None = None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidRequest(f"{field} must be a list of names", field=field)
    if allowed is not None:
        bad = [v for v in value if v not in set(allowed)]
        if bad:
            raise errors.InvalidRequest(f"{field}: unknown {bad}", field=field)
    return sorted(set(value))


def create_rule(
    conn: Connection, spec: Mapping[str, Any], *, at: datetime, changed_by: str = "system"
) -> None:
    """Define a cashback or fee-support rule; definition order is the order of creation.

    Version 1 of the rule's history is written with it.
    """
    rule_id = _check_id(spec.get("id", ""), "id")
    if conn.execute(select(rules.c.id).where(rules.c.id == rule_id)).first():
        raise errors.AlreadyExists(f"rule {rule_id} exists", field="id")
    kind = spec.get("kind")
    if kind not in RULE_KINDS:
        raise errors.InvalidRequest("kind must be cashback or fee_support", field="kind")
    tree = issuer_tree(conn)
    owner = spec.get("owner")
    if owner not in tree.parent:
        raise errors.UnknownIssuer(f"no issuer {owner}", field="owner")
    values = _rule_values(conn, spec, tree)
    seq = (conn.execute(select(func.max(rules.c.seq))).scalar() or 0) + 1
    conn.execute(
        insert(rules).values(
            id=rule_id,
            seq=seq,
            kind=kind,
            owner_id=owner,
            active=True,
            created_at=at,
            **values,
        )
    )
    _add_version(conn, rule_id, at=at, changed_by=changed_by, change="created")
    touch_policy(conn)


def _rule_values(conn: Connection, spec: Mapping[str, Any], tree: IssuerTree) -> dict[str, Any]:
    """The checked conditions of a rule (SPEC 3.7), as column values."""
    cards = spec.get("cards")
    if cards is not None and cards not in tree.parent:
        raise errors.UnknownIssuer(f"no issuer {cards}", field="cards")
    budget = spec.get("budget")
    if budget is not None and budget_ref(conn, budget) is None:
        raise errors.UnknownBudget(f"no budget {budget}", field="budget")
    cap = spec.get("monthly_cap")
    if cap is not None and not _is_krw(cap):
        raise errors.InvalidRequest("monthly_cap must be won", field="monthly_cap")
    max_sales = spec.get("max_annual_sales")
    if max_sales is not None and not _is_krw(max_sales):
        raise errors.InvalidRequest("max_annual_sales must be won", field="max_annual_sales")
    valid_from, valid_until = spec.get("from"), spec.get("until")
    if valid_from is not None and not isinstance(valid_from, date):
        raise errors.InvalidRequest("from must be a date", field="from")
    if valid_until is not None and not isinstance(valid_until, date):
        raise errors.InvalidRequest("until must be a date", field="until")
    group = spec.get("merchant_group")
    if group is not None and not isinstance(group, str):
        raise errors.InvalidRequest("merchant_group must be an id", field="merchant_group")
    return {
        "name": spec.get("name"),
        "budget_id": budget,
        "rate_bps": _bps(spec.get("rate_bps"), "rate_bps"),
        "monthly_cap": cap,
        "cards": cards,
        "districts": _str_set(spec.get("districts"), "districts"),
        "card_kinds": _str_set(spec.get("card_kinds"), "card_kinds", CARD_KINDS),
        "merchant_tiers": _str_set(spec.get("merchant_tiers"), "merchant_tiers", TIERS),
        "max_annual_sales": max_sales,
        "channels": _str_set(spec.get("channels"), "channels", CHANNELS),
        "merchant_group": group,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "steps": _steps(spec.get("steps")),
    }


def _steps(value: object) -> list[list[Any]] | None:
    """Scheduled rate changes as stored: ``[[ISO day, rate_bps], ...]``, days strictly
    ascending so that a payment never sorts them; None (or an empty list) is none.

    Each step is ``{"from": date, "rate_bps": int}``; an error names the step's field
    (``steps[1].from``) as the other conditions name theirs.
    """
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) > MAX_RULE_STEPS:
        raise errors.InvalidRequest(
            f"steps must be a list of at most {MAX_RULE_STEPS} rate changes", field="steps"
        )
    stored: list[list[Any]] = []
    previous: date | None = None
    for i, step in enumerate(value):
        where = f"steps[{i}]"
        if not isinstance(step, Mapping):
            raise errors.InvalidRequest(f"{where} must have from and rate_bps", field=where)
        unknown = sorted(str(k) for k in step if k not in ("from", "rate_bps"))
        if unknown:
            raise errors.InvalidRequest(f"{where}: unknown {unknown}", field=where)
        day = step.get("from")
        if not isinstance(day, date) or isinstance(day, datetime):
            raise errors.InvalidRequest(f"{where}.from must be a date", field=f"{where}.from")
        if previous is not None and day <= previous:
            raise errors.InvalidRequest(
                f"{where}.from must come after steps[{i - 1}].from", field=f"{where}.from"
            )
        stored.append([day.isoformat(), _bps(step.get("rate_bps"), f"{where}.rate_bps")])
        previous = day
    return stored or None


def _step_specs(stored: list[list[Any]] | None) -> list[dict[str, Any]]:
    """Stored steps in the words of a rule spec (dates as dates)."""
    return [{"from": date.fromisoformat(day), "rate_bps": bps} for day, bps in stored or ()]


def _compile(row: Any, tree: IssuerTree) -> Rule:
    """Resolve a rule row's defaults against the issuer tree (SPEC 3.7, 3.8)."""
    districts = frozenset(row.districts) if row.districts is not None else tree.covers(row.owner_id)
    if row.kind == "cashback":
        card_issuers: frozenset[str] | None = tree.subtree(row.cards or row.owner_id)
        card_kinds: frozenset[str] | None = frozenset(row.card_kinds or ["personal"])
        channels = frozenset(row.channels) if row.channels is not None else None
    else:  # fee support looks at the merchant, not the card; card payments by default
        card_issuers, card_kinds = None, None
        channels = frozenset(row.channels) if row.channels is not None else frozenset(["card"])
    return Rule(
        id=row.id,
        kind=row.kind,
        owner_id=row.owner_id,
        budget_id=row.budget_id,
        rate_bps=row.rate_bps,
        monthly_cap_krw=row.monthly_cap,
        card_issuers=card_issuers,
        districts=districts,
        card_kinds=card_kinds,
        merchant_tiers=frozenset(row.merchant_tiers) if row.merchant_tiers is not None else None,
        max_annual_sales_krw=row.max_annual_sales,
        channels=channels,
        merchant_group=row.merchant_group,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        steps=tuple((date.fromisoformat(day), int(bps)) for day, bps in row.steps or ()),
    )


POLICY_TOKEN = "policy_token"
_CATALOG_CACHE_SIZE = 16
_catalogs: OrderedDict[str, Catalog] = OrderedDict()
_catalogs_lock = threading.Lock()


def touch_policy(conn: Connection) -> None:
    """Mark the policy as changed: every cached catalog of this database is stale.

    The token is random, so two databases never share one.
    """
    conn.execute(platform_settings.delete().where(platform_settings.c.key == POLICY_TOKEN))
    conn.execute(insert(platform_settings).values(key=POLICY_TOKEN, value=uuid.uuid4().hex))


def catalog(conn: Connection) -> Catalog:
    """Settings, issuer tree and active rules, cached until the policy changes."""
    token = conn.execute(
        select(platform_settings.c.value).where(platform_settings.c.key == POLICY_TOKEN)
    ).scalar()
    if token is None:
        return _load_catalog(conn)
    with _catalogs_lock:
        found = _catalogs.get(token)
        if found is not None:
            _catalogs.move_to_end(token)
            return found
    built = _load_catalog(conn)
    with _catalogs_lock:
        _catalogs[token] = built
        while len(_catalogs) > _CATALOG_CACHE_SIZE:
            _catalogs.popitem(last=False)
    return built


def _load_catalog(conn: Connection) -> Catalog:
    """Settings, issuer tree and active rules in definition order, from the database."""
    tree = issuer_tree(conn)
    compiled = [
        _compile(r, tree)
        for r in conn.execute(select(rules).where(rules.c.active.is_(True)).order_by(rules.c.seq))
    ]
    groups: dict[str, set[str]] = {}
    for row in conn.execute(select(merchant_group_members)):
        groups.setdefault(row.merchant_id, set()).add(row.group_id)
    externals = conn.execute(
        select(accounts.c.code, accounts.c.id).where(accounts.c.kind == "external")
    )
    return Catalog(
        platform=platform(conn),
        issuers=tree,
        cashback_rules=tuple(r for r in compiled if r.kind == "cashback"),
        fee_support_rules=tuple(r for r in compiled if r.kind == "fee_support"),
        rule_accounts=rule_sources(conn, compiled),
        merchant_groups={k: frozenset(v) for k, v in groups.items()},
        external_accounts={r.code: r.id for r in externals},
    )


def rule_sources(conn: Connection, matched: Iterable[Rule]) -> dict[str, int]:
    """The account each rule pays from: its budget, or its owner's funding when it has none."""
    matched = list(matched)
    budget_ids = {r.budget_id for r in matched if r.budget_id is not None}
    owners = {r.owner_id for r in matched if r.budget_id is None}
    by_budget = {}
    if budget_ids:
        by_budget = dict(
            conn.execute(
                select(budgets.c.id, budgets.c.account_id).where(budgets.c.id.in_(budget_ids))
            ).all()
        )
    by_owner = {}
    if owners:
        by_owner = dict(
            conn.execute(
                select(issuers.c.id, issuers.c.funding_account_id).where(issuers.c.id.in_(owners))
            ).all()
        )
    return {
        r.id: by_budget[r.budget_id] if r.budget_id is not None else by_owner[r.owner_id]
        for r in matched
    }


def fund_budget(
    conn: Connection, *, budget_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """Add money to a budget from its owner's funding (SPEC 3.15: a group funds its promotion)."""
    from eum.money.rules import is_valid_amount

    ref = budget_ref(conn, budget_id) if isinstance(budget_id, str) else None
    if ref is None:
        raise errors.UnknownBudget(field="budget")
    if not is_valid_amount(amount_krw):
        raise errors.InvalidAmount(field="amount")
    assert isinstance(amount_krw, int)
    if _budget_closed(conn, ref.id):
        raise errors.InvalidState(f"budget {ref.id} is closed", field="budget")
    ledger_service.lock_balances(conn, [ref.account_id, ref.funding_account_id])
    entry = ledger_service.post(
        conn,
        "fund",
        at,
        [(ref.funding_account_id, -amount_krw), (ref.account_id, amount_krw)],
        ref=ref.id,
    )
    _count_funding(conn, ref.id, at, amount_krw)
    return {"entry_id": str(entry), "budget": ref.id, "amount": amount_krw}


def _count_funding(conn: Connection, budget_id: str, at: datetime, amount_krw: int) -> None:
    """The budget's day counter moves with its account (``eum.stats.rollups``)."""
    from eum.stats.rollups import Tally  # stats reads policy's tables: imported late

    tally = Tally()
    tally.funded(budget_id=budget_id, at=at, amount=amount_krw)
    tally.flush(conn)


# --- rule history, changes and closing ------------------------------------------------------

# What a rule change may touch: every condition of SPEC 3.7, never id, kind or owner.
RULE_FIELDS = (
    "name",
    "budget",
    "rate_bps",
    "monthly_cap",
    "cards",
    "districts",
    "card_kinds",
    "merchant_tiers",
    "max_annual_sales",
    "channels",
    "merchant_group",
    "from",
    "until",
    "steps",
)


def _rule_row(conn: Connection, rule_id: object) -> Any:
    row = None
    if isinstance(rule_id, str):
        row = conn.execute(select(rules).where(rules.c.id == rule_id)).first()
    if row is None:
        raise errors.UnknownRule(f"no rule {rule_id}", field="rule")
    return row


def _conditions(row: Any) -> dict[str, Any]:
    """A rule row in the vocabulary of SPEC 3.7 (dates as dates)."""
    return {
        "name": row.name,
        "budget": row.budget_id,
        "rate_bps": row.rate_bps,
        "monthly_cap": row.monthly_cap,
        "cards": row.cards,
        "districts": row.districts,
        "card_kinds": row.card_kinds,
        "merchant_tiers": row.merchant_tiers,
        "max_annual_sales": row.max_annual_sales,
        "channels": row.channels,
        "merchant_group": row.merchant_group,
        "from": row.valid_from,
        "until": row.valid_until,
        "steps": _step_specs(row.steps),
    }


def rule_spec(row: Any) -> dict[str, Any]:
    """A rule as JSON in the vocabulary of SPEC 3.7: what its history keeps of each version
    (its scheduled steps too, so a changed schedule shows as a new version)."""
    spec = {"id": row.id, "kind": row.kind, "owner": row.owner_id, **_conditions(row)}
    for name in ("from", "until"):
        spec[name] = spec[name].isoformat() if spec[name] is not None else None
    spec["steps"] = [{**s, "from": s["from"].isoformat()} for s in spec["steps"]]
    return {**spec, "active": bool(row.active)}


def _add_version(
    conn: Connection, rule_id: str, *, at: datetime, changed_by: str, change: str
) -> int:
    version = (
        conn.execute(
            select(func.max(rule_versions.c.version)).where(rule_versions.c.rule_id == rule_id)
        ).scalar()
        or 0
    ) + 1
    conn.execute(
        insert(rule_versions).values(
            rule_id=rule_id,
            version=version,
            changed_at=at,
            changed_by=changed_by,
            change=change,
            spec=rule_spec(_rule_row(conn, rule_id)),
        )
    )
    return version


def change_rule(
    conn: Connection,
    rule_id: object,
    changes: Mapping[str, Any],
    *,
    at: datetime,
    changed_by: str = "system",
) -> int:
    """Change conditions of an active rule (a null clears one to its default); it keeps its
    place in definition order and its cap usage. Returns the new version number."""
    row = _rule_row(conn, rule_id)
    if not row.active:
        raise errors.InvalidState(f"rule {row.id} is closed", field="rule")
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise errors.InvalidRequest(f"cannot change {', '.join(unknown)}", field=unknown[0])
    if not changes:
        raise errors.InvalidRequest("nothing to change")
    values = _rule_values(conn, {**_conditions(row), **changes}, issuer_tree(conn))
    # The rule row is updated (so locked) before the next version number is read: two
    # changes of one rule queue here instead of both taking the same version.
    conn.execute(update(rules).where(rules.c.id == row.id).values(**values))
    version = _add_version(conn, row.id, at=at, changed_by=changed_by, change="changed")
    touch_policy(conn)
    return version


def close_rule(
    conn: Connection, rule_id: object, *, at: datetime, changed_by: str = "system"
) -> int:
    """Stop a rule: it matches no payment from now on; what it paid stays paid."""
    row = _rule_row(conn, rule_id)
    if not row.active:
        raise errors.InvalidState(f"rule {row.id} is already closed", field="rule")
    conn.execute(update(rules).where(rules.c.id == row.id).values(active=False))
    version = _add_version(conn, row.id, at=at, changed_by=changed_by, change="closed")
    touch_policy(conn)
    return version


def rule_history(conn: Connection, rule_id: str) -> list[dict[str, Any]]:
    """Every version of a rule, oldest first."""
    rows = conn.execute(
        select(rule_versions)
        .where(rule_versions.c.rule_id == rule_id)
        .order_by(rule_versions.c.version)
    )
    return [
        {
            "version": r.version,
            "change": r.change,
            "changed_at": r.changed_at,
            "changed_by": r.changed_by,
            "spec": r.spec,
        }
        for r in rows
    ]


# --- areas: who may act on what (an issuer admin acts within its issuer's subtree) -------


def merchant_group_districts(conn: Connection, group_id: str) -> frozenset[str] | None:
    """Districts of a merchant group's merchants; None when there is no such group."""
    if not conn.execute(
        select(merchant_groups.c.id).where(merchant_groups.c.id == group_id)
    ).first():
        return None
    rows = conn.execute(
        select(merchants.c.district)
        .join(merchant_group_members, merchant_group_members.c.merchant_id == merchants.c.id)
        .where(merchant_group_members.c.group_id == group_id)
    )
    return frozenset(r.district for r in rows)


def owner_in_area(conn: Connection, by: Principal, owner_kind: str, owner_id: str) -> bool:
    """An issuer-owned thing is in the area of that issuer's subtree; a merchant group's
    is in the area of admins whose districts hold all of the group's merchants."""
    if by.issuers is None:
        return True
    if owner_kind == "issuer":
        return owner_id in by.issuers
    districts = merchant_group_districts(conn, owner_id)
    if not districts or by.districts is None:
        return False
    return districts <= by.districts


def area_issuer(conn: Connection, owner_kind: str, owner_id: str) -> str | None:
    """The issuer whose area an issuer- or merchant-group-owned thing belongs to (for the
    audit log): the issuer itself, or the narrowest issuer covering the group's merchants."""
    if owner_kind == "issuer":
        return owner_id
    districts = merchant_group_districts(conn, owner_id)
    if not districts:
        return None
    tree = catalog(conn).issuers
    covering = [i for i in tree.parent if districts <= tree.covers(i)]
    return min(covering, key=lambda i: (len(tree.covers(i)), i), default=None)


def _budget_owner(conn: Connection, budget_id: str) -> tuple[str, str] | None:
    row = conn.execute(
        select(budgets.c.owner_kind, budgets.c.owner_id).where(budgets.c.id == budget_id)
    ).first()
    return None if row is None else (row.owner_kind, row.owner_id)


def _need_in_area(allowed: bool, what: str, field: str) -> None:
    if not allowed:
        raise errors.Forbidden(f"{what} is outside your area", field=field)


def _check_rule_area(conn: Connection, by: Principal, owner: str, spec: Mapping[str, Any]) -> None:
    """What an admin may put in a rule: its own area's districts and budgets; districts
    the owner covers; an existing merchant group; a period that does not end before it starts."""
    tree = catalog(conn).issuers
    districts = spec.get("districts")
    if isinstance(districts, list | tuple):
        wanted = set(districts)
        _need_in_area(by.districts is None or wanted <= by.districts, "a district", "districts")
        if owner in tree.parent and not wanted <= tree.covers(owner):
            raise errors.InvalidRequest(
                f"{owner} covers only {sorted(tree.covers(owner))}", field="districts"
            )
    budget = spec.get("budget")
    if isinstance(budget, str) and (found := _budget_owner(conn, budget)) is not None:
        _need_in_area(owner_in_area(conn, by, *found), f"budget {budget}", "budget")
    group = spec.get("merchant_group")
    if isinstance(group, str) and merchant_group_districts(conn, group) is None:
        raise errors.UnknownMerchantGroup(f"no merchant group {group}", field="merchant_group")
    start, end = spec.get("from"), spec.get("until")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        raise errors.InvalidRequest("until is before from", field="until")


# --- the same use cases done by a person: area-checked and written to the audit log ------


def _audit(
    conn: Connection,
    by: Principal,
    *,
    at: datetime,
    action: str,
    target: str,
    issuer_id: str | None,
    detail: Mapping[str, Any],
) -> None:
    audit.record_by(
        conn, by, at=at, action=action, target=target, issuer_id=issuer_id, detail=dict(detail)
    )


def create_issuer_as(
    conn: Connection,
    *,
    id: str,
    name: str,
    districts: Iterable[str],
    parent: str | None,
    by: Principal,
    at: datetime,
) -> None:
    """An operator adds an issuer (the platform's tree is the operator's to grow)."""
    codes = sorted(set(districts))
    create_issuer(conn, id=id, name=name, districts=codes, parent=parent, at=at)
    _audit(
        conn,
        by,
        at=at,
        action="issuer.create",
        target=f"issuer:{id}",
        issuer_id=id,
        detail={"name": name, "parent": parent, "districts": codes},
    )


def create_rule_as(
    conn: Connection, spec: Mapping[str, Any], *, by: Principal, at: datetime
) -> None:
    """An issuer admin (for an owner in its subtree) or an operator defines a rule."""
    owner = spec.get("owner")
    _need_in_area(isinstance(owner, str) and by.sees_issuer(owner), f"issuer {owner}", "owner")
    assert isinstance(owner, str)
    _check_rule_area(conn, by, owner, spec)
    create_rule(conn, spec, at=at, changed_by=by.login)
    row = _rule_row(conn, spec["id"])
    _audit(
        conn,
        by,
        at=at,
        action="rule.create",
        target=f"rule:{row.id}",
        issuer_id=owner,
        detail={"spec": rule_spec(row)},
    )


def _rule_in_area(conn: Connection, by: Principal, rule_id: object) -> Any:
    row = _rule_row(conn, rule_id)
    _need_in_area(by.sees_issuer(row.owner_id), f"rule {row.id}", "rule")
    return row


def change_rule_as(
    conn: Connection, rule_id: object, changes: Mapping[str, Any], *, by: Principal, at: datetime
) -> int:
    row = _rule_in_area(conn, by, rule_id)
    _check_rule_area(conn, by, row.owner_id, {**_conditions(row), **changes})
    version = change_rule(conn, row.id, changes, at=at, changed_by=by.login)
    detail = rule_spec(_rule_row(conn, row.id))
    _audit(
        conn,
        by,
        at=at,
        action="rule.change",
        target=f"rule:{row.id}",
        issuer_id=row.owner_id,
        detail={"version": version, "changed": sorted(changes), "spec": detail},
    )
    return version


def close_rule_as(conn: Connection, rule_id: object, *, by: Principal, at: datetime) -> int:
    row = _rule_in_area(conn, by, rule_id)
    version = close_rule(conn, row.id, at=at, changed_by=by.login)
    _audit(
        conn,
        by,
        at=at,
        action="rule.close",
        target=f"rule:{row.id}",
        issuer_id=row.owner_id,
        detail={"version": version},
    )
    return version


def _owner_kind(conn: Connection, owner: str) -> str | None:
    if conn.execute(select(issuers.c.id).where(issuers.c.id == owner)).first():
        return "issuer"
    if merchant_group_districts(conn, owner) is not None:
        return "merchant_group"
    return None


def create_budget_as(
    conn: Connection,
    *,
    id: str,
    owner: str,
    amount_krw: int,
    name: str | None,
    by: Principal,
    at: datetime,
) -> None:
    """An admin opens a budget for an issuer (or merchant group) in its area."""
    kind = _owner_kind(conn, owner)
    if kind is None and by.issuers is None:
        raise errors.InvalidRequest(
            f"budget owner {owner} is neither issuer nor merchant group", field="owner"
        )
    _need_in_area(kind is not None and owner_in_area(conn, by, kind, owner), owner, "owner")
    assert kind is not None
    create_budget(conn, id=id, owner=owner, amount_krw=amount_krw, at=at, name=name)
    _audit(
        conn,
        by,
        at=at,
        action="budget.create",
        target=f"budget:{id}",
        issuer_id=area_issuer(conn, kind, owner),
        detail={"owner": owner, "amount": amount_krw, "name": name},
    )


def fund_budget_as(
    conn: Connection, *, budget_id: str, amount_krw: object, by: Principal, at: datetime
) -> dict[str, Any]:
    """An admin adds money to a budget in its area, from the owner's funding (audited)."""
    found = _budget_owner(conn, budget_id)
    if found is None:
        raise errors.UnknownBudget(f"no budget {budget_id}", field="budget")
    _need_in_area(owner_in_area(conn, by, *found), f"budget {budget_id}", "budget")
    result = fund_budget(conn, budget_id=budget_id, amount_krw=amount_krw, at=at)
    _audit(
        conn,
        by,
        at=at,
        action="budget.fund",
        target=f"budget:{budget_id}",
        issuer_id=area_issuer(conn, *found),
        detail={"amount": amount_krw, "entry_id": result["entry_id"]},
    )
    return result


def _budget_closed(conn: Connection, budget_id: str) -> bool:
    return (
        conn.execute(select(budgets.c.closed_at).where(budgets.c.id == budget_id)).scalar()
        is not None
    )


def rename_budget(conn: Connection, *, budget_id: str, name: str) -> None:
    if budget_ref(conn, budget_id) is None:
        raise errors.UnknownBudget(field="budget")
    conn.execute(update(budgets).where(budgets.c.id == budget_id).values(name=name))


def close_budget(conn: Connection, *, budget_id: str, at: datetime) -> dict[str, Any]:
    """Close a budget: what is left goes back to its owner's funding in one entry, and every
    rule drawing on it pays 0 from then on (SPEC 3.7: min(raw, remaining))."""
    ref = budget_ref(conn, budget_id)
    if ref is None:
        raise errors.UnknownBudget(field="budget")
    if _budget_closed(conn, ref.id):
        raise errors.InvalidState(f"budget {ref.id} is already closed", field="budget")
    left = ledger_service.lock_balances(conn, [ref.account_id, ref.funding_account_id])[
        ref.account_id
    ]
    entry = ledger_service.post(
        conn,
        "budget_close",
        at,
        [(ref.account_id, -left), (ref.funding_account_id, left)],
        ref=ref.id,
    )
    conn.execute(update(budgets).where(budgets.c.id == ref.id).values(closed_at=at))
    _count_funding(conn, ref.id, at, -left)
    return {"budget": ref.id, "returned": left, "entry_id": None if entry is None else str(entry)}


def close_budget_as(
    conn: Connection, *, budget_id: str, by: Principal, at: datetime
) -> dict[str, Any]:
    """An admin closes a budget in its area (audited)."""
    found = _budget_owner(conn, budget_id)
    if found is None:
        raise errors.UnknownBudget(f"no budget {budget_id}", field="budget")
    _need_in_area(owner_in_area(conn, by, *found), f"budget {budget_id}", "budget")
    result = close_budget(conn, budget_id=budget_id, at=at)
    _audit(
        conn,
        by,
        at=at,
        action="budget.close",
        target=f"budget:{budget_id}",
        issuer_id=area_issuer(conn, *found),
        detail={"returned": result["returned"]},
    )
    return result


def rename_budget_as(
    conn: Connection, *, budget_id: str, name: str, by: Principal, at: datetime
) -> None:
    """An admin renames a budget in its area (audited)."""
    found = _budget_owner(conn, budget_id)
    if found is None:
        raise errors.UnknownBudget(f"no budget {budget_id}", field="budget")
    _need_in_area(owner_in_area(conn, by, *found), f"budget {budget_id}", "budget")
    rename_budget(conn, budget_id=budget_id, name=name)
    _audit(
        conn,
        by,
        at=at,
        action="budget.change",
        target=f"budget:{budget_id}",
        issuer_id=area_issuer(conn, *found),
        detail={"name": name},
    )
