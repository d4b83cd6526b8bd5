"""The field promoter's page (/promoter: find a shop of its area, record a visit, a
sign-up or the sticker, see its own activity) and the issuer admin's (/admin/promoters:
each promoter's counts over a period, one promoter's activity, the sticker coverage of
its districts per 동 as a heat-map table).

Every read and write goes through ``eum.promoters`` with the visitor's principal, as the
API does: a promoter acts only in its issuer's districts, an admin sees only its area.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from eum import errors
from eum.auth.model import Principal
from eum.clock import now, parse_date
from eum.merchants.service import find_merchant
from eum.policy import views as policy_views
from eum.promoters import service as promoters
from eum.promoters import views
from eum.stats import views as stats
from eum.web import i18n, names, pages

router = APIRouter(include_in_schema=False)

ACTIVITY_PAGE = 20
SHOPS_SHOWN = 20
MAX_QUERY = 100  # characters of a search
MAX_ID = 64
STICKER_NAMES = {"none": "없음", "requested": "신청", "attached": "부착"}
STICKER_BADGES = {"none": "", "requested": "warn", "attached": "ok"}
KIND_NAMES = {"visit": "방문", "signup": "유치", "sticker": "스티커"}
SIGNED_UP_NAMES = {"me": "내가 유치", "other": "다른 지원활동가가 유치"}
SHOP_STATUS = {"pending": "승인 대기", "approved": "승인됨", "rejected": "반려됨"}
UNKNOWN_TOWN = "미지정"
HEAT_LEVELS = 5  # coverage colours: 0-19%, 20-39%, ... 80-99%, 100%
SAME_STICKER = "스티커 상태가 그대로입니다: {name}"
From = Annotated[str | None, Query(alias="from")]
FLASH = {
    "visit": "방문을 기록했습니다: {name}",
    "signup": "유치를 기록했습니다: {name}",
    "sticker": "스티커 상태를 바꿨습니다: {name}",
}


def _promoter(request: Request) -> Principal:
    who = pages.require(request, "promoter")
    assert who.principal is not None
    return who.principal


def _short(value: str | None, limit: int = MAX_ID) -> str:
    return (value or "").strip()[:limit]


# --- the promoter's page ------------------------------------------------------------------


def _promoter_data(
    conn: Connection, p: Principal, q: str, shop_id: str, after: str | None
) -> dict[str, Any]:
    span = promoters.period(None, None, now())
    items, next_after = views.activity(conn, p.user_id, ACTIVITY_PAGE, after)
    return {
        "figures": views.counts(conn, [p.user_id], span)[p.user_id],
        "span": span,
        "found": views.shops(conn, p, q, SHOPS_SHOWN) if q or not shop_id else [],
        "shop": views.shop(conn, p, shop_id) if shop_id else None,
        "activity": items,
        "next_after": next_after,
    }


def _promoter_page(
    request: Request,
    p: Principal,
    *,
    q: str = "",
    shop_id: str = "",
    after: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    data = pages.database(request).read(lambda c: _promoter_data(c, p, q, shop_id, after))
    return pages.render(
        request,
        "promoter/home.html",
        status=status,
        q=q,
        sticker_names=STICKER_NAMES,
        sticker_badges=STICKER_BADGES,
        kind_names=KIND_NAMES,
        signed_up_names=SIGNED_UP_NAMES,
        shop_status=SHOP_STATUS,
        unknown_town=UNKNOWN_TOWN,
        more=urlencode({k: v for k, v in (("q", q), ("shop", shop_id)) if v}),
        form=extra.pop("form", {}),
        **data,
        **extra,
    )


@router.get("/promoter")
def promoter_home(
    request: Request, q: str | None = None, shop: str | None = None, after: str | None = None
) -> Response:
    """내 활동: 관할 가맹점 찾기, 방문·유치·스티커 기록, 최근 활동."""
    p = _promoter(request)
    return _promoter_page(
        request, p, q=_short(q, MAX_QUERY), shop_id=_short(shop), after=_short(after, 200) or None
    )


def _visited_at(text: str | None) -> datetime | None:
    """The time typed on the form (a datetime-local value, KST); empty: now."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise errors.InvalidRequest("visited_at must be a time", field="visited_at") from None


