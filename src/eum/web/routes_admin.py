"""The issuer admin's pages (city or district) and the operator's: statistics, rules and
budgets, merchant approvals, CSV exports.

Each admin sees only its own area: every read goes through the same area checks as the
API (``stats.area_for``, ``policy.views`` and the ``*_as`` services), so an admin of one
district gets the same 403/404 on another district's rule, budget or merchant as the API
gives. A table on a page and its CSV export are built by the same function, so they always
show the same numbers. Money moved from a form (funding a budget) goes through
``money.once`` with the form's idempotency key.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, case, func, select

from eum import errors
from eum.auth.model import Principal
from eum.clock import KST, kst_day, kst_month, now
from eum.merchants import service as merchant_service
from eum.merchants.store import merchants
from eum.money.model import CARD_KINDS, CHANNELS, TIERS
from eum.policy import service as policy
from eum.policy import views as policy_views
from eum.stats import foresight
from eum.stats import views as stats
from eum.stats.store import payment_months, support_months
from eum.web import charts, i18n, money, names, pages, session

router = APIRouter(include_in_schema=False)

MONTHS = 12  # months on the dashboard
BURN_DAYS = 30  # days on a budget's burn chart by default
MAX_BURN_DAYS = 90
FORECAST_HORIZON_DAYS = 60  # how far the dashed forecast line may reach
WINDOW_DAYS = foresight.WINDOW_DAYS  # the recent pace: the last 7 days, today too
PENDING_LIMIT = 100  # pending registrations on one page
MERCHANT_PAGE = 50
MAX_QUERY = 100  # characters of a search
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_NAME = 200
KST_ZONE = "Asia/Seoul"


_db = pages.database
_admin = pages.admin


def _lang(request: Request) -> str:
    return session.visitor(request).lang


def _today() -> date:
    return kst_day(now())


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=KST)


# --- tables: one definition for the page and its CSV -----------------------------------


@dataclass(frozen=True)
class Col:
    """A column of a table: its key in the rows, Korean title, and how values show
    (``won``, ``count``, ``bps``, ``ratio``, ``district``, ``category``, ``label`` (a
    Korean word translated on show) or ``text``)."""

    key: str
    title: str
    kind: str = "text"

    @property
    def numeric(self) -> bool:
        return self.kind in ("won", "count", "bps", "ratio")


MONTHLY_COLS = (
    Col("month", "월"),
    Col("members", "회원", "count"),
    Col("active_members", "활성 회원", "count"),
    Col("issuance", "발행액", "won"),
    Col("payment_count", "결제 건수", "count"),
    Col("payments", "결제액", "won"),
    Col("cashback", "캐시백", "won"),
    Col("fee_support", "수수료 지원", "won"),
    Col("own_district_share_bps", "역내 결제 비중", "bps"),
    Col("fiscal_leverage", "재정 승수", "ratio"),
)
DISTRICT_COLS = (
    Col("district", "구·군", "district"),
    Col("payment_count", "결제 건수", "count"),
    Col("payments", "결제액", "won"),
    Col("month_payments", "이번 달 결제액", "won"),
    Col("share_bps", "비중", "bps"),
)
RULE_COLS = (
    Col("id", "ID"),
    Col("name", "이름"),
    Col("kind_name", "종류", "label"),
    Col("owner", "발행처"),
    Col("rate_bps", "비율", "bps"),
    Col("budget", "예산"),
    Col("monthly_cap", "월 한도", "won"),
    Col("from", "시작일"),
    Col("until", "종료일"),
    Col("status_name", "상태", "label"),
    Col("paid", "지급액", "won"),
)
BUDGET_COLS = (
    Col("id", "ID"),
    Col("name", "이름"),
    Col("owner", "재원 주체"),
    Col("funded", "편성액", "won"),
    Col("spent", "집행액", "won"),
    Col("remaining", "잔액", "won"),
    Col("daily", "최근 7일 하루 평균 집행액", "won"),
    Col("runs_out", "소진 예상일"),
    Col("state_name", "상태", "label"),
)
MERCHANT_COLS = (
    Col("id", "ID"),
    Col("name", "상호"),
    Col("district", "구·군", "district"),
    Col("category", "업종", "category"),
    Col("tier_name", "등급", "label"),
    Col("discount_bps", "선할인", "bps"),
    Col("annual_sales", "연 매출", "won"),
    Col("card_fee_bps", "카드 수수료", "bps"),
    Col("status_name", "상태", "label"),
)
BURN_COLS = (
    Col("day", "날짜"),
    Col("spent", "집행액", "won"),
    Col("funded", "편성액", "won"),
    Col("remaining", "잔액", "won"),
)


def won_axis(value: float) -> str:
    return pages.won(int(value))


def count_axis(value: float) -> str:
    return pages.count(int(value))


def ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def plain(value: Any, kind: str, lang: str) -> str:
    """A cell as CSV text: amounts as plain integers, rates as the page shows them
    (without the % sign), names in the reader's language."""
    if value is None:
        return ""
    if kind in ("won", "count"):
        return str(int(value))
    if kind == "bps":
        return pages.percent(value).rstrip("%")
    if kind == "ratio":
        return ratio(value)
    if kind == "district":
        return i18n.translate(names.district(value), lang)
    if kind == "category":
        return i18n.translate(names.category(value), lang) if value else ""
    text = i18n.translate(str(value), lang) if kind == "label" else str(value)
    # a cell that starts like a formula is kept as text in a spreadsheet
    return "'" + text if text[:1] in ("=", "+", "-", "@") and kind == "text" else text


def csv_response(
    filename: str, cols: Sequence[Col], rows: Sequence[Mapping[str, Any]], lang: str
) -> Response:
    """A CSV file Excel opens with Korean intact: UTF-8 with a BOM, a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([i18n.translate(c.title, lang) for c in cols])
    for row in rows:
        writer.writerow([plain(row.get(c.key), c.kind, lang) for c in cols])
    body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# --- the area: issuers and districts an admin may pick ----------------------------------


def _issuers(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    return [i for i in policy_views.issuer_list(conn) if p.sees_issuer(i["id"])]


def _districts(conn: Connection, p: Principal) -> list[str]:
    known = names.districts_known(conn)
    return known if p.districts is None else [d for d in known if d in p.districts]


def _area_districts(conn: Connection, area: stats.Area) -> list[str]:
    known = names.districts_known(conn)
    return known if area.districts is None else [d for d in known if d in area.districts]


# --- budget burn and its forecast --------------------------------------------------------


# The forecast and the burn come from ``eum.stats.foresight`` (the budgets' day counters).
Forecast = foresight.Forecast
STATE_NAMES = {"empty": "예산 소진", "soon": "예산 곧 소진", "ok": "정상", "idle": "집행 없음"}
STATE_BADGES = {"empty": "bad", "soon": "warn", "ok": "ok", "idle": ""}


def forecasts(
    conn: Connection, views: Sequence[Mapping[str, Any]], today: date
) -> dict[str, Forecast]:
    """The forecast of each budget (views of ``policy.views``), with the alert horizon
    of ``EUM_BUDGET_ALERT_DAYS``."""
    return foresight.forecasts(conn, views, today, foresight.alert_days_default())


def burn(conn: Connection, budget: Mapping[str, Any], today: date, days: int) -> dict[str, Any]:
    """A budget's last ``days`` days (from the day it was opened if later): what it paid,
    was funded and had left at each day's end, and its forecast."""
    found = foresight.burns(conn, [budget["id"]], today, days, foresight.alert_days_default())
    burned = found[budget["id"]]
    return {"days": burned.days, "forecast": burned.forecast}


