"""The demo city's field work: the Gyeyang promoter (login ``promoter-gyeyang``) visited
shops of 계양 on the weekdays of the last four weeks, signed some of them up and left
stickers, all through the promoters' services (so the audit log has them too).

Deterministic for the same ``rng`` and ``at``; does nothing without the promoter's login.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, select

from eum.auth.model import Principal
from eum.auth.store import users
from eum.clock import KST, kst_day
from eum.merchants.store import merchants
from eum.policy import service as policy
from eum.promoters import service as promoters

LOGIN = "promoter-gyeyang"
WEEKS = 4
VISITS_PER_DAY = (2, 5)
SIGNUPS = 6
ATTACHED_SHARE = 0.45  # of the shops visited, stickers attached
REQUESTED_SHARE = 0.2  # of the others, stickers asked for
NOTES = (
    "사장님 부재, 다음 주 재방문",
    "혜택플러스 안내",
    "QR 결제 설명",
    "스티커 부착 위치 협의",
    "가맹점 등록 서류 안내",
    None,
    None,
)


def _promoter(conn: Connection) -> Principal | None:
    row = conn.execute(select(users).where(users.c.login == LOGIN)).first()
    if row is None or row.issuer_id is None:
        return None
    tree = policy.catalog(conn).issuers
    return Principal(
        user_id=row.id,
        login=row.login,
        role="promoter",
        issuer_id=row.issuer_id,
        issuers=tree.subtree(row.issuer_id),
        districts=tree.covers(row.issuer_id),
    )


def _moment(day_start: datetime, rng: random.Random) -> datetime:
    """A working-hours moment of that day (10:00-17:59 KST)."""
    return day_start + timedelta(hours=rng.randint(10, 17), minutes=rng.randint(0, 59))


def seed_demo(conn: Connection, at: datetime, rng: random.Random) -> None:
    """Visits, sign-ups and stickers of the last four weeks, up to ``at``."""
    by = _promoter(conn)
    if by is None:
        return
    assert by.districts is not None
    shops = list(
        conn.execute(
            select(merchants.c.id)
            .where(merchants.c.district.in_(sorted(by.districts)))
            .where(merchants.c.status == "approved")
            .order_by(merchants.c.id)
        ).scalars()
    )
    if not shops:
        return
    today = kst_day(at)
    visited: list[tuple[str, datetime]] = []
    for back in range(WEEKS * 7, 0, -1):  # not today: the demo's day may have just begun
        day = today - timedelta(days=back)
        if day.weekday() >= 5:
            continue
        start = datetime.combine(day, time(0), tzinfo=KST)
        moments = sorted(_moment(start, rng) for _ in range(rng.randint(*VISITS_PER_DAY)))
        for when in moments:
            shop = rng.choice(shops)
            note = rng.choice(NOTES)
            promoters.record_visit(conn, by=by, merchant_id=shop, visited_at=when, note=note, at=at)
            visited.append((shop, when))
    _leave_stickers(conn, by, visited, rng)
    _sign_up(conn, by, visited, rng)


def _first_visits(visited: list[tuple[str, datetime]]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for shop, when in visited:
        first.setdefault(shop, when)
    return first


def _leave_stickers(
    conn: Connection, by: Principal, visited: list[tuple[str, datetime]], rng: random.Random
) -> None:
    """At its first visit a shop asked for a sticker or had it put up, or neither."""
    for shop, when in _first_visits(visited).items():
        draw = rng.random()
        if draw < ATTACHED_SHARE:
            status = "attached"
        elif draw < ATTACHED_SHARE + REQUESTED_SHARE:
            status = "requested"
        else:
            continue
        promoters.set_sticker(conn, by=by, merchant_id=shop, status=status, at=when)


def _sign_up(
    conn: Connection, by: Principal, visited: list[tuple[str, datetime]], rng: random.Random
) -> None:
    """Some of the shops visited were brought in by the promoter (at their first visit)."""
    first = _first_visits(visited)
    for shop in rng.sample(sorted(first), min(SIGNUPS, len(first))):
        if promoters.signed_up_by(conn, shop) is None:
            promoters.sign_up(conn, by=by, merchant_id=shop, at=first[shop])
