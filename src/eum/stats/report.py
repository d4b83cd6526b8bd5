"""The monthly report of an issuer's area (issue #6): what a city publishes each month.

``monthly_report`` gathers, for one KST month, the SPEC 4 figures beside the month before
and the same month a year earlier, the twelve months up to it, payments by district and
the top merchant categories, what each budget of the area paid that month against what
it was given and what is left, support per rule, and donations. ``render_html`` draws it
as one self-contained HTML document (inline CSS and SVG, no script, no external address)
that prints on A4, so the browser's "print to PDF" gives the PDF; ``write_report`` writes
that document for the command line.

Everything comes from the counter tables (``eum.stats.store``) and the budgets' account
rows, never from a scan of payments or postings: a month of a whole city is a handful of
grouped queries. The area is ``eum.stats.views.Area``, so an admin's report covers its
own subtree only, with the same figures as its dashboard.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, Engine, func, select

from eum import errors
from eum.clock import KST, as_kst, kst_month, now
from eum.db import make_engine, reading
from eum.ledger.store import accounts
from eum.policy import service as policy
from eum.policy.store import budgets, issuers, rules
from eum.stats import views as stats
from eum.stats.store import card_days, payment_months, support_months
from eum.wallets.views import iso
from eum.web import charts, i18n, names, pages

MONTHS = 12  # months in the report's series and charts
TOP_CATEGORIES = 10
MAX_CHART_BARS = 12  # budgets on a chart; the table lists them all
MAX_BUDGETS = 1000  # budgets in one report (as policy.views lists at most)
MIN_YEAR = 2000
LABEL_CHARS = 10  # of a budget's name under its bar
MONTH_TEXT = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
LANGS = ("ko", "en")
TEMPLATE = "admin/report_doc.html"

# The figures of the report, in the order it shows them: key, Korean title, how it shows.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("members", "회원", "count"),
    ("active_members", "활성 회원", "count"),
    ("issuance", "발행액", "won"),
    ("payment_count", "결제 건수", "count"),
    ("payments", "결제액", "won"),
    ("cashback", "캐시백", "won"),
    ("fee_support", "수수료 지원", "won"),
    ("donated", "기부액", "won"),
    ("own_district_share_bps", "역내 결제 비중", "bps"),
    ("fiscal_leverage", "재정 승수", "ratio"),
)
OWN_FUNDS = "발행처 재원"  # the row of support paid by rules without a budget
UNCATEGORISED = "미분류"


# --- months and areas ------------------------------------------------------------------


def parse_month(text: object, latest: str | None = None) -> str:
    """A report month ``YYYY-MM`` from ``MIN_YEAR`` on and not after ``latest``;
    anything else is ``invalid_request`` (the month field)."""
    found = MONTH_TEXT.match(text.strip()) if isinstance(text, str) else None
    if found is None or int(found.group(1)) < MIN_YEAR:
        raise errors.InvalidRequest("month must be YYYY-MM", field="month")
    month = found.group(0)
    if latest is not None and month > latest:
        raise errors.InvalidRequest("no report for a month still to come", field="month")
    return month


def previous_month(month: str) -> str:
    return stats.months_until(month, 2)[0]


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def last_full_month(at: datetime) -> str:
    """The month before the KST month of ``at``: the one a report is usually wanted for."""
    return previous_month(kst_month(at))


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    """The KST month as [start, end)."""
    following = next_month(month)
    start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=KST)
    end = datetime(int(following[:4]), int(following[5:7]), 1, tzinfo=KST)
    return start, end


def area_of_issuer(conn: Connection, issuer_id: str | None) -> stats.Area:
    """An issuer's area without a signed-in person (the command line runs as the
    operator); None is the whole platform."""
    if issuer_id is None:
        return stats.Area(None, None, None)
    tree = policy.catalog(conn).issuers
    if issuer_id not in tree.parent:
        raise errors.UnknownIssuer(f"no issuer {issuer_id}", field="issuer")
    return stats.Area(issuer_id, tree.subtree(issuer_id), tree.covers(issuer_id))


def issuer_name(conn: Connection, issuer_id: str | None) -> str | None:
    if issuer_id is None:
        return None
    name = conn.execute(select(issuers.c.name).where(issuers.c.id == issuer_id)).scalar()
    return str(name) if name else issuer_id


# --- the report ------------------------------------------------------------------------


def monthly_report(conn: Connection, area: stats.Area, month: str) -> dict[str, Any]:
    """The report of ``area`` for the KST ``month`` (``YYYY-MM``), as plain data (ints,
    text, None and the two ratios as floats), ready for ``render_html`` or JSON."""
    month = parse_month(month)
    # the twelve months up to ``month`` and the one a year before it: one figures call
    rows = stats.figures(conn, area, stats.months_until(month, MONTHS + 1))
    donated = _donations(conn, area, rows[0]["month"], month)
    for row in rows:
        row["donated"] = donated.get(row["month"], 0)
    year_ago, series = rows[0], rows[1:]
    this, before = series[-1], series[-2]
    places = _places(conn, area, month)
    lines = _support_lines(conn, area, month)
    return {
        "issuer": area.issuer_id,
        "issuer_name": issuer_name(conn, area.issuer_id),
        "month": month,
        "previous_month": before["month"],
        "year_ago_month": year_ago["month"],
        "generated_at": iso(now()),
        "figures": [
            _compare(key, title, kind, this, before, year_ago) for key, title, kind in FIGURES
        ],
        "this_month": this,
        "previous": before,
        "year_ago": year_ago,
        "months": series,
        "districts": _districts(conn, area, places),
        "categories": _categories(places),
        "budgets": _budgets(conn, area, month, lines),
        "rules": _rules(conn, lines),
        "donated": this["donated"],
    }


def _change(value: float | None, then: float | None, kind: str) -> float | None:
    """How a figure moved: per cent of what it was, or for a share the difference in
    percentage points; None when there is nothing to compare with (a ratio, not money)."""
    if value is None or then is None:
        return None
    if kind == "bps":
        return round((float(value) - float(then)) / 100, 2)
    if then == 0:
        return None
    return round((float(value) - float(then)) * 100 / float(then), 1)


def _compare(
    key: str,
    title: str,
    kind: str,
    this: Mapping[str, Any],
    before: Mapping[str, Any],
    year_ago: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "kind": kind,
        "value": this[key],
        "previous": before[key],
        "year_ago": year_ago[key],
        "change_previous": _change(this[key], before[key], kind),
        "change_year": _change(this[key], year_ago[key], kind),
    }


def _donations(conn: Connection, area: stats.Area, first: str, last: str) -> dict[str, int]:
    """Donations by the donor's card per month, from the daily card counters (a day
    without a row gave nothing)."""
    day = card_days.c.day
    query = (
        select(day, func.sum(card_days.c.donated))
        .where(day >= f"{first}-01", day <= f"{last}-31")
        .group_by(day)
    )
    if area.issuers is not None:
        query = query.where(card_days.c.card_issuer_id.in_(sorted(area.issuers)))
    out: dict[str, int] = defaultdict(int)
    for on, amount in conn.execute(query):
        out[str(on)[:7]] += int(amount or 0)
    return dict(out)


def _places(conn: Connection, area: stats.Area, month: str) -> list[tuple[str, str, int, int]]:
    """(district, category, payments, paid) at merchants of the area in the month."""
    made = payment_months.c
    query = (
        select(made.district, made.category, func.sum(made.payments), func.sum(made.paid))
        .where(made.month == month)
        .group_by(made.district, made.category)
    )
    if area.districts is not None:
        query = query.where(made.district.in_(sorted(area.districts)))
    return [(str(d), str(c), int(n or 0), int(a or 0)) for d, c, n, a in conn.execute(query)]


def _share(part: int, total: int) -> int | None:
    return part * stats.BPS // total if total else None


def _districts(
    conn: Connection, area: stats.Area, places: Sequence[tuple[str, str, int, int]]
) -> list[dict[str, Any]]:
    """Every district of the area (none paid: zero), most paid first."""
    found: dict[str, list[int]] = {}
    for district, _category, count, paid in places:
        pair = found.setdefault(district, [0, 0])
        pair[0] += count
        pair[1] += paid
    known = names.districts_known(conn)
    listed = [d for d in known if area.districts is None or d in area.districts]
    listed += sorted(d for d in found if d not in listed)
    total = sum(paid for _, paid in found.values())
    rows: list[dict[str, Any]] = [
        {
            "district": d,
            "payment_count": found.get(d, [0, 0])[0],
            "payments": found.get(d, [0, 0])[1],
            "share_bps": _share(found.get(d, [0, 0])[1], total),
        }
        for d in listed
    ]
    rows.sort(key=lambda r: -r["payments"])  # stable: districts in their usual order
    return rows


def _categories(places: Sequence[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    """The ``TOP_CATEGORIES`` categories most paid at, with their share of all payments."""
    found: dict[str, list[int]] = {}
    for _district, category, count, paid in places:
        pair = found.setdefault(category, [0, 0])
        pair[0] += count
        pair[1] += paid
    total = sum(paid for _, paid in found.values())
    ranked = sorted(found.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    return [
        {
            "category": category,
            "payment_count": count,
            "payments": paid,
            "share_bps": _share(paid, total),
        }
        for category, (count, paid) in ranked[:TOP_CATEGORIES]
    ]


def _support_lines(
    conn: Connection, area: stats.Area, month: str
) -> list[tuple[str, str, str, int]]:
    """(rule, budget or '', kind, won) the area's public money paid for payments of the
    month, net of claw-backs; the same selection as the dashboard's cashback and fee
    support, so the budgets' rows add up to the headline figures."""
    line = support_months.c
    rows = conn.execute(
        select(line.rule_id, line.budget_id, line.kind, func.sum(line.amount))
        .where(line.month == month, stats.paid_by(area))
        .group_by(line.rule_id, line.budget_id, line.kind)
    )
    return [(str(r), str(b), str(k), int(a or 0)) for r, b, k, a in rows]


