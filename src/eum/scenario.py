"""The scenario runner (SPEC section 5): a YAML file in, the final platform state out.

It builds a fresh platform in its own database, applies the set-up and feeds every
event, each in its own transaction, through the same service functions the HTTP API
calls. It is thin: it parses, calls one service per event and reports.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine

from eum import errors, idempotency
from eum.clock import parse_date, parse_time
from eum.community import service as community
from eum.db import make_engine, normalize_url, run_in_transaction
from eum.merchants import service as merchants
from eum.migrate import upgrade
from eum.money.model import MAX_RULE_STEPS
from eum.payments import service as payments
from eum.policy import service as policy
from eum.stats.service import platform_state
from eum.wallets import service as wallets

SCOPE = "scenario"
MAX_EVENTS = 1_000_000
SETUP_TIME = datetime(2000, 1, 1).astimezone()


class ScenarioError(Exception):
    """The file is not a valid scenario; the message names the event number or field."""


# --- what a valid file looks like ------------------------------------------------------

# op -> (required fields, optional fields); `op` and `at` are always required.
EVENT_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "charge": ({"key", "member", "amount"}, set()),
    "pay": ({"key", "member", "merchant", "amount"}, {"channel", "coupon", "invoice"}),
    "refund": ({"key", "payment", "amount"}, set()),
    "withdraw": ({"key", "member", "amount"}, set()),
    "claim": ({"member", "coupon"}, set()),
    "donate": ({"key", "campaign", "amount"}, {"member", "group", "by"}),
    "contribute": ({"key", "member", "group", "amount"}, set()),
    "group_pay": ({"key", "group", "by", "merchant", "amount"}, {"channel"}),
    "fund": ({"key", "budget", "amount"}, set()),
    "settle": (set(), set()),
}
CHANNEL_OPS = {"pay", "group_pay"}
REFERENCE_FIELDS = {
    "member",
    "merchant",
    "payment",
    "coupon",
    "campaign",
    "group",
    "by",
    "budget",
    "invoice",
}


@dataclass
class Scenario:
    name: str
    setup: dict[str, Any]
    events: list[dict[str, Any]]
    expect: dict[str, Any] | None = None
    source: str = ""
    times: list[datetime] = field(default_factory=list)


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ScenarioError(f"{where}: {what}")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entries(
    doc: Mapping[str, Any],
    section: str,
    required: Mapping[str, Callable[[Any], bool]],
    optional: Mapping[str, Callable[[Any], bool]],
) -> list[dict[str, Any]]:
    items = doc.get(section) or []
    _need(isinstance(items, list), section, "must be a list")
    for i, item in enumerate(items):
        where = f"{section}[{i}]"
        _need(isinstance(item, dict), where, "must be a mapping")
        for name, ok in required.items():
            _need(name in item, where, f"missing field '{name}'")
            _need(ok(item[name]), f"{where}.{name}", f"bad value {item[name]!r}")
        for name, value in item.items():
            if name in required:
                continue
            _need(name in optional, f"{where}.{name}", "unknown field")
            _need(optional[name](value), f"{where}.{name}", f"bad value {value!r}")
    return items


def _str(v: object) -> bool:
    return isinstance(v, str) and bool(v)


def _strs(v: object) -> bool:
    return isinstance(v, list) and all(_str(x) for x in v)


def _won(v: object) -> bool:
    return _is_int(v) and v >= 0  # type: ignore[operator]


def _date(v: object) -> bool:
    try:
        parse_date(v)
    except (ValueError, TypeError):
        return False
    return True


def _bps(v: object) -> bool:
    return _is_int(v) and 0 <= v <= 10_000  # type: ignore[operator]


def _choice(*allowed: str) -> Callable[[Any], bool]:
    return lambda v: v in allowed


def _one_of_list(*allowed: str) -> Callable[[Any], bool]:
    return lambda v: _strs(v) and all(x in allowed for x in v)


def validate(doc: object, source: str = "") -> Scenario:
    """Check a parsed YAML document against the scenario format; raise ScenarioError."""
    _need(isinstance(doc, dict), "file", "must be a mapping with issuers, events ...")
    assert isinstance(doc, dict)
    known = {
        "name",
        "platform",
        "issuers",
        "budgets",
        "rules",
        "merchants",
        "merchant_groups",
        "members",
        "campaigns",
        "coupons",
        "groups",
        "events",
        "expect",
    }
    for key in doc:
        _need(key in known, str(key), "unknown section")
    platform = doc.get("platform") or {}
    _need(isinstance(platform, dict), "platform", "must be a mapping")
    for key, value in platform.items():
        _need(
            key in ("pg_fee_bps", "withdraw_min_used_bps", "limits"),
            f"platform.{key}",
            "unknown field",
        )
        if key != "limits":
            _need(_bps(value), f"platform.{key}", f"bad value {value!r}")
    limits = platform.get("limits") or {}
    _need(isinstance(limits, dict), "platform.limits", "must be a mapping")
    for kind, pair in limits.items():
        _need(
            kind in ("personal", "business", "corporate"),
            f"platform.limits.{kind}",
            "unknown card kind",
        )
        _need(isinstance(pair, dict), f"platform.limits.{kind}", "must be a mapping")
        for name, value in pair.items():
            _need(
                name in ("monthly_charge", "max_balance"),
                f"platform.limits.{kind}.{name}",
                "unknown field",
            )
            _need(_won(value), f"platform.limits.{kind}.{name}", f"bad value {value!r}")
    _check_entries(doc, "issuers", {"id": _str, "name": _str, "districts": _strs}, {"parent": _str})
    _check_entries(doc, "budgets", {"id": _str, "owner": _str, "amount": _won}, {"name": _str})
    rule_items = _check_entries(
        doc,
        "rules",
        {"id": _str, "kind": _choice("cashback", "fee_support"), "owner": _str, "rate_bps": _bps},
        {
            "budget": _str,
            "monthly_cap": _won,
            "cards": _str,
            "districts": _strs,
            "card_kinds": _one_of_list("personal", "business", "corporate"),
            "merchant_tiers": _one_of_list("general", "benefit_plus"),
            "max_annual_sales": _won,
            "channels": _one_of_list("card", "qr", "online"),
            "merchant_group": _str,
            "from": _date,
            "until": _date,
            "name": _str,
            "steps": lambda v: isinstance(v, list) and len(v) <= MAX_RULE_STEPS,
        },
    )
    for i, rule in enumerate(rule_items):
        _check_steps(f"rules[{i}].steps", rule.get("steps") or [])
    merchant_items = _check_entries(
        doc,
        "merchants",
        {"id": _str, "name": _str, "district": _str},
        {
            "tier": _choice("general", "benefit_plus"),
            "discount_bps": _bps,
            "active": lambda v: isinstance(v, bool),
            "annual_sales": _won,
            "card_fee_bps": _bps,
            "category": _str,
        },
    )
    for i, m in enumerate(merchant_items):
        if m.get("tier") == "benefit_plus":
            d = m.get("discount_bps")
            _need(
                isinstance(d, int) and not isinstance(d, bool) and 100 <= d <= 700,
                f"merchants[{i}].discount_bps",
                "a Benefit Plus merchant needs discount_bps in 100..700",
            )
    _check_entries(doc, "merchant_groups", {"id": _str, "name": _str, "merchants": _strs}, {})
    _check_entries(
        doc,
        "members",
        {"id": _str, "card": _str},
        {"kind": _choice("personal", "business", "corporate"), "name": _str},
    )
    _check_entries(doc, "campaigns", {"id": _str, "name": _str, "owner": _str}, {})
    _check_entries(
        doc,
        "coupons",
        {"id": _str, "merchant": _str, "value": _won},
        {"min_spend": _won, "quantity": _won, "from": _date, "until": _date, "name": _str},
    )
    _check_entries(doc, "groups", {"id": _str, "name": _str, "owner": _str}, {"members": _strs})
    events = doc.get("events") or []
    _need(isinstance(events, list), "events", "must be a list")
    _need(len(events) <= MAX_EVENTS, "events", f"at most {MAX_EVENTS} events")
    times = [_check_event(i, ev) for i, ev in enumerate(events)]
    expect = doc.get("expect")
    _need(expect is None or isinstance(expect, dict), "expect", "must be a mapping")
    setup = {k: v for k, v in doc.items() if k not in ("events", "expect", "name")}
    return Scenario(str(doc.get("name") or source), setup, events, expect, source, times)


def _check_steps(where: str, steps: list[Any]) -> None:
    """A rule's scheduled rate changes: ``{from: DATE, rate_bps: N}``, days ascending."""
    previous: date | None = None
    for j, step in enumerate(steps):
        at = f"{where}[{j}]"
        _need(isinstance(step, dict), at, "must be a mapping with from and rate_bps")
        for name in step:
            _need(name in ("from", "rate_bps"), f"{at}.{name}", "unknown field")
        for name, ok in (("from", _date), ("rate_bps", _bps)):
            _need(name in step, at, f"missing field '{name}'")
            _need(ok(step[name]), f"{at}.{name}", f"bad value {step[name]!r}")
        day = parse_date(step["from"])
        _need(
            previous is None or day > previous,
            f"{at}.from",
            f"{day} is not after the step before ({previous})",
        )
        previous = day


