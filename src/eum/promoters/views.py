"""What people see of the promoters' work: a promoter its own shops to pick from (its
area only) and its activity; an issuer admin the promoters of its area with their counts
over a period, one promoter's activity, and the sticker coverage of its districts per
neighbourhood (동).

An activity is one feed of visits, sign-ups and stickers, newest first, paged by a
cursor of (time, kind, key). A sticker shows once per shop, as last recorded: the table
keeps each shop's status, not its history (the history is in the audit log). Coverage
counts the shops that take payments (approved and active): a shop with its sticker
attached covers its 동; shops whose 동 is unknown are counted under ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast, func, literal, null, or_, select

from eum import errors
from eum.auth.model import Principal
from eum.auth.store import users
from eum.clock import parse_time
from eum.merchants.store import merchants
from eum.promoters.service import (
    SIGNUP_STATUSES,
    Period,
    _promoter,
    shop_to_see,
)
from eum.promoters.store import promoter_signups, promoter_visits, stickers
from eum.stats.views import Area
from eum.wallets.views import iso

MAX_PAGE = 100
MAX_SHOPS = 50  # shops found by one search
MAX_PROMOTERS = 500  # promoters of one area on one answer
RECENT_VISITS = 5  # a shop's last visits shown with it
KINDS = ("visit", "signup", "sticker")
MAX_KEY_LENGTH = 64  # ids are at most this long
BPS = 10_000


# --- a promoter's shops ---------------------------------------------------------------


def _shop(row: Any, me: str) -> dict[str, Any]:
    holder = row.signup_promoter
    return {
        "id": row.id,
        "name": row.name,
        "district": row.district,
        "neighbourhood": row.neighbourhood,
        "category": row.category,
        "status": row.status,
        "sticker": row.sticker or "none",
        "signed_up": None if holder is None else ("me" if holder == me else "other"),
    }


def _shops_query() -> Any:
    return select(
        merchants.c.id,
        merchants.c.name,
        merchants.c.district,
        merchants.c.neighbourhood,
        merchants.c.category,
        merchants.c.status,
        stickers.c.status.label("sticker"),
        promoter_signups.c.promoter_id.label("signup_promoter"),
    ).select_from(
        merchants.outerjoin(stickers, stickers.c.merchant_id == merchants.c.id).outerjoin(
            promoter_signups, promoter_signups.c.merchant_id == merchants.c.id
        )
    )


def shops(conn: Connection, by: Principal, q: str | None, limit: int = 20) -> list[dict[str, Any]]:
    """Shops of the promoter's area, registered or waiting, by name or id, by name."""
    area = _promoter(by)
    query = (
        _shops_query()
        .where(merchants.c.district.in_(sorted(area)))
        .where(merchants.c.status.in_(SIGNUP_STATUSES))
        .order_by(merchants.c.name, merchants.c.id)
        .limit(min(limit, MAX_SHOPS))
    )
    if q:
        needle = q.strip().lower()
        query = query.where(
            func.lower(merchants.c.name).contains(needle, autoescape=True)
            | func.lower(merchants.c.id).contains(needle, autoescape=True)
        )
    return [_shop(r, by.user_id) for r in conn.execute(query)]


def shop(conn: Connection, by: Principal, merchant_id: str) -> dict[str, Any]:
    """One shop of the promoter's area with its sticker, who signed it up and the
    promoter's last visits there; a shop elsewhere looks missing."""
    merchant = shop_to_see(conn, by, merchant_id)
    row = conn.execute(_shops_query().where(merchants.c.id == merchant.id)).one()
    visits = conn.execute(
        select(promoter_visits)
        .where(
            promoter_visits.c.merchant_id == merchant.id,
            promoter_visits.c.promoter_id == by.user_id,
        )
        .order_by(promoter_visits.c.visited_at.desc(), promoter_visits.c.id.desc())
        .limit(RECENT_VISITS)
    )
    return {
        **_shop(row, by.user_id),
        "my_visits": [
            {"id": v.id, "visited_at": iso(v.visited_at), "note": v.note} for v in visits
        ],
    }


# --- activity -------------------------------------------------------------------------