def _record(request: Request, form: Mapping[str, str], what: str, action: Any) -> Response:
    """Run one of the promoter's forms on the shop it names; a refusal on that shop (not
    in the area, missing) is an error page, any other one shows the form again."""
    p = _promoter(request)
    shop_id = _short(form.get("merchant"), MAX_ID + 1)
    try:
        done: dict[str, Any] = pages.database(request).run(lambda c: action(c, p, shop_id))
    except errors.EumError as exc:
        if exc.code in ("unknown_merchant", "forbidden"):
            raise
        return _promoter_page(
            request,
            p,
            shop_id=shop_id,
            status=exc.status,
            form=dict(form),
            **pages.form_error(request, exc),
        )
    back = f"/promoter?shop={quote(shop_id, safe='')}#shop"
    message = FLASH[what] if done.get("changed", True) else SAME_STICKER
    return pages.redirect(request, back, message, name=done["name"])


def _name_of(conn: Connection, merchant_id: str) -> str:
    return find_merchant(conn, merchant_id).name


@router.post("/promoter/visits")
def record_visit(request: Request, form: pages.Posted) -> Response:
    def act(c: Connection, p: Principal, shop_id: str) -> dict[str, Any]:
        promoters.record_visit(
            c,
            by=p,
            merchant_id=shop_id,
            visited_at=_visited_at(form.get("visited_at")),
            note=form.get("note"),
            at=now(),
        )
        return {"name": _name_of(c, shop_id)}

    return _record(request, form, "visit", act)


@router.post("/promoter/signups")
def sign_up(request: Request, form: pages.Posted) -> Response:
    def act(c: Connection, p: Principal, shop_id: str) -> dict[str, Any]:
        promoters.sign_up(c, by=p, merchant_id=shop_id, at=now())
        return {"name": _name_of(c, shop_id)}

    return _record(request, form, "signup", act)


@router.post("/promoter/stickers")
def set_sticker(request: Request, form: pages.Posted) -> Response:
    def act(c: Connection, p: Principal, shop_id: str) -> dict[str, Any]:
        done = promoters.set_sticker(
            c, by=p, merchant_id=shop_id, status=form.get("status"), at=now()
        )
        return {"name": _name_of(c, shop_id), "changed": done["changed"]}

    return _record(request, form, "sticker", act)


# --- the issuer admin's page --------------------------------------------------------------


