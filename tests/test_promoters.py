"""Field promoters (지원활동가) through the API and the services, on SQLite and PostgreSQL.

GYEYANG_CITY plus a few shops with their 동: in 계양 m-g1 and m-g2 (계산동), m-g3 (작전동),
m-g4 and the city's m-bunsik and m-mart (no 동), a registration still pending (m-wait)
and one rejected (m-no); in 부평 the city's m-cafe and m-b1 (부평동). ``promoter`` works in
Gyeyang (tests.api_support), ``promoter-bp`` in Bupyeong and ``promoter2`` in Gyeyang too.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from eum import errors
from eum.auth import service as auth
from eum.auth.model import Principal
from eum.auth.store import users
from eum.clock import KST, kst_day, now
from eum.db import run_in_transaction
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchant_table
from eum.promoters import demo
from eum.promoters import service as promoters
from eum.promoters.store import promoter_signups, promoter_visits, stickers
from tests.api_support import PASSWORD, Api

SHOPS = (  # id, district, 동, status
    ("m-g1", "gyeyang", "계산동", "approved"),
    ("m-g2", "gyeyang", "계산동", "approved"),
    ("m-g3", "gyeyang", "작전동", "approved"),
    ("m-g4", "gyeyang", None, "approved"),
    ("m-wait", "gyeyang", "계산동", "pending"),
    ("m-no", "gyeyang", "효성동", "rejected"),
    ("m-b1", "bupyeong", "부평동", "approved"),
)
MORE_STAFF = {
    "promoter-bp": {"role": "promoter", "issuer_id": "bupyeong"},
    "promoter2": {"role": "promoter", "issuer_id": "gyeyang"},
}


def make_city(engine: Engine) -> Api:
    api = Api(engine)

    def more(conn: Any) -> None:
        for shop_id, district, town, status in SHOPS:
            merchants.create_merchant(
                conn,
                id=shop_id,
                name=f"{town or '어딘가'} 가게 {shop_id}",
                district=district,
                neighbourhood=town,
                status=status,
                active=status == "approved",
                at=now(),
            )
        for login, spec in MORE_STAFF.items():
            auth.create_staff(conn, login=login, password=PASSWORD, at=now(), **spec)

    api.platform.run(more)
    return api


@pytest.fixture
def api(engine: Engine) -> Api:
    return make_city(engine)


def user_id(api: Api, login: str) -> str:
    return str(
        api.platform.read(
            lambda c: c.execute(select(users.c.id).where(users.c.login == login)).scalar_one()
        )
    )


def noon(days_ago: int) -> datetime:
    return datetime.combine(kst_day(now()) - timedelta(days=days_ago), time(12), tzinfo=KST)


def visit(api: Api, login: str, shop: str, **body: Any) -> Any:
    return api.as_(login).post("/api/v1/me/visits", json={"merchant": shop, **body})


def sticker(api: Api, login: str, shop: str, status: str) -> Any:
    return api.as_(login).put(f"/api/v1/me/stickers/{shop}", json={"status": status})


def signup(api: Api, login: str, shop: str) -> Any:
    return api.as_(login).post("/api/v1/me/signups", json={"merchant": shop})


def promoters_of(api: Api, login: str, **query: str) -> dict[str, dict[str, Any]]:
    answer = api.as_(login).get("/api/v1/promoters", params=query)
    assert answer.status_code == 200, answer.text
    return {p["login"]: p for p in answer.json()["items"]}


def all_activity(api: Api, path: str, login: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = api.as_(login).get(path, params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


# --- recording ----------------------------------------------------------------------------


def test_the_counts_equal_what_the_promoter_recorded(api: Api) -> None:
    days_ago = [0, 1, 1, 3, 6, 7, 12, 29, 30]  # 29 days ago is in the last 30 days, 30 is not
    shops = ["m-g1", "m-g2", "m-g1", "m-g3", "m-wait", "m-g4", "m-bunsik", "m-mart", "m-g1"]
    for ago, shop in zip(days_ago, shops, strict=True):
        body = {} if ago == 0 else {"visited_at": noon(ago).isoformat()}
        made = visit(api, "promoter", shop, note=f"{ago}일 전", **body)
        assert made.status_code == 201, made.text
        assert made.json()["merchant"] == shop
    for shop, status in (("m-g1", "attached"), ("m-g2", "requested"), ("m-g3", "attached")):
        assert sticker(api, "promoter", shop, status).status_code == 200
    for shop in ("m-g1", "m-wait"):
        assert signup(api, "promoter", shop).status_code == 201
    assert visit(api, "promoter2", "m-g1").status_code == 201

    today = kst_day(now())
    week = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
    in_week = [s for a, s in zip(days_ago, shops, strict=True) if a <= 6]
    found = promoters_of(api, "gyeyang-admin", **week)
    assert set(found) == {"promoter", "promoter2"}
    mine = found["promoter"]
    assert (mine["visits"], mine["shops_visited"]) == (len(in_week), len(set(in_week)))
    assert (mine["signups"], mine["stickers_attached"]) == (2, 2)
    assert found["promoter2"]["visits"] == 1 and found["promoter2"]["signups"] == 0

    # the default period: the last 30 days, today included (29 days ago is in, 30 is not)
    month = promoters_of(api, "gyeyang-admin")["promoter"]
    assert month["visits"] == sum(1 for a in days_ago if a <= 29) == 8
    earlier = {
        "from": (today - timedelta(days=40)).isoformat(),
        "to": (today - timedelta(days=8)).isoformat(),
    }
    old = promoters_of(api, "gyeyang-admin", **earlier)["promoter"]
    assert (old["visits"], old["signups"], old["stickers_attached"]) == (3, 0, 0)


def test_the_activity_is_newest_first_and_pages_without_gaps(api: Api) -> None:
    for n in range(13):
        at = (noon(20) + timedelta(hours=n)).isoformat()
        assert visit(api, "promoter", f"m-g{n % 4 + 1}", visited_at=at).status_code == 201
    for shop in ("m-g1", "m-g2", "m-g3"):  # three at the very same moment: a tie to break
        assert visit(api, "promoter", shop, visited_at=noon(25).isoformat()).status_code == 201
    assert sticker(api, "promoter", "m-g1", "requested").status_code == 200
    assert sticker(api, "promoter", "m-g1", "attached").status_code == 200  # one row per shop
    assert signup(api, "promoter", "m-g2").status_code == 201

    items = all_activity(api, "/api/v1/me/activity", "promoter", limit=4)
    assert Counter(i["kind"] for i in items) == {"visit": 16, "signup": 1, "sticker": 1}
    assert all_activity(api, "/api/v1/me/activity", "promoter", limit=1) == items
    times = [datetime.fromisoformat(i["at"]) for i in items]
    assert times == sorted(times, reverse=True)
    assert len({(i["kind"], i["key"]) for i in items}) == len(items)
    assert {i["merchant"] for i in items[-3:]} == {"m-g1", "m-g2", "m-g3"}  # the oldest
    assert next(i for i in items if i["kind"] == "sticker")["status"] == "attached"
    one_page = api.as_("promoter").get("/api/v1/me/activity", params={"limit": 100}).json()
    assert one_page["items"] == items and one_page["next_cursor"] is None
    # the admin reads the same feed
    gy = user_id(api, "promoter")
    assert all_activity(api, f"/api/v1/promoters/{gy}/activity", "gyeyang-admin", 5) == items


def test_a_visit_is_in_the_past_month_and_its_note_is_bounded(api: Api) -> None:
    future = (now() + timedelta(hours=1)).isoformat()
    old = (now() - timedelta(days=promoters.MAX_LATE_DAYS + 1)).isoformat()
    for body in ({"visited_at": future}, {"visited_at": old}, {"note": "가" * 501}):
        refused = visit(api, "promoter", "m-g1", **body)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request"), body
    assert (
        api.platform.read(
            lambda c: c.execute(select(func.count()).select_from(promoter_visits)).scalar()
        )
        == 0
    )
    typed = visit(api, "promoter", "m-g1", note="  다음 주 재방문  ").json()
    assert typed["note"] == "다음 주 재방문"


def test_only_promoters_record_field_work(api: Api) -> None:
    for login in ("kim", "bunsik", "gyeyang-admin", "operator"):
        assert visit(api, login, "m-g1").status_code == 403
        assert sticker(api, login, "m-g1", "attached").status_code == 403
        assert api.as_(login).get("/api/v1/me/activity").status_code == 403
    for login in ("kim", "bunsik", "promoter"):
        assert api.as_(login).get("/api/v1/promoters").status_code == 403
        assert api.as_(login).get("/api/v1/sticker-coverage").status_code == 403
    assert api.anonymous.get("/api/v1/me/shops").status_code == 401


# --- one promoter per shop ----------------------------------------------------------------


def test_a_shop_has_one_promoter(api: Api) -> None:
    first = signup(api, "promoter", "m-wait")  # a registration still waiting is a sign-up too
    assert first.status_code == 201 and first.json()["promoter"] == user_id(api, "promoter")
    for login in ("promoter2", "promoter"):
        again = signup(api, login, "m-wait")
        assert (again.status_code, again.json()["code"]) == (409, "already_exists"), login
    rejected = signup(api, "promoter", "m-no")
    assert (rejected.status_code, rejected.json()["code"]) == (409, "invalid_state")
    shop = api.as_("promoter2").get("/api/v1/me/shops/m-wait").json()
    assert shop["signed_up"] == "other"
    assert api.as_("promoter").get("/api/v1/me/shops/m-wait").json()["signed_up"] == "me"
    held = api.platform.read(lambda c: c.execute(select(promoter_signups)).all())
    assert [(r.merchant_id, r.promoter_id) for r in held] == [("m-wait", user_id(api, "promoter"))]


def test_two_promoters_claiming_a_shop_at_once_give_it_to_one(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each claim waits (up to a second) after reading who holds the shop, so that two
    claims that both got that far would both find it free; the shop's lock keeps the
    second from reading before the first commits."""
    people = [
        Principal(
            user_id=user_id(api, login),
            login=login,
            role="promoter",
            issuer_id="gyeyang",
            issuers=frozenset({"gyeyang"}),
            districts=frozenset({"gyeyang"}),
        )
        for login in ("promoter", "promoter2")
    ]
    checked = threading.Barrier(len(people), timeout=1)
    read_holder = promoters.signed_up_by

    def slow_read(conn: Any, merchant_id: str) -> str | None:
        holder = read_holder(conn, merchant_id)
        with contextlib.suppress(threading.BrokenBarrierError):
            checked.wait()  # broken: the other claim waits for the lock, go on alone
        return holder

    monkeypatch.setattr(promoters, "signed_up_by", slow_read)
    outcomes: list[str] = []

    def claim(by: Principal) -> None:
        try:
            run_in_transaction(
                api.engine, lambda c: promoters.sign_up(c, by=by, merchant_id="m-g3", at=now())
            )
            outcomes.append("ok")
        except errors.EumError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # a lost race the service did not see coming
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=claim, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_exists", "ok"]
    count = api.platform.read(
        lambda c: c.execute(select(func.count()).select_from(promoter_signups)).scalar()
    )
    assert count == 1