def burn_chart(found: Mapping[str, Any], today: date, lang: str) -> Any:
    """Remaining per day, and from today a dashed line to the forecast day (or the horizon)."""
    rows = found["days"]
    fc: Forecast = found["forecast"]
    ahead = 0
    if fc.runs_out is not None:
        ahead = min((fc.runs_out - today).days, FORECAST_HORIZON_DAYS)
    labels = [r["day"][5:] for r in rows]
    labels += [(today + timedelta(days=k)).isoformat()[5:] for k in range(1, ahead + 1)]
    actual: list[float | None] = [float(r["remaining"]) for r in rows] + [None] * ahead
    series = [(i18n.translate("잔액", lang), actual)]
    if ahead:
        pace = fc.spent_recent / WINDOW_DAYS  # a line on a chart, not money
        start = float(fc.remaining)
        line: list[float | None] = [None] * (len(rows) - 1)
        line += [max(0.0, start - pace * k) for k in range(ahead + 1)]
        series.append((i18n.translate("예측", lang), line))
    return charts.lines(
        labels,
        series,
        title=i18n.translate("예산 잔액과 소진 예측", lang),
        fmt=won_axis,
        dashed=[i18n.translate("예측", lang)],
    )


def _budget_rows(conn: Connection, p: Principal, today: date) -> list[dict[str, Any]]:
    """The admin's budgets with their forecast, as the page and the CSV show them."""
    views = policy_views.budget_list(conn, p)
    found = forecasts(conn, views, today)
    rows = []
    for v in views:
        fc = found[v["id"]]
        state = "closed" if v["closed_at"] else fc.state
        rows.append(
            {
                **v,
                "daily": fc.daily,
                "runs_out": fc.runs_out.isoformat() if fc.runs_out else None,
                "days_left": fc.days_left,
                "state": state,
                "state_name": STATE_NAMES.get(state, "종료"),
                "badge": STATE_BADGES.get(state, ""),
            }
        )
    return rows


# --- the dashboard ---------------------------------------------------------------------


def _by_district(conn: Connection, area: stats.Area, months: list[str]) -> list[dict[str, Any]]:
    """Payments at merchants of each district of the area over ``months`` (from the
    monthly counters: one grouped query), with this month's and each district's share."""
    made = payment_months.c
    first, last = months[0], months[-1]
    query = (
        select(
            made.district,
            func.sum(made.payments),
            func.sum(made.paid),
            func.sum(case((made.month == last, made.paid), else_=0)),
        )
        .where(made.month >= first, made.month <= last)
        .group_by(made.district)
    )
    if area.districts is not None:
        query = query.where(made.district.in_(sorted(area.districts)))
    found = {d: (int(n or 0), int(a or 0), int(m or 0)) for d, n, a, m in conn.execute(query)}
    order = _area_districts(conn, area)
    order += sorted(d for d in found if d not in order)
    total = sum(a for _, a, _ in found.values())
    rows = []
    for district in order:
        count, amount, month = found.get(district, (0, 0, 0))
        rows.append(
            {
                "district": district,
                "payment_count": count,
                "payments": amount,
                "month_payments": month,
                "share_bps": amount * stats.BPS // total if total else None,
            }
        )
    return rows


def _totals(months: list[dict[str, Any]]) -> dict[str, Any]:
    """The twelve months together: sums, and the share and leverage of the sums."""
    keys = ("issuance", "payment_count", "payments", "cashback", "fee_support")
    out: dict[str, Any] = {k: sum(m[k] for m in months) for k in keys}
    own = sum(m["own_district_payments"] for m in months)
    by_cards = sum(m["card_payments"] for m in months)
    out["own_district_share_bps"] = own * stats.BPS // by_cards if by_cards else None
    spent = out["cashback"] + out["fee_support"]
    out["fiscal_leverage"] = round(out["payments"] / spent, 2) if spent else None
    return out


def dashboard_data(conn: Connection, p: Principal, issuer: str | None) -> dict[str, Any]:
    area = stats.area_for(conn, p, issuer)
    at = now()
    months = stats.monthly(conn, area, kst_month(at), MONTHS)
    budgets_low = [
        b
        for b in _budget_rows(conn, p, kst_day(at))
        if b["state"] in ("empty", "soon")
        and (area.issuers is None or b["owner_kind"] != "issuer" or b["owner"] in area.issuers)
    ]
    return {
        "area": area,
        "months": months,
        "this_month": months[-1],
        "totals": _totals(months),
        "districts": _by_district(conn, area, [m["month"] for m in months]),
        "budgets_low": budgets_low,
        "issuers": _issuers(conn, p),
    }


def _dashboard_charts(data: Mapping[str, Any], lang: str) -> list[tuple[str, Any]]:
    """The dashboard's charts, each with its title (shown above it)."""

    def t(text: str) -> str:
        return i18n.translate(text, lang)

    months = data["months"]
    labels = [m["month"][2:] for m in months]

    def col(key: str) -> list[float | None]:
        return [None if m[key] is None else float(m[key]) for m in months]

    def bars(title: str, key: str, fmt: Any, color: str) -> tuple[str, Any]:
        values = [m[key] or 0 for m in months]
        return t(title), charts.bars(labels, values, title=t(title), fmt=fmt, color=color)

    def lines(title: str, keys: Sequence[tuple[str, str]], fmt: Any) -> tuple[str, Any]:
        series = [(t(name), col(key)) for name, key in keys]
        return t(title), charts.lines(labels, series, title=t(title), fmt=fmt)

    share = [(m["own_district_share_bps"] or 0) / 100 for m in months]  # per cent, drawn
    by_district = t("구·군별 결제액 (최근 12개월)")
    return [
        lines(
            "회원과 활성 회원", [("회원", "members"), ("활성 회원", "active_members")], count_axis
        ),
        bars("발행액", "issuance", won_axis, "#0b6bcb"),
        bars("결제액", "payments", won_axis, "#2b8a3e"),
        bars("결제 건수", "payment_count", count_axis, "#862e9c"),
        lines(
            "캐시백과 수수료 지원",
            [("캐시백", "cashback"), ("수수료 지원", "fee_support")],
            won_axis,
        ),
        (
            t("역내 결제 비중"),
            charts.bars(
                labels,
                share,
                title=t("역내 결제 비중"),
                fmt=lambda v: f"{v:.2f}".rstrip("0").rstrip(".") + "%",
                color="#e8590c",
            ),
        ),
        bars("재정 승수 (지원 1원당 결제액)", "fiscal_leverage", lambda v: f"{v:.2f}", "#c92a2a"),
        (
            by_district,
            charts.bars(
                [t(names.district(d["district"])) for d in data["districts"]],
                [d["payments"] for d in data["districts"]],
                title=by_district,
                fmt=won_axis,
            ),
        ),
    ]