def _check_event(i: int, ev: object) -> datetime:
    where = f"event {i + 1}"
    _need(isinstance(ev, dict), where, "must be a mapping")
    assert isinstance(ev, dict)
    op = ev.get("op")
    _need(op in EVENT_FIELDS, where, f"unknown op {op!r}")
    _need("at" in ev, where, "missing 'at'")
    try:
        at = parse_time(ev["at"])
    except (ValueError, TypeError):
        raise ScenarioError(f"{where}.at: not an ISO 8601 time: {ev['at']!r}") from None
    assert isinstance(op, str)
    required, optional = EVENT_FIELDS[op]
    for name in required:
        _need(name in ev, where, f"{op} needs field '{name}'")
    for name in ev:
        _need(
            name in required | optional | {"op", "at"}, f"{where}.{name}", f"unknown field for {op}"
        )
    if "key" in ev:
        _need(
            _str(ev["key"]) and len(ev["key"]) <= idempotency.MAX_KEY_LENGTH,
            f"{where}.key",
            "must be a non-empty string",
        )
    for name in REFERENCE_FIELDS & set(ev):
        _need(isinstance(ev[name], str), f"{where}.{name}", "must be a string id")
    if op in CHANNEL_OPS and "channel" in ev:
        _need(
            ev["channel"] in ("card", "qr", "online"),
            f"{where}.channel",
            f"bad channel {ev['channel']!r}",
        )
    if op == "donate":
        by_member, by_group = "member" in ev, "group" in ev
        _need(by_member != by_group, where, "donate needs member, or group with by")
        _need(by_member or "by" in ev, where, "a group donation needs 'by'")
    return at


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that an impossible date (``2020-02-30``) stays text, so
    that validation names the field it is in instead of the loader failing without one."""

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"file: cannot read {path}: {exc.strerror}") from None
    return validate(parse_yaml(text), str(path))


def parse_yaml(text: str) -> Any:
    """A scenario or draft file's YAML (impossible dates kept as text for validation)."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise ScenarioError(f"file: not YAML: {exc}") from None