def _feed(promoter_id: str) -> Any:
    """Visits, sign-ups and stickers of one promoter as rows of one shape."""
    text = String(500)
    visits = select(
        literal("visit", String(10)).label("kind"),
        promoter_visits.c.visited_at.label("at"),
        promoter_visits.c.id.label("key"),
        promoter_visits.c.merchant_id.label("merchant_id"),
        promoter_visits.c.note.label("note"),
        cast(null(), String(20)).label("status"),
    ).where(promoter_visits.c.promoter_id == promoter_id)
    signups = select(
        literal("signup", String(10)),
        promoter_signups.c.at,
        promoter_signups.c.merchant_id,
        promoter_signups.c.merchant_id,
        cast(null(), text),
        cast(null(), String(20)),
    ).where(promoter_signups.c.promoter_id == promoter_id)
    marks = select(
        literal("sticker", String(10)),
        stickers.c.updated_at,
        stickers.c.merchant_id,
        stickers.c.merchant_id,
        cast(null(), text),
        stickers.c.status,
    ).where(stickers.c.promoter_id == promoter_id)
    return visits.union_all(signups, marks).subquery("feed")


def _cursor(raw: str | None) -> tuple[Any, str, str] | None:
    """(time, kind, key) of the last item of the previous page."""
    if raw is None:
        return None
    parts = raw.split("|", 2)
    try:
        if len(parts) != 3 or parts[1] not in KINDS or not _is_key(parts[2]):
            raise ValueError(raw)
        return parse_time(parts[0]), parts[1], parts[2]
    except (ValueError, OverflowError):
        raise errors.InvalidRequest("bad cursor", field="cursor") from None


def _is_key(text: str) -> bool:
    """A visit id or a merchant id: short printable text (no NUL for PostgreSQL)."""
    return 0 < len(text) <= MAX_KEY_LENGTH and text.isprintable()


def cursor_of(item: dict[str, Any]) -> str:
    return f"{item['at']}|{item['kind']}|{item['key']}"


