"""What-if from the admin pages (issue "Budget foresight"): an issuer admin edits a draft
of its own rules (the live ones to start from), picks a period (last month by default)
and sees, while it runs and after, what the draft would have paid next to what was paid.

The run is ``eum.whatif.run.whatif``, as the ``eum policy whatif`` command runs it, in a
thread (``eum.whatif.jobs``); the page refreshes itself while it runs. An admin's draft
may hold only rules and budgets of its own area, and the report shows only its area's
rules: the same payments earned other issuers' cashback too, which is not its to see.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from eum import errors
from eum.auth.model import Principal
from eum.clock import kst_day, now
from eum.policy import service as policy
from eum.policy.store import budgets, rules
from eum.scenario import ScenarioError, parse_yaml
from eum.web import charts, i18n, pages, session
from eum.whatif import report as whatif_report
from eum.whatif.jobs import Job, jobs
from eum.whatif.replay import Draft, Period, draft_from_doc, live_rules
from eum.whatif.run import whatif

router = APIRouter(include_in_schema=False)

MAX_DRAFT_CHARS = 20_000
MAX_PERIOD_DAYS = 92


_db = pages.database
_admin = pages.admin


def last_month(today: date) -> tuple[date, date]:
    first_of_this = today.replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def _own_rules(conn: Connection, p: Principal) -> dict[str, Any]:
    """The live rules of the admin's area, as a draft to start from."""
    doc = live_rules(conn)
    doc["rules"] = [r for r in doc["rules"] if p.sees_issuer(r["owner"])]
    doc["name"] = "초안"
    return doc


def _check_area(conn: Connection, p: Principal, draft: Draft) -> None:
    """Every rule and budget of the draft in the admin's area; every budget a rule draws
    on is the draft's or a live one of the area."""
    drafted = {b["id"] for b in draft.budgets}
    for i, b in enumerate(draft.budgets):
        kind = policy._owner_kind(conn, b["owner"])
        if kind is None or not policy.owner_in_area(conn, p, kind, b["owner"]):
            raise errors.Forbidden(f"budget owner {b['owner']} is outside your area",
                                   field=f"budgets[{i}].owner")  # fmt: skip
    for i, r in enumerate(draft.rules):
        if not p.sees_issuer(r["owner"]):
            raise errors.Forbidden(f"rule owner {r['owner']} is outside your area",
                                   field=f"rules[{i}].owner")  # fmt: skip
        budget = r.get("budget")
        if budget and budget not in drafted:
            row = conn.execute(
                select(budgets.c.owner_kind, budgets.c.owner_id).where(budgets.c.id == budget)
            ).first()
            if row is None:
                raise errors.UnknownBudget(f"no budget {budget}", field=f"rules[{i}].budget")
            if not policy.owner_in_area(conn, p, row.owner_kind, row.owner_id):
                raise errors.Forbidden(f"budget {budget} is outside your area",
                                       field=f"rules[{i}].budget")  # fmt: skip


def _area_rule_ids(conn: Connection, p: Principal, draft: Draft) -> set[str]:
    own = {
        r.id
        for r in conn.execute(select(rules.c.id, rules.c.owner_id))
        if p.sees_issuer(r.owner_id)
    }
    return own | {str(r["id"]) for r in draft.rules}


def _form(
    request: Request, p: Principal, text: str, first: date, last: date, error: Any = None
) -> Response:
    return pages.render(
        request,
        "admin/whatif.html",
        status=422 if error else 200,
        draft_text=text,
        first=first.isoformat(),
        last=last.isoformat(),
        runs=jobs.of(p.user_id),
        error=error,
        section="whatif",
    )


@router.get("/admin/whatif")
def whatif_form(request: Request) -> Response:
    p = _admin(request)
    first, last = last_month(kst_day(now()))
    doc = _db(request).read(_own_rules, p)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return _form(request, p, text, first, last)