def _spent_to_date(conn: Connection, budget_ids: Sequence[str]) -> dict[str, int]:
    """What each budget paid so far, net of claw-backs, from the support counters."""
    if not budget_ids:
        return {}
    line = support_months.c
    rows = conn.execute(
        select(line.budget_id, func.sum(line.amount))
        .where(line.budget_id.in_(sorted(budget_ids)))
        .group_by(line.budget_id)
    )
    return {str(b): int(a or 0) for b, a in rows}


def _budgets(
    conn: Connection,
    area: stats.Area,
    month: str,
    lines: Sequence[tuple[str, str, str, int]],
) -> list[dict[str, Any]]:
    """The area's budgets open during the month (or paying in it): what each paid that
    month, what it was given and what is left now.

    Left is the budget account's balance; given is that balance plus what the budget
    paid so far (the support counters move in the same transaction as the account, so
    this equals the fundings, less what a closing gave back, without reading postings).
    """
    paid: dict[str, dict[str, int]] = defaultdict(lambda: {"cashback": 0, "fee_support": 0})
    for _rule, budget, kind, amount in lines:
        if kind in ("cashback", "fee_support"):
            paid[budget][kind] += amount
    query = (
        select(budgets, accounts.c.balance)
        .join(accounts, accounts.c.id == budgets.c.account_id)
        .where(budgets.c.owner_kind == "issuer")
        .order_by(budgets.c.id)
        .limit(MAX_BUDGETS)
    )
    if area.issuers is not None:
        query = query.where(budgets.c.owner_id.in_(sorted(area.issuers)))
    start, end = _month_bounds(month)
    found = [
        r
        for r in conn.execute(query)
        if r.id in paid
        or (as_kst(r.created_at) < end and (r.closed_at is None or as_kst(r.closed_at) >= start))
    ]
    spent = _spent_to_date(conn, [r.id for r in found])
    rows = []
    for r in found:
        month_paid = paid.get(r.id, {"cashback": 0, "fee_support": 0})
        remaining = int(r.balance)
        funded = remaining + spent.get(r.id, 0)
        support = month_paid["cashback"] + month_paid["fee_support"]
        rows.append(
            {
                "id": r.id,
                "name": r.name or r.id,
                "owner": r.owner_id,
                "closed": r.closed_at is not None,
                "cashback": month_paid["cashback"],
                "fee_support": month_paid["fee_support"],
                "month_support": support,
                "month_share_bps": _share(support, funded),
                "funded": funded,
                "spent": funded - remaining,
                "remaining": remaining,
                "used_bps": _share(funded - remaining, funded),
            }
        )
    rows.sort(key=lambda b: (-b["month_support"], b["id"]))
    own = paid.get(stats.NO_BUDGET)
    if own and (own["cashback"] or own["fee_support"]):
        rows.append(_own_funds_row(own))
    return rows