def activity(
    conn: Connection, promoter_id: str, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The promoter's visits, sign-ups and stickers, newest first; the second value is
    the cursor of the next page, if there is one."""
    limit = max(1, min(limit, MAX_PAGE))
    feed = _feed(promoter_id)
    query = select(feed).order_by(feed.c.at.desc(), feed.c.kind.desc(), feed.c.key.desc())
    last = _cursor(after)
    if last is not None:
        at, kind, key = last
        query = query.where(
            or_(
                feed.c.at < at,
                and_(
                    feed.c.at == at,
                    or_(feed.c.kind < kind, and_(feed.c.kind == kind, feed.c.key < key)),
                ),
            )
        )
    rows = conn.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    shops_seen = _names(conn, {r.merchant_id for r in page})
    items = [
        {
            "kind": r.kind,
            "at": iso(r.at),
            "key": r.key,
            "merchant": r.merchant_id,
            **shops_seen.get(r.merchant_id, {}),
            "note": r.note,
            "status": r.status,
        }
        for r in page
    ]
    return items, (cursor_of(items[-1]) if len(rows) > limit and items else None)


def _names(conn: Connection, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = conn.execute(
        select(
            merchants.c.id, merchants.c.name, merchants.c.district, merchants.c.neighbourhood
        ).where(merchants.c.id.in_(sorted(ids)))
    )
    return {
        r.id: {"merchant_name": r.name, "district": r.district, "neighbourhood": r.neighbourhood}
        for r in rows
    }


# --- counts over a period -------------------------------------------------------------


def counts(
    conn: Connection, promoter_ids: Sequence[str], span: Period
) -> dict[str, dict[str, int]]:
    """Per promoter, in the period: visits, shops visited, sign-ups, and shops whose
    sticker it recorded as attached (and that is still so)."""
    ids = sorted(set(promoter_ids))
    out = {i: {"visits": 0, "shops_visited": 0, "signups": 0, "stickers_attached": 0} for i in ids}
    if not ids:
        return out
    v = promoter_visits.c
    for r in conn.execute(
        select(v.promoter_id, func.count(), func.count(v.merchant_id.distinct()))
        .where(v.promoter_id.in_(ids), v.visited_at >= span.start, v.visited_at < span.end)
        .group_by(v.promoter_id)
    ):
        out[r[0]].update(visits=int(r[1]), shops_visited=int(r[2]))
    s = promoter_signups.c
    for r in conn.execute(
        select(s.promoter_id, func.count())
        .where(s.promoter_id.in_(ids), s.at >= span.start, s.at < span.end)
        .group_by(s.promoter_id)
    ):
        out[r[0]]["signups"] = int(r[1])
    k = stickers.c
    for r in conn.execute(
        select(k.promoter_id, func.count())
        .where(k.promoter_id.in_(ids), k.status == "attached")
        .where(k.updated_at >= span.start, k.updated_at < span.end)
        .group_by(k.promoter_id)
    ):
        out[r[0]]["stickers_attached"] = int(r[1])
    return out


def _promoters_query(issuers: frozenset[str] | None) -> Any:
    query = select(users).where(users.c.role == "promoter")
    if issuers is not None:
        query = query.where(users.c.issuer_id.in_(sorted(issuers)))
    return query


def promoter_list(conn: Connection, area: Area, span: Period) -> list[dict[str, Any]]:
    """The promoters of an area (by login) with their counts in the period and their
    last visit ever."""
    rows = conn.execute(
        _promoters_query(area.issuers).order_by(users.c.login).limit(MAX_PROMOTERS)
    ).all()
    ids = [r.id for r in rows]
    figures = counts(conn, ids, span)
    last_visit = dict(
        conn.execute(
            select(promoter_visits.c.promoter_id, func.max(promoter_visits.c.visited_at))
            .where(promoter_visits.c.promoter_id.in_(ids))
            .group_by(promoter_visits.c.promoter_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "login": r.login,
            "name": r.display_name,
            "issuer": r.issuer_id,
            "active": bool(r.active),
            **figures[r.id],
            "last_visit_at": iso(last_visit[r.id]) if last_visit.get(r.id) else None,
        }
        for r in rows
    ]


def promoter_of(conn: Connection, admin: Principal, promoter_id: str) -> dict[str, Any]:
    """A promoter of the admin's area; any other user id looks missing."""
    row = conn.execute(_promoters_query(admin.issuers).where(users.c.id == promoter_id)).first()
    if row is None:
        raise errors.NotFound(f"no promoter {promoter_id}", field="promoter")
    return {"id": row.id, "login": row.login, "name": row.display_name, "issuer": row.issuer_id}


# --- sticker coverage -----------------------------------------------------------------


def _cell(shops: int, attached: int, requested: int) -> dict[str, int]:
    return {
        "shops": shops,
        "attached": attached,
        "requested": requested,
        "coverage_bps": attached * BPS // shops if shops else 0,  # floored
    }


Counts = tuple[int, int, int]  # shops, stickers attached, stickers requested


def _total(counts: Iterable[Counts]) -> dict[str, int]:
    shops = attached = requested = 0
    for n, a, r in counts:
        shops, attached, requested = shops + n, attached + a, requested + r
    return _cell(shops, attached, requested)


def coverage(conn: Connection, area: Area) -> dict[str, Any]:
    """Per district of the area and per 동 in it: shops taking payments, stickers attached
    and requested, and the share attached (bps, floored); 동 by name, unknown last."""
    attached = func.sum(case((stickers.c.status == "attached", 1), else_=0))
    requested = func.sum(case((stickers.c.status == "requested", 1), else_=0))
    query = (
        select(
            merchants.c.district,
            merchants.c.neighbourhood,
            func.count(),
            attached,
            requested,
        )
        .select_from(merchants.outerjoin(stickers, stickers.c.merchant_id == merchants.c.id))
        .where(merchants.c.status == "approved", merchants.c.active.is_(True))
        .group_by(merchants.c.district, merchants.c.neighbourhood)
    )
    if area.districts is not None:
        query = query.where(merchants.c.district.in_(sorted(area.districts)))
    towns: dict[str, list[tuple[str | None, Counts]]] = {
        d: [] for d in sorted(area.districts or ())
    }
    for d, town, n, a, r in conn.execute(query):
        towns.setdefault(d, []).append((town, (int(n), int(a or 0), int(r or 0))))
    districts = []
    for d in sorted(towns):
        rows = sorted(towns[d], key=lambda t: (t[0] is None, t[0] or ""))
        districts.append(
            {
                "district": d,
                **_total(c for _, c in rows),
                "neighbourhoods": [{"neighbourhood": t, **_cell(*c)} for t, c in rows],
            }
        )
    everything = _total(c for rows in towns.values() for _, c in rows)
    return {"issuer": area.issuer_id, **everything, "districts": districts}