def _day(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        raise errors.InvalidRequest(f"{field} is not a date", field=field) from None


@router.post("/admin/whatif")
def whatif_start(request: Request, form: pages.Posted) -> Response:
    p = _admin(request)
    text = form.get("draft", "")[:MAX_DRAFT_CHARS]
    lang = session.visitor(request).lang
    try:
        first, last = _day(form.get("from"), "from"), _day(form.get("to"), "to")
        if last < first:
            raise errors.InvalidRequest("the period ends before it starts", field="to")
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise errors.InvalidRequest(f"at most {MAX_PERIOD_DAYS} days", field="to")
        if last > kst_day(now()):
            raise errors.InvalidRequest("the period cannot end after today", field="to")
        try:
            draft = draft_from_doc(parse_yaml(text), "draft")
        except ScenarioError as exc:
            raise errors.InvalidRequest(str(exc), field="draft") from None
        _db(request).read(_check_area, p, draft)
        allowed = _db(request).read(_area_rule_ids, p, draft)
    except errors.EumError as exc:
        first_d, last_d = last_month(kst_day(now()))
        shown = pages.form_error(request, exc)
        if exc.field and exc.field not in ("from", "to"):
            shown["error"]["text"] = f"{exc.field}: {exc.detail}"
        return _form(
            request, p, text, first_d if exc.field == "from" else _safe(form.get("from"), first_d),
            last_d if exc.field == "to" else _safe(form.get("to"), last_d), shown["error"],
        )  # fmt: skip
    engine = _db(request).engine

    def work(job: Job) -> dict[str, Any]:
        found = whatif(engine, draft, Period(first, last), progress=job.say)
        return whatif_report.restrict(found, allowed)

    title = i18n.translate("{name}: {first} ~ {last}", lang, name=draft.name,
                           first=first.isoformat(), last=last.isoformat())  # fmt: skip
    job = jobs.start(p.user_id, title, work)
    return pages.redirect(request, f"/admin/whatif/{job.id}")


def _safe(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return default


def _charts(found: dict[str, Any], lang: str) -> list[Any]:
    def t(text: str) -> str:
        return i18n.translate(text, lang)

    rows = found["rules"]
    labels = [r["rule"] for r in rows]
    out = [
        charts.bars(
            labels,
            [float(r["paid"]) for r in rows],
            title=t("규칙별 초안 지급액"),
            fmt=lambda v: pages.won(int(v)),
        ),
    ]
    if found.get("compared"):
        out.append(
            charts.bars(
                labels,
                [float((r["live"] or {}).get("paid", 0)) for r in rows],
                title=t("규칙별 실제 지급액"),
                fmt=lambda v: pages.won(int(v)),
            )
        )
    return out


# Registered before the page: ``{job_id}`` alone would also match ``x.json``.
@router.get("/admin/whatif/{job_id}.json")
def whatif_json(request: Request, job_id: str) -> Response:
    p = _admin(request)
    job = jobs.get(job_id[:40], p.user_id)
    if job is None or job.report is None:
        raise errors.NotFound("no such finished what-if run")
    return session.finish(
        request,
        Response(
            json.dumps(job.report, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="whatif-{job.id}.json"'},
        ),
    )


@router.get("/admin/whatif/{job_id}")
def whatif_run(request: Request, job_id: str) -> Response:
    p = _admin(request)
    job = jobs.get(job_id[:40], p.user_id)
    if job is None:
        raise errors.NotFound("no such what-if run")
    lang = session.visitor(request).lang
    return pages.render(
        request,
        "admin/whatif_run.html",
        job=job,
        report=job.report,
        charts_list=_charts(job.report, lang) if job.report else [],
        section="whatif",
    )


i18n.register(
    {
        "{name}: {first} ~ {last}": "{name}: {first} to {last}",
        "JSON 내려받기": "Download JSON",
        "거절": "refused",
        "결제 {n}건 재현 (성공 {ok}건), 환불 {r}건, {s}초": (
            "{n} payments replayed ({ok} booked), {r} refunds, {s} s"
        ),
        "규칙별": "Per rule",
        "기간 끝 잔액": "Left at the end",
        "대상": "Reached",
        "새 시뮬레이션": "New what-if",
        "소진일": "Ran out on",
        "수수료 지원": "Fee support",
        "시나리오 파일과 같은 형식입니다. 관할 지역의 규칙과 예산만 넣을 수 있습니다.": (
            "The scenario files' format. Only rules and budgets of your area."
        ),
        "시뮬레이션 실행": "Run the what-if",
        "시작 잔액": "Held at the start",
        "시작일": "From",
        "실제 소진일": "Really ran out on",
        "실제 지급액": "Really paid",
        "실제 캐시백": "Real cashback",
        "실패": "failed",
        "실행 중": "running",
        "실행 중입니다. 이 페이지는 2초마다 새로 고쳐집니다.": (
            "Running. This page refreshes every 2 seconds."
        ),
        "예: 예산을 줄이려면 budgets 에 {id, owner, amount} 를 넣고 "
        "규칙의 budget 을 그 id 로 바꾸세요.": (
            "E.g. to try a smaller budget, add {id, owner, amount} under budgets and set "
            "the rule's budget to that id."
        ),
        "예산별": "Per budget",
        "완료": "done",
        "적격 결제액": "Qualifying payments",
        "정책 시뮬레이션": "What-if",
        "종류": "Kind",
        "지급액": "Paid",
        "지난 기간의 실제 결제를 초안 규칙으로 다시 계산합니다. "
        "별도의 시뮬레이션 데이터베이스에서 실행되며 실제 데이터는 바뀌지 않습니다.": (
            "Recomputes a past period's real payments under draft rules, in a separate "
            "sandbox database: the live data is never changed."
        ),
        "진행 기록": "Progress",
        "차이": "Difference",
        "초안 규칙 (YAML: rules, budgets)": "Draft rules (YAML: rules, budgets)",
        "초안 수수료 지원": "Draft fee support",
        "초안 캐시백": "Draft cashback",
        "초안에 없음": "not in the draft",
        "최근 실행": "Recent runs",
        "캐시백": "Cashback",
        "규칙별 초안 지급액": "Paid under the draft, per rule",
        "규칙별 실제 지급액": "Really paid, per rule",
    }
)