# --- building the platform -------------------------------------------------------------


def _opt_date(v: object) -> date | None:
    return None if v is None else parse_date(v)


def apply_setup(conn: Connection, setup: Mapping[str, Any]) -> None:
    """Create everything the set-up lists, through the services, in dependency order."""
    at = SETUP_TIME
    section = "platform"
    try:
        p = setup.get("platform") or {}
        policy.set_platform(
            conn,
            pg_fee_bps=p.get("pg_fee_bps"),
            withdraw_min_used_bps=p.get("withdraw_min_used_bps"),
            limits=p.get("limits"),
        )
        for i, it in enumerate(setup.get("issuers") or []):
            section = f"issuers[{i}]"
            policy.create_issuer(
                conn,
                id=it["id"],
                name=it["name"],
                districts=it["districts"],
                parent=it.get("parent"),
                at=at,
            )
        for i, it in enumerate(setup.get("merchants") or []):
            section = f"merchants[{i}]"
            merchants.create_merchant(
                conn,
                id=it["id"],
                name=it["name"],
                district=it["district"],
                at=at,
                category=it.get("category"),
                tier=it.get("tier", "general"),
                discount_bps=it.get("discount_bps"),
                annual_sales_krw=it.get("annual_sales", 0),
                card_fee_bps=it.get("card_fee_bps", 0),
                active=it.get("active", True),
            )
        for i, it in enumerate(setup.get("merchant_groups") or []):
            section = f"merchant_groups[{i}]"
            merchants.create_merchant_group(
                conn, id=it["id"], name=it["name"], merchant_ids=it["merchants"], at=at
            )
        for i, it in enumerate(setup.get("budgets") or []):
            section = f"budgets[{i}]"
            policy.create_budget(
                conn,
                id=it["id"],
                owner=it["owner"],
                amount_krw=it["amount"],
                name=it.get("name"),
                at=at,
            )
        for i, it in enumerate(setup.get("rules") or []):
            section = f"rules[{i}]"
            spec = dict(it)
            for name in ("from", "until"):
                spec[name] = _opt_date(spec.get(name))
            if spec.get("steps") is not None:
                spec["steps"] = [{**s, "from": parse_date(s["from"])} for s in spec["steps"]]
            policy.create_rule(conn, spec, at=at)
        for i, it in enumerate(setup.get("members") or []):
            section = f"members[{i}]"
            wallets.create_member(
                conn,
                id=it["id"],
                card_issuer_id=it["card"],
                card_kind=it.get("kind", "personal"),
                name=it.get("name"),
                at=at,
            )
        for i, it in enumerate(setup.get("campaigns") or []):
            section = f"campaigns[{i}]"
            community.create_campaign(conn, id=it["id"], name=it["name"], owner=it["owner"], at=at)
        for i, it in enumerate(setup.get("coupons") or []):
            section = f"coupons[{i}]"
            merchants.create_coupon(
                conn,
                id=it["id"],
                merchant_id=it["merchant"],
                value_krw=it["value"],
                min_spend_krw=it.get("min_spend", 0),
                quantity=it.get("quantity"),
                valid_from=_opt_date(it.get("from")),
                valid_until=_opt_date(it.get("until")),
                name=it.get("name"),
                at=at,
            )
        for i, it in enumerate(setup.get("groups") or []):
            section = f"groups[{i}]"
            community.create_group(
                conn,
                id=it["id"],
                name=it["name"],
                owner=it["owner"],
                members=it.get("members") or [],
                at=at,
            )
    except errors.EumError as exc:
        where = f"{section}.{exc.field}" if exc.field else section
        raise ScenarioError(f"{where}: {exc.detail}") from None