@router.get("/admin")
def dashboard(request: Request, issuer: str | None = None) -> Response:
    p = _admin(request)
    chosen = (issuer or "").strip()[:64] or None
    data = _db(request).read(lambda c: dashboard_data(c, p, chosen))
    return pages.render(
        request,
        "admin/dashboard.html",
        charts_list=_dashboard_charts(data, _lang(request)),
        monthly_cols=MONTHLY_COLS,
        district_cols=DISTRICT_COLS,
        query=urlencode({"issuer": chosen} if chosen else {}),
        section="dashboard",
        **data,
    )


# --- rules -----------------------------------------------------------------------------

KIND_NAMES = {"cashback": "캐시백", "fee_support": "수수료 지원"}
RULE_STATUS = {
    "active": "적용 중",
    "scheduled": "예약",
    "ended": "기간 만료",
    "closed": "종료",
}
RULE_BADGES = {"active": "ok", "scheduled": "plus", "ended": "warn", "closed": ""}
KIND_NAMES_OF_CARDS = names.CARD_KINDS
CHECKS = {  # the multi-choice conditions: form prefix -> allowed codes
    "card_kinds": CARD_KINDS,
    "merchant_tiers": TIERS,
    "channels": CHANNELS,
}
# What a service's error field is called on the rule form.
FORM_FIELDS = {"rate_bps": "rate"}
MAX_FORM_STEPS = 5  # rows of scheduled rate changes on the rule form
FIELD_HINTS = {
    "id": "ID는 영문, 숫자와 _ . : - 로 64자까지입니다.",
    "rate": "비율은 0%부터 100%까지, 소수점 둘째 자리까지 입력하세요.",
    "kind": "캐시백 또는 수수료 지원을 고르세요.",
    "districts": "발행처가 맡은 구·군만 고를 수 있습니다.",
    "from": "날짜는 YYYY-MM-DD 형식입니다.",
    "until": "종료일은 시작일보다 빠를 수 없습니다.",
    "name": "이름은 200자까지입니다.",
    "monthly_cap": "금액은 원 단위 정수로 입력하세요.",
    "max_annual_sales": "금액은 원 단위 정수로 입력하세요.",
    "amount": "금액은 원 단위 정수로 입력하세요.",
    "owner": "관할 발행처만 고를 수 있습니다.",
    "rule": "종료된 규칙은 바꿀 수 없습니다.",
    "steps": "변경 예정은 날짜가 앞선 것부터, 비율은 0%부터 100%까지 입력하세요.",
}


def _form_field(field: str | None) -> str | None:
    """A service's error field as the rule form names it: ``rate_bps`` is ``rate``, and
    ``steps[1].rate_bps`` is ``steps[1].rate`` (the form's rows are numbered as sent)."""
    if field and field.startswith("steps[") and field.endswith(".rate_bps"):
        return field.removesuffix("rate_bps") + "rate"
    return FORM_FIELDS.get(field or "", field)


def _error(request: Request, exc: errors.EumError) -> dict[str, Any]:
    """A form error with the field as the form names it and a hint of what is expected."""
    context = pages.form_error(request, exc)
    field = _form_field(exc.field)
    topic = "steps" if (field or "").startswith("steps") else field
    hint = FIELD_HINTS.get(topic or "") if exc.code in ("invalid_request", "invalid_amount") else ""
    context["error"]["field"] = field
    context["error"]["hint"] = i18n.translate(hint, _lang(request)) if hint else ""
    return context


def rule_status(rule: Mapping[str, Any], today: date) -> str:
    if not rule["active"]:
        return "closed"
    if rule.get("from") and rule["from"] > today.isoformat():
        return "scheduled"
    if rule.get("until") and rule["until"] < today.isoformat():
        return "ended"
    return "active"


def _paid_by_rule(conn: Connection, rule_ids: Sequence[str]) -> dict[str, int]:
    """What each rule paid (net of claw-backs), from the monthly support counters."""
    if not rule_ids:
        return {}
    rows = conn.execute(
        select(support_months.c.rule_id, func.sum(support_months.c.amount))
        .where(support_months.c.rule_id.in_(sorted(rule_ids)))
        .group_by(support_months.c.rule_id)
    )
    return {r: int(a or 0) for r, a in rows}


def _rule_rows(conn: Connection, p: Principal, today: date) -> list[dict[str, Any]]:
    found = policy_views.rule_list(conn, p, None)
    paid = _paid_by_rule(conn, [r["id"] for r in found])
    rows = []
    for r in found:
        status = rule_status(r, today)
        rows.append(
            {
                **r,
                "kind_name": KIND_NAMES.get(r["kind"], r["kind"]),
                "status": status,
                "status_name": RULE_STATUS[status],
                "badge": RULE_BADGES[status],
                "paid": paid.get(r["id"], 0),
            }
        )
    return rows


@router.get("/admin/rules")
def rule_list(request: Request) -> Response:
    p = _admin(request)
    rows = _db(request).read(lambda c: _rule_rows(c, p, _today()))
    return pages.render(
        request,
        "admin/rules.html",
        active=[r for r in rows if r["active"]],
        closed=[r for r in rows if not r["active"]],
        cols=RULE_COLS,
        section="rules",
    )


def _rate_bps(text: str | None, field: str = "rate") -> int:
    """'1.5', '1.5%' or '1,5' per cent -> 150 bps; whole bps only."""
    raw = (text or "").replace("%", "").replace(",", ".").strip()
    try:
        value = Decimal(raw) * 100
    except InvalidOperation:
        raise errors.InvalidRequest("rate must be a number", field=field) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise errors.InvalidRequest("rate must be a whole number of bps", field=field)
    return int(value)


def _step_rows(form: Mapping[str, str]) -> list[tuple[str, str]]:
    """The filled rows of the form's scheduled changes, in order, blank rows left out: the
    form is shown again with them renumbered, so an error's ``steps[k]`` is row k."""
    rows = []
    for i in range(MAX_FORM_STEPS):
        day = (form.get(f"steps[{i}].from") or "").strip()
        rate = (form.get(f"steps[{i}].rate") or "").strip()
        if day or rate:
            rows.append((day, rate))
    return rows