# --- stickers and their coverage ----------------------------------------------------------


def test_sticker_coverage_per_neighbourhood_equals_a_hand_count(api: Api) -> None:
    for shop, status in (
        ("m-g1", "attached"),
        ("m-g2", "requested"),
        ("m-g3", "attached"),
        ("m-bunsik", "attached"),
        ("m-mart", "requested"),
        ("m-wait", "attached"),  # not taking payments yet: not counted
    ):
        assert sticker(api, "promoter", shop, status).status_code == 200
    assert sticker(api, "promoter-bp", "m-b1", "attached").status_code == 200
    # counted by hand: (shops, attached, requested) per 동 of the shops taking payments
    hand = {
        "계산동": (2, 1, 1),  # m-g1, m-g2
        "작전동": (1, 1, 0),  # m-g3
        None: (3, 1, 1),  # m-g4, m-bunsik, m-mart
    }
    found = api.as_("gyeyang-admin").get("/api/v1/sticker-coverage").json()
    assert found["issuer"] == "gyeyang" and [d["district"] for d in found["districts"]] == [
        "gyeyang"
    ]
    towns = found["districts"][0]["neighbourhoods"]
    assert [t["neighbourhood"] for t in towns] == ["계산동", "작전동", None]
    for town in towns:
        shops, attached, requested = hand[town["neighbourhood"]]
        assert (town["shops"], town["attached"], town["requested"]) == (shops, attached, requested)
        assert town["coverage_bps"] == attached * 10_000 // shops
    district = found["districts"][0]
    assert (district["shops"], district["attached"], district["requested"]) == (6, 3, 2)
    assert district["coverage_bps"] == 5_000 and found["coverage_bps"] == 5_000

    whole = api.as_("incheon-admin").get("/api/v1/sticker-coverage").json()
    by_district = {d["district"]: d for d in whole["districts"]}
    assert by_district["bupyeong"]["neighbourhoods"] == [
        {
            "neighbourhood": "부평동",
            "shops": 1,
            "attached": 1,
            "requested": 0,
            "coverage_bps": 10_000,
        },
        {"neighbourhood": None, "shops": 1, "attached": 0, "requested": 0, "coverage_bps": 0},
    ]
    assert (whole["shops"], whole["attached"]) == (8, 4)
    assert len(whole["districts"]) == 10  # every district of Incheon, with shops or not
    assert by_district["ongjin"]["shops"] == 0 and by_district["ongjin"]["neighbourhoods"] == []


def test_the_same_sticker_again_changes_nothing_and_every_change_is_audited(api: Api) -> None:
    assert sticker(api, "promoter", "m-g1", "none").json()["changed"] is False
    first = sticker(api, "promoter", "m-g1", "requested").json()
    assert (first["was"], first["status"], first["changed"]) == ("none", "requested", True)
    assert sticker(api, "promoter", "m-g1", "requested").json()["changed"] is False
    assert sticker(api, "promoter2", "m-g1", "attached").json()["was"] == "requested"
    assert signup(api, "promoter", "m-g1").status_code == 201
    assert visit(api, "promoter", "m-g1").status_code == 201
    logged = api.as_("gyeyang-admin").get("/api/v1/audit").json()["items"]
    ours = [
        (e["action"], e["target"], e["detail"].get("status"))
        for e in logged
        if e["target"] == "m-g1"
    ]
    assert ours == [
        ("promoter.signup", "m-g1", "approved"),
        ("sticker.set", "m-g1", "attached"),
        ("sticker.set", "m-g1", "requested"),
    ]
    assert logged[0]["detail"]["by"] == "promoter"
    assert api.as_("bupyeong-admin").get("/api/v1/audit").json()["items"] == []
    # the shop's sticker is its last status, recorded by the last promoter
    row = api.platform.read(lambda c: c.execute(select(stickers)).one())
    assert (row.status, row.promoter_id) == ("attached", user_id(api, "promoter2"))
    counts = promoters_of(api, "gyeyang-admin")
    assert (counts["promoter"]["stickers_attached"], counts["promoter2"]["stickers_attached"]) == (
        0,
        1,
    )


# --- areas ------------------------------------------------------------------------------


def test_bupyeong_sees_nothing_of_gyeyang(api: Api) -> None:
    assert visit(api, "promoter", "m-g1", note="계양 방문").status_code == 201
    assert sticker(api, "promoter", "m-g1", "attached").status_code == 200
    assert signup(api, "promoter", "m-wait").status_code == 201
    gyeyang_promoter = user_id(api, "promoter")

    # the Bupyeong promoter: Gyeyang's shops are not there to read, and cannot be acted on
    bp = api.as_("promoter-bp")
    listed = bp.get("/api/v1/me/shops").json()["items"]
    assert {s["id"] for s in listed} == {"m-cafe", "m-b1"}
    assert bp.get("/api/v1/me/shops", params={"q": "m-g"}).json()["items"] == []
    for shop in ("m-g1", "m-wait"):
        assert bp.get(f"/api/v1/me/shops/{shop}").status_code == 404
    assert visit(api, "promoter-bp", "m-g1").status_code == 403
    assert sticker(api, "promoter-bp", "m-g1", "none").status_code == 403
    assert signup(api, "promoter-bp", "m-g2").status_code == 403
    assert signup(api, "promoter-bp", "m-wait").status_code == 404  # pending: not public
    assert bp.get("/api/v1/me/activity").json()["items"] == []

    # the Bupyeong admin: no Gyeyang promoter, activity or coverage
    assert set(promoters_of(api, "bupyeong-admin")) == {"promoter-bp"}
    admin = api.as_("bupyeong-admin")
    assert admin.get(f"/api/v1/promoters/{gyeyang_promoter}/activity").status_code == 404
    assert admin.get("/api/v1/promoters", params={"issuer": "gyeyang"}).status_code == 404
    assert admin.get("/api/v1/sticker-coverage", params={"issuer": "gyeyang"}).status_code == 404
    own = admin.get("/api/v1/sticker-coverage").json()
    assert [d["district"] for d in own["districts"]] == ["bupyeong"] and own["attached"] == 0

    # and the other way round; the Incheon admin sees both
    assert set(promoters_of(api, "gyeyang-admin")) == {"promoter", "promoter2"}
    assert set(promoters_of(api, "incheon-admin")) == {"promoter", "promoter2", "promoter-bp"}
    assert set(promoters_of(api, "incheon-admin", issuer="bupyeong")) == {"promoter-bp"}
    bp_id = user_id(api, "promoter-bp")
    assert api.as_("gyeyang-admin").get(f"/api/v1/promoters/{bp_id}/activity").status_code == 404
    assert api.as_("gyeyang-admin").get("/api/v1/promoters/usr_nobody/activity").status_code == 404


def test_a_promoter_finds_the_shops_of_its_area(api: Api) -> None:
    found = api.as_("promoter").get("/api/v1/me/shops", params={"q": "계산동"}).json()["items"]
    # by name: the new shops, then GYEYANG_CITY's 계산동 분식; not the rejected m-no
    assert [s["id"] for s in found] == ["m-g1", "m-g2", "m-wait", "m-bunsik"]
    assert {s["status"] for s in found} == {"approved", "pending"}
    assert sticker(api, "promoter", "m-g2", "requested").status_code == 200
    assert visit(api, "promoter", "m-g2", note="첫 방문").status_code == 201
    shop = api.as_("promoter").get("/api/v1/me/shops/m-g2").json()
    assert (shop["neighbourhood"], shop["sticker"], shop["signed_up"]) == (
        "계산동",
        "requested",
        None,
    )
    assert [v["note"] for v in shop["my_visits"]] == ["첫 방문"]
    assert api.as_("promoter2").get("/api/v1/me/shops/m-g2").json()["my_visits"] == []
    assert api.as_("promoter").get("/api/v1/me/shops/m-nowhere").status_code == 404


def test_a_bad_cursor_or_period_is_a_request_error(api: Api) -> None:
    admin = api.as_("gyeyang-admin")
    for params in (
        {"from": "2020-02-01", "to": "2020-01-01"},
        {"from": "2018-01-01", "to": "2020-01-01"},
        {"to": "0001-01-05"},
        {"from": "2020-13-01"},
    ):
        assert admin.get("/api/v1/promoters", params=params).status_code == 422, params
    for cursor in ("bm9wZQ", "!!", "MjAyMC0wMS0wMXx2aXNpdHwA"):
        answer = api.as_("promoter").get("/api/v1/me/activity", params={"cursor": cursor})
        assert answer.status_code == 422, cursor


# --- the neighbourhood of a merchant, and the demo ----------------------------------------


def test_a_merchant_keeps_its_neighbourhood(api: Api) -> None:
    towns = api.platform.read(
        lambda c: dict(c.execute(select(merchant_table.c.id, merchant_table.c.neighbourhood)).all())
    )
    assert (towns["m-g1"], towns["m-g4"], towns["m-bunsik"]) == ("계산동", None, None)
    with pytest.raises(errors.InvalidRequest):
        api.platform.run(
            lambda c: merchants.create_merchant(
                c, id="m-x", name="x", district="gyeyang", neighbourhood=" ", at=now()
            )
        )


def test_the_demo_promoter_works_in_gyeyang_only(engine: Engine) -> None:
    api = make_city(engine)
    api.platform.run(
        lambda c: auth.create_staff(
            c, login=demo.LOGIN, password=PASSWORD, role="promoter", issuer_id="gyeyang", at=now()
        )
    )
    at = now()
    api.platform.run(lambda c: demo.seed_demo(c, at, random.Random(7)))
    seeded = api.platform.read(
        lambda c: c.execute(
            select(
                promoter_visits.c.visited_at, merchant_table.c.district, merchant_table.c.status
            ).join(merchant_table, merchant_table.c.id == promoter_visits.c.merchant_id)
        ).all()
    )
    assert len(seeded) >= 20 * demo.VISITS_PER_DAY[0] - 10
    assert {r.district for r in seeded} == {"gyeyang"} and {r.status for r in seeded} == {
        "approved"
    }
    found = promoters_of(api, "gyeyang-admin", to=kst_day(at).isoformat())[demo.LOGIN]
    assert found["visits"] == sum(
        1 for r in seeded if kst_day(r.visited_at) >= kst_day(at) - timedelta(days=29)
    )
    assert found["signups"] == demo.SIGNUPS
    coverage = api.as_("gyeyang-admin").get("/api/v1/sticker-coverage").json()
    assert coverage["attached"] == found["stickers_attached"] > 0


def test_the_coverage_counts_only_shops_taking_payments(engine: Engine) -> None:
    api = make_city(engine)
    assert sticker(api, "promoter", "m-g4", "attached").status_code == 200
    api.platform.run(
        lambda c: c.execute(
            update(merchant_table).where(merchant_table.c.id == "m-g4").values(active=False)
        )
    )
    towns = api.as_("gyeyang-admin").get("/api/v1/sticker-coverage").json()["districts"][0]
    unknown = next(t for t in towns["neighbourhoods"] if t["neighbourhood"] is None)
    assert (unknown["shops"], unknown["attached"]) == (2, 0)  # m-bunsik, m-mart