def _own_funds_row(own: Mapping[str, int]) -> dict[str, Any]:
    """Support paid by rules without a budget, from their owner's funding account."""
    support = own["cashback"] + own["fee_support"]
    return {
        "id": stats.NO_BUDGET,
        "name": OWN_FUNDS,
        "owner": None,
        "closed": False,
        "cashback": own["cashback"],
        "fee_support": own["fee_support"],
        "month_support": support,
        "month_share_bps": None,
        "funded": None,
        "spent": None,
        "remaining": None,
        "used_bps": None,
    }


def _rules(conn: Connection, lines: Sequence[tuple[str, str, str, int]]) -> list[dict[str, Any]]:
    """What each rule paid that month, most first."""
    by_rule: dict[tuple[str, str, str], int] = defaultdict(int)
    for rule, budget, kind, amount in lines:
        by_rule[(rule, budget, kind)] += amount
    ids = sorted({rule for rule, _, _ in by_rule})
    named = (
        dict(conn.execute(select(rules.c.id, rules.c.name).where(rules.c.id.in_(ids))).all())
        if ids
        else {}
    )
    rows: list[dict[str, Any]] = [
        {
            "id": rule,
            "name": named.get(rule) or rule,
            "kind": kind,
            "budget": budget or None,
            "amount": amount,
        }
        for (rule, budget, kind), amount in by_rule.items()
    ]
    rows.sort(key=lambda r: (-r["amount"], r["id"], r["kind"]))
    return rows


