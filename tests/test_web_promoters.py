"""The promoter's page and the issuer admin's promoters page, on SQLite and PostgreSQL:
a Gyeyang promoter finds a shop on its phone, records a visit, a sign-up and the sticker;
the Gyeyang admin sees the same counts and coverage as the API; Bupyeong sees none of it.
(The city is the one of tests.test_promoters.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from eum.web import i18n, routes_promoters
from tests.api_support import Api
from tests.test_promoters import make_city, sticker, user_id, visit
from tests.web_support import Web, web_as

TEMPLATES = Path(routes_promoters.__file__).parent / "templates"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def api(engine: Engine) -> Api:
    return make_city(engine)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1).strip()


def follow(web: Web, response: Any) -> Any:
    assert response.status_code == 303, response.text
    return web.get(response.headers["location"])


def coverage_cells(html: str, district: str) -> dict[str, dict[str, str]]:
    """Per 동 of a district's coverage table: its cells by column, and its heat class."""
    table = html.split(f'<table id="coverage-{district}"', 1)[1].split("</table>", 1)[0]
    out = {}
    for town, row in re.findall(r'<tr data-town="([^"]*)">(.*?)</tr>', table, re.S):
        cells = dict(re.findall(r'data-col="(\w+)"[^>]*>([^<]*)<', row))
        heat = re.search(
            r'class="num (heat-[\w-]+)" data-col="coverage" data-coverage-bps="(\d+)"', row
        )
        assert heat, row
        out[town] = {**cells, "heat": heat.group(1), "bps": heat.group(2)}
    return out


def test_a_promoter_records_its_work_from_the_phone_page(api: Api) -> None:
    web = web_as(api.engine, "promoter", api)
    found = web.get("/promoter", params={"q": "계산동"})
    assert found.status_code == 200
    assert re.findall(r'<li data-merchant="([^"]+)"', found.text) == [
        "m-g1",
        "m-g2",
        "m-wait",
        "m-bunsik",
    ]
    assert "m-b1" not in found.text  # Bupyeong's shop is not in the area

    page = web.get("/promoter", params={"shop": "m-g1"})
    assert (
        'id="shop" data-merchant="m-g1"' in page.text
        and 'id="sticker-now" data-sticker="none"' in page.text
    )
    done = follow(
        web,
        web.post(
            "/promoter/visits", {"merchant": "m-g1", "note": "QR 결제 설명", "visited_at": ""}
        ),
    )
    assert "방문을 기록했습니다: 계산동 가게 m-g1" in done.text
    assert "QR 결제 설명" in done.text.split('id="my-visits"', 1)[1]
    done = follow(web, web.post("/promoter/stickers", {"merchant": "m-g1", "status": "attached"}))
    assert 'id="sticker-now" data-sticker="attached"' in done.text
    same = follow(web, web.post("/promoter/stickers", {"merchant": "m-g1", "status": "attached"}))
    assert "스티커 상태가 그대로입니다: 계산동 가게 m-g1" in same.text
    done = follow(web, web.post("/promoter/signups", {"merchant": "m-g1"}))
    assert 'id="signed-up" data-signed-up="me"' in done.text and 'id="signup-form"' not in done.text
    typed = web.post(
        "/promoter/visits", {"merchant": "m-g2", "note": "", "visited_at": "2020-01-01T10:00"}
    )
    assert typed.status_code == 422 and 'data-code="invalid_request"' in typed.text
    assert 'id="shop" data-merchant="m-g2"' in typed.text  # the form is shown again

    home = web.get("/promoter")
    assert (figure(home.text, "visits"), figure(home.text, "signups")) == ("1", "1")
    assert figure(home.text, "stickers_attached") == "1"
    kinds = re.findall(r'<li data-kind="(\w+)" data-merchant="m-g1"', home.text)
    assert sorted(kinds) == ["signup", "sticker", "visit"]
    api_items = api.as_("promoter").get("/api/v1/me/activity").json()["items"]
    assert kinds == [i["kind"] for i in api_items]


def test_a_second_claim_and_a_shop_elsewhere_are_refused_on_the_page(api: Api) -> None:
    web = web_as(api.engine, "promoter", api)
    assert web.post("/promoter/signups", {"merchant": "m-g2"}).status_code == 303
    other = web_as(api.engine, "promoter2", api)
    again = other.post("/promoter/signups", {"merchant": "m-g2"})
    assert again.status_code == 409 and 'data-code="already_exists"' in again.text
    assert 'data-signed-up="other"' in again.text
    elsewhere = web.post("/promoter/stickers", {"merchant": "m-b1", "status": "attached"})
    assert elsewhere.status_code == 403
    assert web.get("/promoter", params={"shop": "m-b1"}).status_code == 404
    assert web.post("/promoter/stickers", {"merchant": "m-g2", "status": "lost"}).status_code == 422
    assert web_as(api.engine, "kim", api).get("/promoter").status_code == 403
    assert web_as(api.engine, None, api).get("/promoter").status_code == 303  # sign in first


def test_the_admin_page_shows_what_the_api_counts(api: Api) -> None:
    for shop in ("m-g1", "m-g3", "m-g1"):
        assert visit(api, "promoter", shop).status_code == 201
    for shop, status in (("m-g1", "attached"), ("m-g2", "requested"), ("m-bunsik", "attached")):
        assert sticker(api, "promoter", shop, status).status_code == 200
    admin = web_as(api.engine, "gyeyang-admin", api)
    page = admin.get("/admin/promoters")
    assert page.status_code == 200
    row = page.text.split('<tr data-promoter="promoter">', 1)[1].split("</tr>", 1)[0]
    cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row))
    counted = next(
        p
        for p in api.as_("gyeyang-admin").get("/api/v1/promoters").json()["items"]
        if p["login"] == "promoter"
    )
    assert (cells["visits"], cells["shops_visited"], cells["stickers_attached"]) == ("3", "2", "2")
    assert (counted["visits"], counted["shops_visited"], counted["stickers_attached"]) == (3, 2, 2)

    towns = coverage_cells(page.text, "gyeyang")
    assert list(towns) == ["계산동", "작전동", "", "*"]  # "": no 동 known; "*": the district
    total = towns["*"]
    assert (total["shops"], total["attached"], total["requested"], total["bps"]) == (
        "6",
        "2",
        "1",
        "3333",
    )
    assert (
        towns["계산동"]["shops"],
        towns["계산동"]["attached"],
        towns["계산동"]["requested"],
    ) == ("2", "1", "1")
    assert (towns["계산동"]["bps"], towns["계산동"]["coverage"]) == ("5000", "50%")
    assert (towns["작전동"]["heat"], towns[""]["heat"]) == ("heat-0", "heat-1")  # 0%, 1 of 3
    assert towns["계산동"]["heat"] == "heat-2" and "미지정" in page.text
    detail = admin.get(f"/admin/promoters/{user_id(api, 'promoter')}")
    assert detail.status_code == 200 and figure(detail.text, "visits") == "3"
    assert len(re.findall(r'<li data-kind="', detail.text)) == 6  # 3 visits, 3 stickers

    bupyeong = web_as(api.engine, "bupyeong-admin", api)
    theirs = bupyeong.get("/admin/promoters")
    assert theirs.status_code == 200
    assert (
        'data-promoter="promoter-bp"' in theirs.text
        and 'data-promoter="promoter"' not in theirs.text
    )
    assert 'id="coverage-gyeyang"' not in theirs.text and "계산동" not in theirs.text
    assert bupyeong.get(f"/admin/promoters/{user_id(api, 'promoter')}").status_code == 404
    assert bupyeong.get("/admin/promoters", params={"issuer": "gyeyang"}).status_code == 404
    bad = admin.get("/admin/promoters", params={"from": "2020-02-30"})
    assert bad.status_code == 422 and 'data-code="invalid_request"' in bad.text


def test_every_korean_text_of_the_promoter_pages_has_english(api: Api) -> None:
    texts: set[str] = set()
    names = [
        "promoter/home.html",
        "promoter/_style.html",
        "admin/promoters.html",
        "admin/promoter.html",
    ]
    for name in names:
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        texts |= set(re.findall(r'_\(\s*"([^"]+)"', source))
        texts |= set(re.findall(r"_\(\s*'([^']+)'", source))
    for words in (
        routes_promoters.STICKER_NAMES,
        routes_promoters.KIND_NAMES,
        routes_promoters.SIGNED_UP_NAMES,
        routes_promoters.SHOP_STATUS,
        routes_promoters.FLASH,
    ):
        texts |= set(words.values())
    texts |= {routes_promoters.UNKNOWN_TOWN, routes_promoters.SAME_STICKER}
    missing = sorted(t for t in texts if HANGUL.search(t) and i18n.english(t) is None)
    assert not missing, missing
    web = web_as(api.engine, "promoter", api)
    assert web.get("/lang/en?back=/promoter").status_code == 303
    page = web.get("/promoter", params={"shop": "m-g1"})
    assert "My field work" in page.text and "Record the visit" in page.text


def test_the_activity_pages_on_the_phone_too(api: Api) -> None:
    for n in range(routes_promoters.ACTIVITY_PAGE + 5):
        assert visit(api, "promoter", "m-g1", note=f"메모 {n}").status_code == 201
    web = web_as(api.engine, "promoter", api)
    first = web.get("/promoter")
    more = re.search(r'id="more" href="([^"]+)"', first.text)
    assert more, "a second page"
    second = web.get(more.group(1).replace("&amp;", "&"))
    notes = re.findall(r"· (메모 \d+)</div>", first.text + second.text)
    assert notes == [f"메모 {n}" for n in reversed(range(routes_promoters.ACTIVITY_PAGE + 5))]
    assert 'id="more"' not in second.text