def _steps(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """Scheduled rate changes typed into the form, in the services' words (the service
    checks their order and range)."""
    out = []
    for k, (day, rate) in enumerate(_step_rows(form)):
        try:
            start = date.fromisoformat(day)
        except ValueError:
            raise errors.InvalidRequest(
                f"steps[{k}].from is not a date", field=f"steps[{k}].from"
            ) from None
        out.append({"from": start, "rate_bps": _rate_bps(rate, f"steps[{k}].rate")})
    return out


def _step_form_rows(rows: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """``MAX_FORM_STEPS`` rows of (date, rate %) for the form, blank after those given."""
    blank = [("", "")] * max(0, MAX_FORM_STEPS - len(rows))
    return [{"from": day, "rate": rate} for day, rate in [*rows, *blank]]


def _won_or_none(form: Mapping[str, str], name: str) -> int | None:
    text = (form.get(name) or "").strip()
    return pages.amount(text, name) if text else None


def _date_or_none(form: Mapping[str, str], name: str) -> date | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidRequest(f"{name} is not a date", field=name) from None


def _picked(form: Mapping[str, str], name: str) -> list[str] | None:
    """Checked boxes named ``name.code`` (none checked: the rule's default)."""
    prefix = name + "."
    found = sorted(k[len(prefix) :] for k, v in form.items() if k.startswith(prefix) and v)
    return found or None


def _text_or_none(form: Mapping[str, str], name: str, limit: int = MAX_NAME) -> str | None:
    text = (form.get(name) or "").strip()
    if len(text) > limit:
        raise errors.InvalidRequest(f"{name} is too long", field=name)
    return text or None


def _conditions(form: Mapping[str, str]) -> dict[str, Any]:
    """The SPEC 3.7 conditions typed into the rule form, in the services' words."""
    return {
        "name": _text_or_none(form, "name"),
        "rate_bps": _rate_bps(form.get("rate")),
        "budget": _text_or_none(form, "budget", 64),
        "monthly_cap": _won_or_none(form, "monthly_cap"),
        "cards": _text_or_none(form, "cards", 64),
        "districts": _picked(form, "districts"),
        "card_kinds": _picked(form, "card_kinds"),
        "merchant_tiers": _picked(form, "merchant_tiers"),
        "max_annual_sales": _won_or_none(form, "max_annual_sales"),
        "channels": _picked(form, "channels"),
        "merchant_group": _text_or_none(form, "merchant_group", 64),
        "from": _date_or_none(form, "from"),
        "until": _date_or_none(form, "until"),
        "steps": _steps(form),
    }


def _new_rule_spec(form: Mapping[str, str], p: Principal) -> dict[str, Any]:
    owner = _text_or_none(form, "owner", 64) or p.issuer_id
    rule_id = _text_or_none(form, "id", 64) or f"{owner}-{secrets.token_hex(3)}"
    if not ID_PATTERN.match(rule_id):
        raise errors.InvalidRequest("bad id", field="id")
    kind = form.get("kind", "")
    if kind not in KIND_NAMES:
        raise errors.InvalidRequest("kind must be cashback or fee_support", field="kind")
    return {"id": rule_id, "kind": kind, "owner": owner, **_conditions(form)}


def _form_of_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule as the form shows it (rate in %, amounts as text, checked boxes)."""
    out: dict[str, Any] = {
        k: ("" if rule.get(k) is None else rule[k])
        for k in ("id", "kind", "owner", "name", "budget", "cards", "merchant_group")
    }
    out["rate"] = pages.percent(rule.get("rate_bps")).rstrip("%") if rule.get("rate_bps") else ""
    for k in ("monthly_cap", "max_annual_sales"):
        out[k] = "" if rule.get(k) is None else str(rule[k])
    out["from"] = rule.get("from") or ""
    out["until"] = rule.get("until") or ""
    for k in ("districts", *CHECKS):
        out[k] = list(rule.get(k) or [])
    out["steps"] = _step_form_rows(
        [(s["from"], pages.percent(s["rate_bps"]).rstrip("%")) for s in rule.get("steps") or []]
    )
    return out


def _form_of_post(form: Mapping[str, str]) -> dict[str, Any]:
    """What was posted, to show the form again as the person typed it."""
    out: dict[str, Any] = {k: v for k, v in form.items() if k not in ("csrf", "key")}
    for k in ("districts", *CHECKS):
        out[k] = _picked(form, k) or []
    out["steps"] = _step_form_rows(_step_rows(form))
    return out


def _rule_form_context(conn: Connection, p: Principal) -> dict[str, Any]:
    return {
        "issuers": _issuers(conn, p),
        "all_issuers": policy_views.issuer_list(conn),
        "budgets": [b for b in policy_views.budget_list(conn, p) if not b["closed_at"]],
        "districts": _districts(conn, p),
        "checks": {
            "card_kinds": [(k, KIND_NAMES_OF_CARDS[k]) for k in CARD_KINDS],
            "merchant_tiers": [(t, names.TIERS[t]) for t in TIERS],
            "channels": [(c, names.CHANNELS[c]) for c in CHANNELS],
        },
        "kinds": list(KIND_NAMES.items()),
        "max_steps": MAX_FORM_STEPS,
        "section": "rules",
    }


@router.get("/admin/rules/new")
def new_rule_page(request: Request) -> Response:
    p = _admin(request)
    context = _db(request).read(lambda c: _rule_form_context(c, p))
    form = {"kind": "cashback", "owner": p.issuer_id or ""}
    return pages.render(request, "admin/rule_new.html", form=form, **context)


@router.post("/admin/rules/new")
def create_rule(request: Request, form: pages.Posted) -> Response:
    p = _admin(request)
    db = _db(request)
    try:
        spec = _new_rule_spec(form, p)
        db.run(lambda c: policy.create_rule_as(c, spec, by=p, at=now()))
    except errors.EumError as exc:
        context = db.read(lambda c: _rule_form_context(c, p))
        return pages.render(
            request,
            "admin/rule_new.html",
            status=exc.status,
            form=_form_of_post(form),
            **_error(request, exc),
            **context,
        )
    return pages.redirect(request, f"/admin/rules/{spec['id']}", "규칙을 만들었습니다.")


FIELD_LABELS = {
    "name": "이름",
    "budget": "예산",
    "rate_bps": "비율",
    "monthly_cap": "월 한도",
    "cards": "카드 발행처",
    "districts": "가맹점 구·군",
    "card_kinds": "카드 종류",
    "merchant_tiers": "가맹점 등급",
    "max_annual_sales": "연 매출 상한",
    "channels": "결제 수단",
    "merchant_group": "상인 모임",
    "from": "시작일",
    "until": "종료일",
    "steps": "비율 변경 예정",
    "active": "상태",
}
CHANGE_NAMES = {"created": "생성", "changed": "변경", "closed": "종료"}


# What an unset condition means (SPEC 3.7, 3.8); by rule kind where they differ.
DEFAULTS = {
    "name": "없음",
    "budget": "발행처 재원",
    "monthly_cap": "한도 없음",
    "cards": "발행처와 그 아래 발행처의 카드",
    "districts": "발행처의 모든 구·군",
    "merchant_tiers": "모든 등급",
    "max_annual_sales": "제한 없음",
    "merchant_group": "조건 없음",
    "from": "제한 없음",
    "until": "제한 없음",
    "steps": "예정된 변경 없음",
}
KIND_DEFAULTS = {
    ("cashback", "card_kinds"): "개인",
    ("fee_support", "card_kinds"): "적용 안 함",
    ("cashback", "channels"): "모든 수단",
    ("fee_support", "channels"): "카드",
}


def show_value(field: str, value: Any, lang: str, kind: str = "cashback") -> str:
    """One condition of a rule as a person reads it (an unset one: what it defaults to)."""

    def t(text: str) -> str:
        return i18n.translate(text, lang)

    if value is None or value == []:
        return t(KIND_DEFAULTS.get((kind, field)) or DEFAULTS.get(field, "기본값"))
    if field == "rate_bps":
        return pages.percent(value)
    if field in ("monthly_cap", "max_annual_sales"):
        return pages.won(value)
    if field == "active":
        return t("적용 중") if value else t("종료")
    if field == "districts":
        return ", ".join(t(names.district(d)) for d in value)
    if field == "card_kinds":
        return ", ".join(t(KIND_NAMES_OF_CARDS.get(k, k)) for k in value)
    if field == "merchant_tiers":
        return ", ".join(t(names.TIERS.get(k, k)) for k in value)
    if field == "channels":
        return ", ".join(t(names.CHANNELS.get(k, k)) for k in value)
    if field == "steps":
        return ", ".join(
            t("{day}부터 {rate}").format(day=s["from"], rate=pages.percent(s["rate_bps"]))
            for s in value
        )
    return str(value)


def _versioned(spec: Mapping[str, Any], field: str) -> Any:
    """A field of a version as compared in the history: a version kept before rules had
    steps has none, the same as an empty schedule."""
    value = spec.get(field)
    return (value or None) if field == "steps" else value


STEP_STATES = {"past": "지남", "current": "적용 중", "upcoming": "예정"}


def rule_schedule(rule: Mapping[str, Any], today: date) -> list[dict[str, Any]]:
    """A rule's rate schedule for its page: its own rate, then each step, with which one
    applies today (the last begun by today) and which are still to come."""
    rows = [{"from": None, "rate_bps": rule["rate_bps"]}]
    rows += [{"from": s["from"], "rate_bps": s["rate_bps"]} for s in rule.get("steps") or []]
    begun = [i for i, r in enumerate(rows) if r["from"] is None or r["from"] <= today.isoformat()]
    current = begun[-1]
    for i, row in enumerate(rows):
        state = "current" if i == current else "past" if i < current else "upcoming"
        row.update(state=state, state_name=STEP_STATES[state])
    return rows


i18n.register(
    {
        "비율 변경 예정": "Scheduled rate changes",
        "예정된 변경 없음": "No change scheduled",
        "{day}부터 {rate}": "{rate} from {day}",
        "지남": "Past",
        "예정": "Upcoming",
        "비율 일정": "Rate schedule",
        "변경일": "From",
        "처음부터": "From the start",
        "변경일(KST)부터 그 비율로 지급합니다. 날짜가 앞선 것부터 적고, 비우면 변경 없음": (
            "From that day (KST) on the rule pays that rate. Earliest first; empty: no change"
        ),
        "변경 예정은 날짜가 앞선 것부터, 비율은 0%부터 100%까지 입력하세요.": (
            "Scheduled changes go earliest first, with rates from 0% to 100%."
        ),
    }
)


def _history(rule: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """Each version with what it changed against the one before (newest first)."""
    out = []
    before: Mapping[str, Any] = {}
    for version in rule.get("history", []):
        spec = version["spec"]
        changed = [
            {
                "label": FIELD_LABELS[f],
                "before": show_value(f, before.get(f), lang, spec["kind"]),
                "after": show_value(f, spec.get(f), lang, spec["kind"]),
            }
            for f in FIELD_LABELS
            if before and _versioned(before, f) != _versioned(spec, f)
        ]
        out.append({**version, "change_name": CHANGE_NAMES.get(version["change"]), "diff": changed})
        before = spec
    return out[::-1]


def _rule_page(
    request: Request, p: Principal, rule_id: str, *, status: int = 200, **extra: Any
) -> Response:
    lang = _lang(request)

    def read(conn: Connection) -> dict[str, Any]:
        rule = policy_views.rule(conn, p, rule_id)
        paid = _paid_by_rule(conn, [rule["id"]]).get(rule["id"], 0)
        return {"rule": rule, "paid": paid, **_rule_form_context(conn, p)}

    data = _db(request).read(read)
    rule = data["rule"]
    state = rule_status(rule, _today())
    extra.setdefault("form", _form_of_rule(rule))
    return pages.render(
        request,
        "admin/rule.html",
        status=status,
        history=_history(rule, lang),
        conditions=[
            (FIELD_LABELS[f], show_value(f, rule.get(f), lang, rule["kind"])) for f in FIELD_LABELS
        ],
        rule_state=state,
        state_name=RULE_STATUS[state],
        state_badge=RULE_BADGES[state],
        schedule=rule_schedule(rule, _today()) if rule.get("steps") else [],
        **data,
        **extra,
    )


@router.get("/admin/rules/{rule_id}")
def rule_page(request: Request, rule_id: str) -> Response:
    p = _admin(request)
    return _rule_page(request, p, rule_id[:64])


@router.post("/admin/rules/{rule_id}")
def change_rule(request: Request, form: pages.Posted, rule_id: str) -> Response:
    p = _admin(request)
    db = _db(request)
    rule_id = rule_id[:64]
    try:
        wanted = _conditions(form)
        current = db.read(lambda c: policy_views.rule(c, p, rule_id))
        changes = {k: v for k, v in wanted.items() if _as_stored(v) != current.get(k)}
        if not changes:
            return pages.redirect(request, f"/admin/rules/{rule_id}", "바뀐 내용이 없습니다.")
        db.run(lambda c: policy.change_rule_as(c, rule_id, changes, by=p, at=now()))
    except errors.EumError as exc:
        if exc.code in ("unknown_rule", "forbidden") and exc.field == "rule":
            raise
        return _rule_page(
            request,
            p,
            rule_id,
            status=exc.status,
            form=_form_of_post(form),
            **_error(request, exc),
        )
    starts = changes.get("from") or wanted.get("from")
    if isinstance(starts, date) and starts > _today():
        return pages.redirect(
            request,
            f"/admin/rules/{rule_id}",
            "규칙을 바꿨습니다. {day}부터 적용됩니다.",
            day=starts.isoformat(),
        )
    return pages.redirect(request, f"/admin/rules/{rule_id}", "규칙을 바꿨습니다.")


def _as_stored(value: Any) -> Any:
    """A form value as ``policy.rule_spec`` keeps it (dates as text, in steps too)."""
    if isinstance(value, list):
        return [
            {k: _as_stored(v) for k, v in item.items()} if isinstance(item, dict) else item
            for item in value
        ]
    return value.isoformat() if isinstance(value, date) else value


@router.post("/admin/rules/{rule_id}/close")
def close_rule(request: Request, form: pages.Posted, rule_id: str) -> Response:
    p = _admin(request)
    rule_id = rule_id[:64]
    try:
        _db(request).run(lambda c: policy.close_rule_as(c, rule_id, by=p, at=now()))
    except errors.EumError as exc:
        if exc.code == "invalid_state":
            return _rule_page(request, p, rule_id, status=exc.status, **_error(request, exc))
        raise
    return pages.redirect(request, f"/admin/rules/{rule_id}", "규칙을 종료했습니다.")


# --- budgets ---------------------------------------------------------------------------


def _budgets_context(conn: Connection, p: Principal) -> dict[str, Any]:
    rows = _budget_rows(conn, p, _today())
    return {
        "budgets": rows,
        "open_budgets": [b for b in rows if not b["closed_at"]],
        "issuers": _issuers(conn, p),
        "cols": BUDGET_COLS,
        "section": "budgets",
    }


def _budgets_page(request: Request, p: Principal, *, status: int = 200, **extra: Any) -> Response:
    context = _db(request).read(lambda c: _budgets_context(c, p))
    extra.setdefault("form", {"owner": p.issuer_id or ""})
    extra.setdefault("fund_form", {})
    return pages.render(
        request, "admin/budgets.html", status=status, key=money.new_key(), **context, **extra
    )


@router.get("/admin/budgets")
def budget_list(request: Request) -> Response:
    return _budgets_page(request, _admin(request))


@router.post("/admin/budgets")
def create_budget(request: Request, form: pages.Posted) -> Response:
    p = _admin(request)
    try:
        owner = _text_or_none(form, "owner", 64) or p.issuer_id or ""
        budget_id = _text_or_none(form, "id", 64) or f"{owner}-{secrets.token_hex(3)}"
        if not ID_PATTERN.match(budget_id):
            raise errors.InvalidRequest("bad id", field="id")
        name = _text_or_none(form, "name")
        amount = pages.amount(form.get("amount") or "0", "amount")
        _db(request).run(
            lambda c: policy.create_budget_as(
                c, id=budget_id, owner=owner, amount_krw=amount, name=name, by=p, at=now()
            )
        )
    except errors.EumError as exc:
        return _budgets_page(request, p, status=exc.status, form=dict(form), **_error(request, exc))
    return pages.redirect(request, f"/admin/budgets/{budget_id}", "예산을 편성했습니다.")


def _safe_back(target: str | None, fallback: str) -> str:
    """Back to the budget list or a budget page after funding (never elsewhere)."""
    if target and (target == "/admin/budgets" or re.fullmatch(r"/admin/budgets/[\w.:-]+", target)):
        return target
    return fallback


@router.post("/admin/budgets/fund")
def fund_budget(request: Request, form: pages.Posted) -> Response:
    """Add money to a budget: once per form (its idempotency key), audited."""
    p = _admin(request)
    budget_id = (form.get("budget") or "").strip()[:64]
    back = _safe_back(form.get("back"), "/admin/budgets")
    try:
        if not budget_id:
            raise errors.UnknownBudget("choose a budget", field="budget")
        amount = pages.amount(form.get("amount"), "amount")
        money.once(
            request,
            p,
            form,
            "budget.fund",
            {"budget": budget_id, "amount": amount},
            lambda c, at: policy.fund_budget_as(
                c, budget_id=budget_id, amount_krw=amount, by=p, at=at
            ),
        )
    except errors.EumError as exc:
        shown = {"fund_form": dict(form), **_error(request, exc), "error_at": "fund"}
        if back != "/admin/budgets" and exc.code not in ("unknown_budget", "forbidden"):
            return _budget_page(request, p, budget_id, status=exc.status, **shown)
        return _budgets_page(request, p, status=exc.status, **shown)
    return pages.redirect(
        request, back, "예산을 추가 편성했습니다: {amount}", amount=pages.won(amount)
    )


def _days(value: int | None) -> int:
    return max(WINDOW_DAYS, min(MAX_BURN_DAYS, value or BURN_DAYS))


def _budget_data(conn: Connection, p: Principal, budget_id: str, days: int) -> dict[str, Any]:
    found = policy_views.budget(conn, p, budget_id)
    today = _today()
    burned = burn(conn, found, today, days)
    rules = [r for r in policy_views.rule_list(conn, p, None) if r["budget"] == budget_id]
    return {"budget": found, "burn": burned, "rules": rules, "today": today}


def _budget_page(
    request: Request,
    p: Principal,
    budget_id: str,
    *,
    days: int = BURN_DAYS,
    status: int = 200,
    **extra: Any,
) -> Response:
    data = _db(request).read(lambda c: _budget_data(c, p, budget_id, days))
    fc: Forecast = data["burn"]["forecast"]
    state = "closed" if data["budget"]["closed_at"] else fc.state
    extra.setdefault("fund_form", {})
    return pages.render(
        request,
        "admin/budget.html",
        status=status,
        chart=burn_chart(data["burn"], data["today"], _lang(request)),
        spent_chart=charts.bars(
            [r["day"][5:] for r in data["burn"]["days"]],
            [max(0, r["spent"]) for r in data["burn"]["days"]],
            title=i18n.translate("하루 집행액", _lang(request)),
            fmt=won_axis,
            color="#e8590c",
        ),
        fc=fc,
        state=state,
        state_name=STATE_NAMES.get(state, "종료"),
        state_badge=STATE_BADGES.get(state, ""),
        cols=BURN_COLS,
        days=days,
        key=money.new_key(),
        window=WINDOW_DAYS,
        section="budgets",
        **data,
        **extra,
    )


@router.get("/admin/budgets/{budget_id}")
def budget_page(request: Request, budget_id: str, days: int | None = None) -> Response:
    p = _admin(request)
    return _budget_page(request, p, budget_id[:64], days=_days(days))


# --- merchant approvals and search -----------------------------------------------------

STATUS_NAMES = {"pending": "승인 대기", "approved": "승인", "rejected": "반려됨"}


def _merchant_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "district": row.district,
        "category": row.category,
        "tier": row.tier,
        "tier_name": names.TIERS.get(row.tier, row.tier),
        "discount_bps": row.discount_bps,
        "annual_sales": int(row.annual_sales),
        "card_fee_bps": row.card_fee_bps,
        "status": row.status,
        "status_name": STATUS_NAMES.get(row.status, row.status),
        "active": bool(row.active),
        "created_at": row.created_at,
    }


def _in_area(query: Any, p: Principal) -> Any:
    if p.districts is None:
        return query
    return query.where(merchants.c.district.in_(sorted(p.districts)))


def pending(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    """Registrations waiting for this admin's decision, oldest first."""
    query = (
        select(merchants)
        .where(merchants.c.status == "pending")
        .order_by(merchants.c.created_at, merchants.c.id)
        .limit(PENDING_LIMIT)
    )
    return [_merchant_row(r) for r in conn.execute(_in_area(query, p))]


@dataclass(frozen=True)
class MerchantQuery:
    q: str = ""
    district: str = ""
    status: str = ""
    after: str = ""

    def params(self, **override: str) -> str:
        values = {"q": self.q, "district": self.district, "status": self.status, **override}
        return urlencode({k: v for k, v in values.items() if v})


def search(
    conn: Connection, p: Principal, mq: MerchantQuery, limit: int = MERCHANT_PAGE
) -> tuple[list[dict[str, Any]], str | None]:
    """The admin's merchants (any status) by name or id, district and status, by id."""
    query = select(merchants).order_by(merchants.c.id).limit(limit + 1)
    if mq.q:
        needle = mq.q.lower()
        query = query.where(
            func.lower(merchants.c.name).contains(needle, autoescape=True)
            | func.lower(merchants.c.id).contains(needle, autoescape=True)
        )
    if mq.district:
        query = query.where(merchants.c.district == mq.district)
    if mq.status:
        query = query.where(merchants.c.status == mq.status)
    if mq.after:
        query = query.where(merchants.c.id > mq.after)
    rows = conn.execute(_in_area(query, p)).all()
    page = rows[:limit]
    return [_merchant_row(r) for r in page], (page[-1].id if len(rows) > limit else None)


def _merchant_query(
    q: str | None, district: str | None, status: str | None, after: str | None
) -> MerchantQuery:
    return MerchantQuery(
        q=(q or "").strip()[:MAX_QUERY],
        district=(district or "").strip()[:64],
        status=status if status in STATUS_NAMES else "",
        after=(after or "").strip()[:64],
    )


def _merchants_page(
    request: Request, p: Principal, mq: MerchantQuery, *, status: int = 200, **extra: Any
) -> Response:
    def read(conn: Connection) -> dict[str, Any]:
        found, last = search(conn, p, mq)
        return {
            "pending": pending(conn, p),
            "found": found,
            "next_after": last,
            "districts": _districts(conn, p),
        }

    return pages.render(
        request,
        "admin/merchants.html",
        status=status,
        mq=mq,
        statuses=list(STATUS_NAMES.items()),
        cols=MERCHANT_COLS,
        section="merchants",
        **_db(request).read(read),
        **extra,
    )


@router.get("/admin/merchants")
def merchant_list(
    request: Request,
    q: str | None = None,
    district: str | None = None,
    status: str | None = None,
    after: str | None = None,
) -> Response:
    p = _admin(request)
    return _merchants_page(request, p, _merchant_query(q, district, status, after))


@router.post("/admin/merchants/{merchant_id}/decision")
def decide(request: Request, form: pages.Posted, merchant_id: str) -> Response:
    """Approve or reject a registration (like the API's approval; audited)."""
    p = _admin(request)
    merchant_id = merchant_id[:64]
    decision = form.get("decision")
    try:
        if decision not in ("approve", "reject"):
            raise errors.InvalidRequest("decide approve or reject", field="decision")
        note = _text_or_none(form, "note", merchant_service.MAX_NOTE_LENGTH)
        _db(request).run(
            lambda c: merchant_service.decide_registration(
                c,
                by=p,
                merchant_id=merchant_id,
                approve=decision == "approve",
                note=note,
                at=now(),
            )
        )
    except errors.EumError as exc:
        if exc.code in ("unknown_merchant", "forbidden"):
            raise
        return _merchants_page(
            request, p, MerchantQuery(), status=exc.status, **_error(request, exc)
        )
    message = "등록을 승인했습니다: {id}" if decision == "approve" else "등록을 반려했습니다: {id}"
    return pages.redirect(request, "/admin/merchants", message, id=merchant_id)


# --- CSV exports -----------------------------------------------------------------------


def _export_rows(
    conn: Connection, p: Principal, table: str, params: Mapping[str, str]
) -> tuple[str, Sequence[Col], list[dict[str, Any]]]:
    """The rows of a table the admin sees on a page, by the same functions as the page."""
    stamp = _today().isoformat()
    if table in ("monthly", "districts"):
        data = dashboard_data(conn, p, (params.get("issuer") or "").strip()[:64] or None)
        who = data["area"].issuer_id or "platform"
        if table == "monthly":
            return f"eum-monthly-{who}-{stamp}.csv", MONTHLY_COLS, data["months"]
        return f"eum-districts-{who}-{stamp}.csv", DISTRICT_COLS, data["districts"]
    if table == "rules":
        return f"eum-rules-{stamp}.csv", RULE_COLS, _rule_rows(conn, p, _today())
    if table == "budgets":
        return f"eum-budgets-{stamp}.csv", BUDGET_COLS, _budget_rows(conn, p, _today())
    if table == "merchants":
        mq = _merchant_query(params.get("q"), params.get("district"), params.get("status"), None)
        found, _ = search(conn, p, mq, limit=policy_views.MAX_LIST)
        return f"eum-merchants-{stamp}.csv", MERCHANT_COLS, found
    if table == "pending":
        return f"eum-pending-{stamp}.csv", MERCHANT_COLS, pending(conn, p)
    if table == "budget-burn":
        budget_id = (params.get("budget") or "").strip()[:64]
        days = _days(int(params["days"]) if (params.get("days") or "").isdigit() else None)
        data = _budget_data(conn, p, budget_id, days)
        return f"eum-budget-{budget_id}-{stamp}.csv", BURN_COLS, data["burn"]["days"]
    raise errors.NotFound(f"no table {table}")


@router.get("/admin/export/{table}.csv")
def export(request: Request, table: str) -> Response:
    """Any table of these pages as CSV, only the admin's own area."""
    p = _admin(request)
    params = dict(request.query_params)
    filename, cols, rows = _db(request).read(lambda c: _export_rows(c, p, table, params))
    return csv_response(filename, cols, rows, _lang(request))


# --- English ---------------------------------------------------------------------------

i18n.register(
    {
        "관리자": "Admin",
        "대시보드": "Dashboard",
        "규칙": "Rules",
        "예산": "Budgets",
        "가맹점 승인": "Merchant approvals",
        "통계": "Statistics",
        "월": "Month",
        "활성 회원": "Active members",
        "발행액": "Issued",
        "결제액": "Payments",
        "수수료 지원": "Fee support",
        "역내 결제 비중": "Share paid in own districts",
        "재정 승수": "Fiscal leverage",
        "재정 승수 (지원 1원당 결제액)": "Fiscal leverage (payments per won of support)",
        "이번 달 결제액": "Payments this month",
        "비중": "Share",
        "회원과 활성 회원": "Members and active members",
        "캐시백과 수수료 지원": "Cashback and fee support",
        "구·군별 결제액 (최근 12개월)": "Payments by district (last 12 months)",
        "월별 통계 (최근 12개월)": "By month (last 12 months)",
        "구·군별 결제": "Payments by district",
        "최근 12개월 합계": "Last 12 months",
        "이번 달": "This month",
        "관할": "Area",
        "플랫폼 전체": "Whole platform",
        "발행처": "Issuer",
        "보기": "Show",
        "CSV 내려받기": "Download CSV",
        "예산 알림": "Budget alerts",
        "소진 예상일": "Forecast to run out",
        "곧 소진되거나 소진된 예산이 없습니다.": "No budget is spent or nearly spent.",
        "ID": "ID",
        "종류": "Kind",
        "비율": "Rate",
        "월 한도": "Monthly cap",
        "시작일": "From",
        "종료일": "Until",
        "지급액": "Paid",
        "적용 중": "Active",
        "예약": "Scheduled",
        "기간 만료": "Period over",
        "종료": "Ended",
        "적용 중인 규칙": "Active rules",
        "종료된 규칙": "Closed rules",
        "새 규칙": "New rule",
        "규칙이 없습니다.": "No rules.",
        "규칙 만들기": "Create rule",
        "규칙 ID": "Rule ID",
        "비우면 자동으로 만듭니다. 영문·숫자와 _ . : -": (
            "Left empty, one is made up. Letters, digits and _ . : -"
        ),
        "비율 (%)": "Rate (%)",
        "예: 1.5 (결제액의 1.5%)": "e.g. 1.5 (1.5% of the payment)",
        "예산 없음 (발행처 재원)": "No budget (issuer's funds)",
        "월 한도 (원)": "Monthly cap (won)",
        "카드당 한 달에 캐시백을 받는 결제액의 상한, 비우면 한도 없음": (
            "Most of a card's payments per month that earn cashback; empty: no cap"
        ),
        "카드 발행처": "Card issuer",
        "발행처 카드 (기본)": "The owner's cards (default)",
        "가맹점 구·군": "Merchant districts",
        "선택하지 않으면 발행처의 모든 구·군": "None checked: all of the owner's districts",
        "선택하지 않으면 개인 카드": "None checked: personal cards",
        "가맹점 등급": "Merchant tier",
        "선택하지 않으면 모든 등급": "None checked: every tier",
        "연 매출 상한 (원)": "Max annual sales (won)",
        "비우면 제한 없음": "Empty: no limit",
        "결제 수단": "Channels",
        "선택하지 않으면 캐시백은 모든 수단, 수수료 지원은 카드": (
            "None checked: cashback on every channel, fee support on card"
        ),
        "상인 모임": "Merchant group",
        "상인 모임 ID, 비우면 조건 없음": "Merchant group id; empty: no condition",
        "시작일이 미래이면 그날부터 적용됩니다 (예약).": (
            "A start date in the future schedules the rule."
        ),
        "사업자": "Business",
        "QR": "QR",
        "기본값": "Default",
        "없음": "None",
        "발행처 재원": "The owner's funds",
        "한도 없음": "No cap",
        "발행처와 그 아래 발행처의 카드": "Cards of the owner and the issuers below it",
        "발행처의 모든 구·군": "All of the owner's districts",
        "모든 등급": "Every tier",
        "제한 없음": "No limit",
        "조건 없음": "No condition",
        "적용 안 함": "Does not apply",
        "모든 수단": "Every channel",
        "조건": "Conditions",
        "변경 이력": "History",
        "생성": "Created",
        "변경": "Changed",
        "바뀐 항목": "Changed",
        "규칙 바꾸기": "Change the rule",
        "저장": "Save",
        "규칙 종료": "Close the rule",
        "종료하면 더 이상 결제에 적용되지 않습니다. 지급된 캐시백은 그대로입니다.": (
            "Once closed it applies to no payment; cashback paid stays paid."
        ),
        "규칙을 만들었습니다.": "Rule created.",
        "규칙을 바꿨습니다.": "Rule changed.",
        "규칙을 바꿨습니다. {day}부터 적용됩니다.": "Rule changed. It applies from {day}.",
        "규칙을 종료했습니다.": "Rule closed.",
        "바뀐 내용이 없습니다.": "Nothing changed.",
        "연 매출 상한": "Max annual sales",
        "ID는 영문, 숫자와 _ . : - 로 64자까지입니다.": (
            "IDs have up to 64 letters, digits and _ . : -"
        ),
        "비율은 0%부터 100%까지, 소수점 둘째 자리까지 입력하세요.": (
            "Rates go from 0% to 100%, with at most two decimals."
        ),
        "캐시백 또는 수수료 지원을 고르세요.": "Choose cashback or fee support.",
        "발행처가 맡은 구·군만 고를 수 있습니다.": "Only districts the owner covers.",
        "날짜는 YYYY-MM-DD 형식입니다.": "Dates are YYYY-MM-DD.",
        "종료일은 시작일보다 빠를 수 없습니다.": "The end cannot be before the start.",
        "이름은 200자까지입니다.": "Names have at most 200 characters.",
        "금액은 원 단위 정수로 입력하세요.": "Amounts are whole won.",
        "관할 발행처만 고를 수 있습니다.": "Only issuers of your area.",
        "종료된 규칙은 바꿀 수 없습니다.": "A closed rule cannot be changed.",
        "재원 주체": "Owner",
        "편성액": "Funded",
        "집행액": "Spent",
        "잔액": "Balance",
        "최근 7일 하루 평균 집행액": "Average daily spend (last 7 days)",
        "정상": "OK",
        "집행 없음": "No spending",
        "새 예산": "New budget",
        "예산 ID": "Budget ID",
        "편성 금액 (원)": "Amount (won)",
        "예산 편성": "Open budget",
        "추가 편성": "Add funds",
        "추가할 금액 (원)": "Amount to add (won)",
        "예산이 없습니다.": "No budgets.",
        "예산을 편성했습니다.": "Budget opened.",
        "예산을 추가 편성했습니다: {amount}": "Funds added: {amount}",
        "예산 잔액과 소진 예측": "Budget remaining and forecast",
        "예측": "Forecast",
        "하루 집행액": "Spent per day",
        "날짜": "Date",
        "일별 집행": "By day",
        "최근 {n}일": "Last {n} days",
        "이 예산을 쓰는 규칙": "Rules paying from this budget",
        "편성 내역": "Fundings",
        "예산 열기": "Budget opened",
        "예산 종료": "Budget closed",
        "최근 {n}일 집행액": "Spent in the last {n} days",
        "하루 평균": "Per day",
        "{date}에 소진 예상 ({days}일 뒤)": "Forecast to run out on {date} (in {days} days)",
        "지난 4주의 가장 빠른 주 속도로는 {early}, 가장 느린 주 속도로는 {late}": (
            "at the fastest week's pace of the last 4 weeks on {early}, at the slowest on {late}"
        ),
        "예측 불가": "not foreseeable",
        "{n}일 안에 소진이 예측되면 경보": "alert when forecast to run out within {n} days",
        "최근 {n}일 동안 집행이 없어 소진일을 예측할 수 없습니다.": (
            "No spending in the last {n} days: no forecast."
        ),
        "예산이 모두 소진되었습니다.": "The budget is spent.",
        "승인 대기": "Awaiting approval",
        "승인": "Approve",
        "반려": "Reject",
        "반려됨": "Rejected",
        "등급": "Tier",
        "선할인": "Discount",
        "카드 수수료": "Card fee",
        "승인 대기 중인 등록 신청": "Registrations waiting for approval",
        "승인 대기 중인 신청이 없습니다.": "No registration is waiting.",
        "메모 (선택)": "Note (optional)",
        "가맹점 검색": "Search merchants",
        "이름 또는 ID": "Name or ID",
        "신청일": "Applied",
        "등록을 승인했습니다: {id}": "Registration approved: {id}",
        "등록을 반려했습니다: {id}": "Registration rejected: {id}",
        "기간": "Period",
        "편성": "Funded",
    }
)