# --- the document ----------------------------------------------------------------------


def _won_axis(value: float) -> str:
    return pages.won(int(value))


def _count_axis(value: float) -> str:
    return pages.count(int(value))


def _percent_axis(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") + "%"


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def report_charts(report: Mapping[str, Any], lang: str = "ko") -> list[tuple[str, Markup]]:
    """The report's charts, each with its title: the twelve months, the budgets, the
    top categories and the districts (inline SVG from ``eum.web.charts``)."""

    def t(text: str) -> str:
        return i18n.translate(text, lang)

    months = report["months"]
    labels = [m["month"][2:] for m in months]

    def series(*keys: tuple[str, str]) -> list[tuple[str, Sequence[float | None]]]:
        return [(t(name), [float(m[key]) for m in months]) for name, key in keys]

    def bars(
        title: str, bar_labels: Sequence[str], values: Sequence[float], fmt: Any, color: str
    ) -> tuple[str, Markup]:
        return t(title), charts.bars(bar_labels, values, title=t(title), fmt=fmt, color=color)

    def lines(title: str, keys: Sequence[tuple[str, str]], fmt: Any) -> tuple[str, Markup]:
        return t(title), charts.lines(labels, series(*keys), title=t(title), fmt=fmt)

    shown = report["budgets"][:MAX_CHART_BARS]
    funded = [b for b in shown if b["funded"]]
    top = report["categories"]
    return [
        lines(
            "회원과 활성 회원", [("회원", "members"), ("활성 회원", "active_members")], _count_axis
        ),
        bars("발행액", labels, [m["issuance"] for m in months], _won_axis, "#0b6bcb"),
        bars("결제액", labels, [m["payments"] for m in months], _won_axis, "#2b8a3e"),
        lines(
            "캐시백과 수수료 지원",
            [("캐시백", "cashback"), ("수수료 지원", "fee_support")],
            _won_axis,
        ),
        bars(
            "예산별 이번 달 집행액",
            [_label(t(b["name"])) for b in shown],
            [b["month_support"] for b in shown],
            _won_axis,
            "#e8590c",
        ),
        bars(
            "예산 대비 누적 집행률",
            [_label(b["name"]) for b in funded],
            [(b["used_bps"] or 0) / 100 for b in funded],  # per cent, drawn
            _percent_axis,
            "#c92a2a",
        ),
        bars(
            "업종별 결제액 상위",
            [t(names.category(c["category"]) or UNCATEGORISED) for c in top],
            [c["payments"] for c in top],
            _won_axis,
            "#862e9c",
        ),
        bars(
            "구·군별 결제액",
            [t(names.district(d["district"])) for d in report["districts"]],
            [d["payments"] for d in report["districts"]],
            _won_axis,
            "#0b6bcb",
        ),
    ]


def area_title(report: Mapping[str, Any], lang: str = "ko") -> str:
    return str(report["issuer_name"] or i18n.translate("플랫폼 전체", lang))


def file_name(report: Mapping[str, Any]) -> str:
    """``eum-report-gyeyang-2026-10.html`` (only characters any file system takes)."""
    who = FILE_CHARS.sub("_", report["issuer"] or "platform")
    return f"eum-report-{who}-{report['month']}.html"


def render_html(report: Mapping[str, Any], lang: str = "ko") -> str:
    """The report as one HTML document: inline CSS and SVG, no script but a print
    button's handler, no external address; Korean unless ``lang`` is ``en``."""
    lang = lang if lang in LANGS else "ko"

    def t(text: str, **values: Any) -> str:
        return i18n.translate(text, lang, **values)

    return pages.env.get_template(TEMPLATE).render(
        report=report,
        charts_list=report_charts(report, lang),
        area_name=area_title(report, lang),
        lang=lang,
        _=t,
    )


def write_report(
    engine_or_url: Engine | str,
    issuer_id: str | None,
    month: str,
    out_path: str | Path,
    lang: str = "ko",
) -> Path:
    """Write the monthly report of ``issuer_id``'s area (None: the whole platform) for
    ``month`` (``YYYY-MM``, not after the current KST month) as a standalone HTML file;
    the file appears whole or not at all. Returns its path. Raises ``UnknownIssuer`` or
    ``InvalidRequest`` (a bad month or language)."""
    month = parse_month(month, latest=kst_month(now()))
    if lang not in LANGS:
        raise errors.InvalidRequest("lang must be ko or en", field="lang")
    own = isinstance(engine_or_url, str)
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with reading(engine) as conn:
            data = monthly_report(conn, area_of_issuer(conn, issuer_id), month)
    finally:
        if own:
            engine.dispose()
    target = Path(out_path)
    partial = target.with_name(target.name + ".part")
    partial.write_text(render_html(data, lang), encoding="utf-8")
    partial.replace(target)
    return target


# --- English ---------------------------------------------------------------------------

i18n.register(
    {
        "보고서": "Reports",
        "월간 보고서": "Monthly report",
        "기부액": "Donated",
        "결제 건수": "Payments",
        "발행처 재원": "The owner's funds",
        "미분류": "Uncategorised",
        "예산별 이번 달 집행액": "Spent per budget this month",
        "예산 대비 누적 집행률": "Budget spent so far",
        "업종별 결제액 상위": "Top categories by payments",
        "구·군별 결제액": "Payments by district",
        "주요 지표": "Key figures",
        "전월": "Previous month",
        "전년 동월": "Same month last year",
        "전월 대비": "vs previous month",
        "전년 동월 대비": "vs same month last year",
        "증감": "Change",
        "작성": "Made",
        "지표": "Figure",
        "이번 달 값": "This month",
        "업종": "Category",
        "이번 달 캐시백": "Cashback this month",
        "이번 달 수수료 지원": "Fee support this month",
        "이번 달 집행액": "Spent this month",
        "누적 집행액": "Spent so far",
        "현재 잔액": "Remaining now",
        "집행률": "Spent",
        "편성액 대비 이번 달": "Of funding this month",
        "규칙별 지원액": "Support per rule",
        "예산별 집행": "Budgets",
        "업종별 결제 상위": "Top categories",
        "기부 현황": "Donations",
        "이번 달 기부액 (기부한 회원의 카드 기준)": "Donated this month (by the donor's card)",
        "월별 통계": "By month",
        "인쇄 / PDF로 저장": "Print / save as PDF",
        "HTML 내려받기": "Download HTML",
        "이전 달": "Previous month",
        "다음 달": "Next month",
        "월 선택": "Choose a month",
        "보고서 보기": "Show report",
        "최근 보고서": "Recent reports",
        "집계 중": "in progress",
        "결제가 없습니다.": "No payments yet.",
        "집행이 없습니다.": "Nothing was paid.",
        "예산이 없습니다.": "No budgets.",
        "금액은 원 단위이며 결제액은 환불을 뺀 금액입니다.": (
            "Amounts are in won; payments are net of refunds."
        ),
        "캐시백과 수수료 지원은 결제한 달 기준, 환수를 뺀 금액입니다.": (
            "Cashback and fee support count in the month of the payment, net of claw-backs."
        ),
        "편성액·누적 집행액·잔액은 보고서 작성 시점 기준입니다.": (
            "Funding, spent so far and remaining are as of when the report was made."
        ),
        "발행처 재원은 예산 없이 발행처 자금으로 지급한 지원입니다.": (
            "The owner's funds: support paid without a budget, from the issuer's account."
        ),
        "월간 보고서 · {area} · {month}": "Monthly report · {area} · {month}",
        "{month} 보고서": "Report for {month}",
    }
)