def heat(bps: int, shops: int) -> int:
    """The colour step of a coverage: 0 for under 20%, ... 5 for every shop; -1: no shop."""
    if shops == 0:
        return -1
    return min(HEAT_LEVELS, bps * HEAT_LEVELS // 10_000)


def _day(value: str | None, field: str) -> date | None:
    """A date typed on the period form (YYYY-MM-DD); empty: the default."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) != len("2020-01-01"):
            raise ValueError(text)
        return parse_date(text)
    except ValueError:
        raise errors.InvalidRequest("dates are YYYY-MM-DD", field=field) from None


def _span(first: str | None, last: str | None) -> promoters.Period:
    return promoters.period(_day(first, "from"), _day(last, "to"), now())


def _for_page(conn: Connection, found: dict[str, Any]) -> dict[str, Any]:
    """The coverage with the districts in the city's order and each cell's colour step."""
    order = {d: n for n, d in enumerate(names.districts_known(conn))}
    found["districts"].sort(key=lambda d: (order.get(d["district"], len(order)), d["district"]))
    for district in found["districts"]:
        district["heat"] = heat(district["coverage_bps"], district["shops"])
        for town in district["neighbourhoods"]:
            town["heat"] = heat(town["coverage_bps"], town["shops"])
    return found


def _admin_data(conn: Connection, p: Principal, issuer: str, span: Any) -> dict[str, Any]:
    area = stats.area_for(conn, p, issuer or None)
    seen = [i for i in policy_views.issuer_list(conn) if p.sees_issuer(i["id"])]
    return {
        "area": area,
        "issuers": seen,
        "issuer_names": {i["id"]: i["name"] for i in seen},
        "promoters": views.promoter_list(conn, area, span),
        "coverage": _for_page(conn, views.coverage(conn, area)),
    }


@router.get("/admin/promoters")
def admin_promoters(
    request: Request, issuer: str | None = None, from_: From = None, to: str | None = None
) -> Response:
    """지원활동가별 방문·유치·스티커 (기간), 동별 스티커 부착률."""
    p = pages.admin(request)
    chosen = _short(issuer)
    extra: dict[str, Any] = {}
    try:
        span = _span(from_, to)
    except errors.EumError as exc:
        span, extra = _span(None, None), pages.form_error(request, exc)
    data = pages.database(request).read(lambda c: _admin_data(c, p, chosen, span))
    return pages.render(
        request,
        "admin/promoters.html",
        status=422 if extra else 200,
        section="promoters",
        span=span,
        chosen=chosen,
        query=urlencode(
            {"from": span.first.isoformat(), "to": span.last.isoformat()}
            | ({"issuer": chosen} if chosen else {})
        ),
        unknown_town=UNKNOWN_TOWN,
        heat_levels=HEAT_LEVELS,
        **data,
        **extra,
    )


@router.get("/admin/promoters/{promoter_id}")
def admin_promoter(
    request: Request,
    promoter_id: str,
    after: str | None = None,
    from_: From = None,
    to: str | None = None,
) -> Response:
    """지원활동가 한 명의 기간 중 수치와 활동 (최근 순)."""
    p = pages.admin(request)
    span = _span(from_, to)
    cursor = _short(after, 200) or None

    def read(conn: Connection) -> dict[str, Any]:
        found = views.promoter_of(conn, p, promoter_id[:MAX_ID])
        items, next_after = views.activity(conn, found["id"], ACTIVITY_PAGE, cursor)
        return {
            "promoter": found,
            "figures": views.counts(conn, [found["id"]], span)[found["id"]],
            "activity": items,
            "next_after": next_after,
        }

    return pages.render(
        request,
        "admin/promoter.html",
        section="promoters",
        span=span,
        query=urlencode({"from": span.first.isoformat(), "to": span.last.isoformat()}),
        sticker_names=STICKER_NAMES,
        sticker_badges=STICKER_BADGES,
        kind_names=KIND_NAMES,
        unknown_town=UNKNOWN_TOWN,
        **pages.database(request).read(read),
    )


# --- English ------------------------------------------------------------------------------

i18n.register(
    {
        "내 활동": "My field work",
        "최근 30일": "Last 30 days",
        "방문": "Visit",
        "유치": "Sign-up",
        "스티커": "Sticker",
        "방문 횟수": "Visits",
        "방문한 가게": "Shops visited",
        "유치한 가게": "Shops signed up",
        "부착한 스티커": "Stickers attached",
        "신청": "Requested",
        "부착": "Attached",
        "가게 찾기": "Find a shop",
        "상호 또는 ID": "Name or ID",
        "찾기": "Search",
        "관할 구·군의 가맹점만 나옵니다.": "Only shops of your districts are shown.",
        "찾은 가게가 없습니다.": "No shop found.",
        "내가 유치": "Signed up by me",
        "다른 지원활동가가 유치": "Signed up by another promoter",
        "미지정": "Unassigned",
        "유치한 지원활동가": "Signed up by",
        "아직 없음": "No one yet",
        "내 최근 방문": "My last visits",
        "방문 기록": "Record a visit",
        "방문 시각 (선택)": "Time of the visit (optional)",
        "비우면 지금": "Empty: now",
        "방문 기록하기": "Record the visit",
        "유치 기록": "Record a sign-up",
        "이 가게의 가입을 도왔다면 기록하세요. 가게 하나에 지원활동가 한 명입니다.": (
            "If you brought this shop in, record it. One promoter per shop."
        ),
        "유치 기록하기": "Record the sign-up",
        "스티커 상태": "Sticker status",
        "스티커 상태 저장": "Save the sticker status",
        "최근 활동": "Recent activity",
        "활동이 없습니다.": "No activity yet.",
        "더 보기": "More",
        "방문을 기록했습니다: {name}": "Visit recorded: {name}",
        "유치를 기록했습니다: {name}": "Sign-up recorded: {name}",
        "스티커 상태를 바꿨습니다: {name}": "Sticker status changed: {name}",
        "스티커 상태가 그대로입니다: {name}": "Sticker status unchanged: {name}",
        "지원활동가별 활동": "Activity per promoter",
        "부터": "From",
        "까지": "To",
        "마지막 방문": "Last visit",
        "활동 보기": "Activity",
        "관할 지원활동가가 없습니다.": "No promoter in this area.",
        "내 관할 전체": "All of my area",
        "스티커 부착 현황": "Sticker coverage",
        "결제를 받는 가게 기준, 동별": "Shops taking payments, per neighbourhood",
        "가게": "Shops",
        "부착률": "Coverage",
        "합계": "Total",
        "동": "Neighbourhood",
        "가게가 없습니다.": "No shops.",
        "색: 부착률": "Colour: coverage",
        "{n}일": "{n} days",
        "지원활동가 활동": "Promoter activity",
        "기간 중": "In the period",
        "지원활동가 목록": "All promoters",
    }
)