# --- events ------------------------------------------------------------------------------


def _dispatch(conn: Connection, ev: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """Call the one service function an event names."""
    op = ev["op"]
    if op == "charge":
        return wallets.charge(conn, member_id=ev["member"], amount_krw=ev["amount"], at=at)
    if op == "pay":
        return payments.pay(
            conn,
            member_id=ev["member"],
            merchant_id=ev["merchant"],
            amount_krw=ev["amount"],
            channel=ev.get("channel", "card"),
            coupon_id=ev.get("coupon"),
            invoice=ev.get("invoice"),
            at=at,
            ref=ev["key"],
        )
    if op == "group_pay":
        return payments.group_pay(
            conn,
            group_id=ev["group"],
            by_member_id=ev["by"],
            merchant_id=ev["merchant"],
            amount_krw=ev["amount"],
            channel=ev.get("channel", "card"),
            at=at,
            ref=ev["key"],
        )
    if op == "refund":
        return payments.refund(conn, ref=ev["payment"], amount_krw=ev["amount"], at=at)
    if op == "withdraw":
        return wallets.withdraw(conn, member_id=ev["member"], amount_krw=ev["amount"], at=at)
    if op == "donate" and "group" in ev:
        return community.group_donate(
            conn,
            group_id=ev["group"],
            by_member_id=ev["by"],
            campaign_id=ev["campaign"],
            amount_krw=ev["amount"],
            at=at,
        )
    if op == "donate":
        return community.donate(
            conn, member_id=ev["member"], campaign_id=ev["campaign"], amount_krw=ev["amount"], at=at
        )
    if op == "contribute":
        return community.contribute(
            conn, member_id=ev["member"], group_id=ev["group"], amount_krw=ev["amount"], at=at
        )
    if op == "fund":
        return policy.fund_budget(conn, budget_id=ev["budget"], amount_krw=ev["amount"], at=at)
    if op == "claim":
        return merchants.claim_coupon(conn, member_id=ev["member"], coupon_id=ev["coupon"], at=at)
    if op == "settle":
        return payments.settle(conn, at=at)
    raise AssertionError(f"validated op {op}")


def run_event(
    conn: Connection, ev: Mapping[str, Any], at: datetime, scope: str = SCOPE
) -> dict[str, Any]:
    """One event in the caller's transaction; ``{"ok": ..., "error": ...}``."""
    if "key" not in ev:
        try:
            return {"ok": True, **_dispatch(conn, ev, at)}
        except errors.EumError as exc:
            return {"ok": False, "error": exc.code}
    fields = {k: v for k, v in ev.items() if k not in ("op", "at", "key")}
    try:
        return idempotency.run(
            conn,
            scope=scope,
            key=ev["key"],
            op=ev["op"],
            fields=fields,
            at=at,
            action=lambda: _dispatch(conn, ev, at),
        )
    except errors.IdempotencyConflict as exc:
        return {"ok": False, "error": exc.code}


def _result_line(op: str, result: Mapping[str, Any]) -> dict[str, Any]:
    if result["ok"]:
        return {"op": op, "ok": True}
    return {"op": op, "ok": False, "error": result["error"]}


@contextlib.contextmanager
def fresh_engine(database: str | None) -> Iterator[Engine]:
    """A fresh, empty, migrated database: a temporary SQLite file by default; for a
    PostgreSQL URL, a new schema of its own that is dropped afterwards."""
    if database is None or normalize_url(database).startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="eum-scenario-") as tmp:
            url = database or f"sqlite:///{os.path.join(tmp, 'scenario.sqlite3')}"
            engine = make_engine(url)
            try:
                upgrade(engine)
                yield engine
            finally:
                engine.dispose()
        return
    schema = f"eum_scn_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in database else "?"
    engine = make_engine(f"{database}{sep}options=-csearch_path%3D{schema}", pool_size=2)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def execute(scenario: Scenario, engine: Engine) -> dict[str, Any]:
    """Apply the set-up and every event on a migrated engine; return the final state."""
    run_in_transaction(engine, apply_setup, scenario.setup)
    results = []
    for ev, at in zip(scenario.events, scenario.times, strict=True):
        result = run_in_transaction(engine, run_event, ev, at)
        results.append(_result_line(ev["op"], result))
    with engine.connect() as conn:
        state = platform_state(conn)
    return {"results": results, **state}


def run_file(path: str | Path, database: str | None = None) -> dict[str, Any]:
    scenario = load(path)
    with fresh_engine(database) as engine:
        return execute(scenario, engine)


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where ``actual`` does not match ``expected`` (a subset match, SPEC section 5)."""
    where = path or "(root)"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping, got {actual!r}"]
        out = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: missing (expected {value!r})")
            else:
                out += differences(value, actual[key], sub)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected a list of {len(expected)}, got {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += differences(e, a, f"{path}[{i}]")
        return out
    if type(expected) is not type(actual) or expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []
