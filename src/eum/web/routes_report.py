"""The admin's monthly reports (issue #6): pick a month, read the report in the admin's
look, or download it as one standalone HTML document that prints to an A4 PDF.

The same sign-in and area rules as the other admin pages: an issuer admin reads its own
subtree (or an issuer below it with ``?issuer=``), the operator the whole platform or
any issuer; another district's issuer is ``unknown_issuer`` (404), as on the dashboard.
The page and the download are drawn from the same ``eum.stats.report`` data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from eum import errors
from eum.auth.model import Principal
from eum.clock import kst_month, now
from eum.policy import views as policy_views
from eum.stats import report
from eum.stats import views as stats
from eum.web import pages, session

router = APIRouter(include_in_schema=False)

RECENT_MONTHS = 24  # months listed on the picker
MAX_MONTH_TEXT = 20  # characters of a month read from a request


_db = pages.database
_admin = pages.admin


def _chosen(issuer: str | None) -> str | None:
    return (issuer or "").strip()[:64] or None


def _query(chosen: str | None) -> str:
    return "?" + urlencode({"issuer": chosen}) if chosen else ""


def _month_of_path(text: str) -> str:
    """The month of a report's address; any other text is an address that does not exist."""
    try:
        return report.parse_month(text[:MAX_MONTH_TEXT], latest=kst_month(now()))
    except errors.InvalidRequest:
        raise errors.NotFound(f"no report {text[:MAX_MONTH_TEXT]!r}") from None


def _issuers(conn: Connection, p: Principal) -> list[dict[str, Any]]:
    return [i for i in policy_views.issuer_list(conn) if p.sees_issuer(i["id"])]


def _read(request: Request, p: Principal, chosen: str | None, month: str) -> dict[str, Any]:
    """The report of the chosen area (checked against the admin's own) and its issuers."""

    def read(conn: Connection) -> dict[str, Any]:
        area = stats.area_for(conn, p, chosen)
        return {"report": report.monthly_report(conn, area, month), "issuers": _issuers(conn, p)}

    return _db(request).read(read)


@router.get("/admin/reports")
def report_index(request: Request, month: str | None = None, issuer: str | None = None) -> Response:
    """The month picker; a picked month goes to its report."""
    p = _admin(request)
    chosen = _chosen(issuer)
    latest = kst_month(now())
    if month:
        picked = report.parse_month(month[:MAX_MONTH_TEXT], latest=latest)
        return pages.redirect(request, f"/admin/reports/{picked}{_query(chosen)}")

    def read(conn: Connection) -> dict[str, Any]:
        area = stats.area_for(conn, p, chosen)
        return {
            "area": area,
            "area_name": report.issuer_name(conn, area.issuer_id),
            "issuers": _issuers(conn, p),
        }

    found = _db(request).read(read)
    lang = session.visitor(request).lang
    months = stats.months_until(latest, RECENT_MONTHS)[::-1]  # newest first
    return pages.render(
        request,
        "admin/reports.html",
        area=found["area"],
        area_name=found["area_name"] or report.area_title({"issuer_name": None}, lang),
        issuers=found["issuers"],
        months=months,
        latest=latest,
        default=report.last_full_month(now()),
        query=_query(chosen),
        section="reports",
    )


# Registered before the page: ``{month}`` alone would also match ``2026-10.html``.
@router.get("/admin/reports/{month}.html")
def report_download(request: Request, month: str, issuer: str | None = None) -> Response:
    """The report as a standalone HTML file (print it to PDF from the browser)."""
    p = _admin(request)
    found = _read(request, p, _chosen(issuer), _month_of_path(month))
    data = found["report"]
    response = HTMLResponse(
        report.render_html(data, session.visitor(request).lang),
        headers={
            "Content-Disposition": f'attachment; filename="{report.file_name(data)}"',
            "Cache-Control": "no-store",
        },
    )
    return session.finish(request, response)


@router.get("/admin/reports/{month}")
def report_page(request: Request, month: str, issuer: str | None = None) -> Response:
    p = _admin(request)
    chosen = _chosen(issuer)
    picked = _month_of_path(month)
    found = _read(request, p, chosen, picked)
    data = found["report"]
    lang = session.visitor(request).lang
    following = None if picked == kst_month(now()) else report.next_month(picked)
    return pages.render(
        request,
        "admin/report.html",
        report=data,
        charts_list=report.report_charts(data, lang),
        area_name=report.area_title(data, lang),
        issuers=found["issuers"],
        previous=report.previous_month(picked) if picked > f"{report.MIN_YEAR}-01" else None,
        following=following,
        query=_query(chosen),
        section="reports",
    )
