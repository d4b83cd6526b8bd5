"""The issuer admin's pages: a district admin opens a budget and a rule through the forms,
citizens pay until the budget runs out, and the dashboard, budget page and CSV exports
show what the rules of GYEYANG_CITY pay; each admin sees only its own area."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from eum.clock import KST, kst_day, kst_month, now, parse_time
from eum.policy import service as policy
from eum.web import i18n, names, routes_admin
from tests.api_support import Api
from tests.conftest import GYEYANG_CITY
from tests.web_support import Web, web_as

BPS = 10_000
TEMPLATES = Path(routes_admin.__file__).parent / "templates" / "admin"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def rule_of(rule_id: str) -> dict[str, Any]:
    return next(r for r in GYEYANG_CITY["rules"] if r["id"] == rule_id)


def merchant_of(merchant_id: str) -> dict[str, Any]:
    return next(m for m in GYEYANG_CITY["merchants"] if m["id"] == merchant_id)


def open_budget(web: Web, budget_id: str, amount: str, owner: str = "gyeyang") -> Any:
    web.get("/admin/budgets")
    return web.post(
        "/admin/budgets", {"id": budget_id, "name": "작은 예산", "owner": owner, "amount": amount}
    )


def open_rule(web: Web, rule_id: str, budget: str, rate: str = "10", **extra: str) -> Any:
    web.get("/admin/rules/new")
    fields = {
        "id": rule_id,
        "kind": "cashback",
        "owner": "gyeyang",
        "name": "계양 추가 캐시백",
        "rate": rate,
        "budget": budget,
        **extra,
    }
    return web.post("/admin/rules/new", fields)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1).strip()


def table_rows(html: str, table_id: str) -> list[dict[str, str]]:
    """The cells of a table drawn by the admin pages' data_table, by column key."""
    body = html.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S):
        cells = re.findall(r'data-col="([^"]+)">(.*?)</td>', tr, re.S)
        rows.append({k: re.sub(r"<[^>]+>", "", v).strip() for k, v in cells})
    return rows


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 BOM"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def as_number(shown: str) -> str:
    """'1,800원' on the page is 1800 in the CSV."""
    return shown.replace(",", "").replace("원", "").strip()


def test_only_issuer_admins_and_the_operator_open_the_admin_pages(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    stranger = Web(api).get("/admin/rules")
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/login?next=/admin/rules")
    assert web_as(sqlite_engine, "kim", api).get("/admin").status_code == 403
    assert web_as(sqlite_engine, "bunsik", api).get("/admin/export/rules.csv").status_code == 403
    operator = web_as(sqlite_engine, "operator", api)
    for path in ("/admin", "/admin/rules", "/admin/budgets", "/admin/merchants"):
        assert operator.get(path).status_code == 200, path
    operator.get("/lang/en?back=/admin")
    for path in ("/admin", "/admin/rules/gyeyang-launch", "/admin/budgets/gyeyang-event"):
        page = operator.get(path)
        assert page.status_code == 200 and 'lang="en"' in page.text, path
        assert "Dashboard" in page.text and "대시보드" not in page.text


def test_a_district_budget_runs_out_and_the_pages_show_what_it_paid(engine: Engine) -> None:
    api = Api(engine)
    admin = web_as(engine, "gyeyang-admin", api)
    opened = open_budget(admin, "gy-small", "1,500")
    assert opened.status_code == 303, opened.text
    assert opened.headers["location"] == "/admin/budgets/gy-small"
    created = open_rule(admin, "gy-extra", "gy-small", rate="10")
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/admin/rules/gy-extra"

    assert api.money("kim", "/api/v1/charges", {"amount": 100_000}).status_code == 201
    results = []
    for _ in range(3):
        paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000})
        assert paid.status_code == 201, paid.text
        results.append(paid.json())

    # SPEC 3.7 with the rules of GYEYANG_CITY: m-mart is general (no discount), so each
    # payment is charged 10,000; the launch rule pays 1% from a budget that still has
    # enough, the new 10% rule pays 1,000 then what is left of its 1,500, then nothing;
    # m-mart's sales are above the fee-support limit, so no fee support.
    launch = rule_of("gyeyang-launch")
    launch_each = 10_000 * launch["rate_bps"] // BPS
    assert 3 * launch_each <= GYEYANG_CITY["budgets"][1]["amount"]
    extra_raw = 10_000 * 1_000 // BPS
    extra_paid = [min(extra_raw, 1_500), min(extra_raw, 1_500 - extra_raw), 0]
    assert [r["cashback"].get("gy-extra", 0) for r in results] == extra_paid
    assert merchant_of("m-mart")["annual_sales"] > rule_of("gyeyang-fee")["max_annual_sales"]
    cashback = 3 * launch_each + sum(extra_paid)

    budget = admin.get("/admin/budgets/gy-small")
    assert budget.status_code == 200
    assert re.search(r'id="remaining">0원<', budget.text)
    assert re.search(r'id="spent">1,500원<', budget.text)
    assert re.search(r'id="budget-state">예산 소진<', budget.text)
    assert 'class="badge bad"' in budget.text
    today = {r["day"]: r for r in table_rows(budget.text, "burn")}[kst_day(now()).isoformat()]
    assert today == {
        "day": kst_day(now()).isoformat(),
        "spent": "1,500원",
        "funded": "1,500원",
        "remaining": "0원",
    }

    dashboard = admin.get("/admin")
    assert figure(dashboard.text, "cashback") == f"{cashback:,}원"
    assert figure(dashboard.text, "payments") == f"{3 * 10_000:,}원"
    assert figure(dashboard.text, "fee_support") == "0원"
    assert figure(dashboard.text, "fiscal_leverage") == f"{30_000 / cashback:.2f}"
    assert 'data-budget="gy-small"' in dashboard.text  # listed under the budget alerts
    assert "<svg" in dashboard.text and "<script" not in dashboard.text

    rules = admin.get("/admin/rules")
    row = rules.text.split('data-rule="gy-extra"', 1)[1].split("</tr>", 1)[0]
    assert f'data-col="paid">{sum(extra_paid):,}원<' in row


def test_the_forecast_date_follows_the_burn_of_the_last_seven_days(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    today = kst_day(now())

    def at(days_ago: int) -> str:
        return datetime.combine(today - timedelta(days=days_ago), time(12), KST).isoformat()

    platform = api.platform  # the budget was opened ten days ago, with 20,000
    platform.run(
        policy.create_budget,
        id="gy-burn",
        owner="gyeyang",
        amount_krw=20_000,
        at=parse_time(at(10)),
    )
    assert open_rule(admin, "gy-burn-10", "gy-burn", rate="10").status_code == 303
    assert platform.event("charge", at=at(9), key="c1", member="u-kim", amount=500_000)["ok"]
    # 1,000 from the budget on each of three recent days, and once more eight days ago
    # (outside the 7-day window: it lowers what is left but not the pace)
    for n, days_ago in enumerate((8, 3, 2, 1)):
        paid = platform.event(
            "pay", at=at(days_ago), key=f"p{n}", member="u-kim", merchant="m-mart", amount=10_000
        )
        assert paid["cashback"]["gy-burn-10"] == 1_000
    remaining, recent = 20_000 - 4 * 1_000, 3 * 1_000
    days_left = -(-remaining * 7 // recent)  # ceil(16,000 / (3,000 / 7)) = 38
    assert days_left == 38

    page = admin.get("/admin/budgets/gy-burn")
    assert re.search(r'id="remaining">16,000원<', page.text)
    runs_out = (today + timedelta(days=days_left)).isoformat()
    assert f'data-runs-out="{runs_out}"' in page.text
    assert f"{runs_out}에 소진 예상 ({days_left}일 뒤)" in page.text
    assert 'data-state="ok"' in page.text
    assert "stroke-dasharray" in page.text  # the forecast is drawn dashed
    burn = table_rows(page.text, "burn")
    by_day = {r["day"]: r for r in burn}
    yesterday = (today - timedelta(days=1)).isoformat()
    assert by_day[yesterday]["spent"] == "1,000원"
    assert by_day[yesterday]["remaining"] == "16,000원"
    assert by_day[(today - timedelta(days=4)).isoformat()]["remaining"] == "19,000원"
    assert by_day[(today - timedelta(days=9)).isoformat()]["remaining"] == "20,000원"
    assert by_day[(today - timedelta(days=10)).isoformat()]["funded"] == "20,000원"
    assert burn[0]["day"] == (today - timedelta(days=10)).isoformat()  # opened then

    exported = read_csv(admin.get("/admin/export/budget-burn.csv?budget=gy-burn"))
    assert exported[0] == ["날짜", "집행액", "편성액", "잔액"]
    assert [yesterday, "1000", "0", "16000"] in exported
    assert len(exported) - 1 == len(burn)

    # a big payment today: 10,000 more from the budget, at this pace it lasts 4 more days
    paid = platform.event(
        "pay", at=now().isoformat(), key="big", member="u-kim", merchant="m-mart", amount=100_000
    )
    assert paid["cashback"]["gy-burn-10"] == 10_000
    soon = -(-6_000 * 7 // 13_000)
    page = admin.get("/admin/budgets/gy-burn")
    assert f'data-runs-out="{(today + timedelta(days=soon)).isoformat()}"' in page.text
    assert re.search(r'id="budget-state">예산 곧 소진<', page.text)
    listed = admin.get("/admin/budgets").text.split('data-budget="gy-burn"', 1)[1]
    assert "예산 곧 소진" in listed.split("</tr>", 1)[0]
    assert 'data-budget="gy-burn"' in admin.get("/admin").text


def test_an_admin_of_bupyeong_sees_nothing_of_gyeyang(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    bupyeong = web_as(sqlite_engine, "bupyeong-admin", api)
    assert bupyeong.get("/admin/rules/gyeyang-launch").status_code == 404
    assert bupyeong.get("/admin/budgets/gyeyang-event").status_code == 404
    assert bupyeong.get("/admin?issuer=gyeyang").status_code == 404
    assert bupyeong.get("/admin/export/budget-burn.csv?budget=gyeyang-event").status_code == 404
    bupyeong.get("/admin/rules")
    changed = bupyeong.post("/admin/rules/gyeyang-launch", {"rate": "50"})
    assert changed.status_code == 404
    assert bupyeong.post("/admin/rules/gyeyang-launch/close").status_code == 403
    funded = bupyeong.post(
        "/admin/budgets/fund",
        {"budget": "gyeyang-event", "amount": "5000", "key": "web-try", "back": "/admin/budgets"},
    )
    assert funded.status_code == 403
    assert 'data-code="forbidden"' in funded.text
    gyeyang = api.as_("gyeyang-admin").get("/api/v1/budgets/gyeyang-event").json()
    assert gyeyang["remaining"] == GYEYANG_CITY["budgets"][1]["amount"]
    launch = api.as_("gyeyang-admin").get("/api/v1/rules/gyeyang-launch").json()
    assert launch["active"] is True and len(launch["history"]) == 1

    rules = bupyeong.get("/admin/rules").text
    assert "gyeyang-launch" not in rules and "incheon-base" not in rules
    merchants = bupyeong.get("/admin/merchants").text
    assert "m-cafe" in merchants
    assert "m-bunsik" not in merchants and "계산동 분식" not in merchants
    assert "m-bunsik" not in bupyeong.get("/admin/merchants?q=분식").text
    assert "gyeyang-event" not in bupyeong.get("/admin/budgets").text


def test_an_admin_approves_a_shop_registered_in_its_district(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    shop = Web(api)
    shop.get("/signup/shop")
    registered = shop.post(
        "/signup/shop",
        {
            "login": "newshop",
            "password": "long enough 1",
            "name": "효성동 빵집",
            "district": "gyeyang",
            "category": "cafe",
            "annual_sales": "200,000,000",
        },
    )
    assert registered.status_code == 303
    gyeyang = web_as(sqlite_engine, "gyeyang-admin", api)
    page = gyeyang.get("/admin/merchants")
    found = re.search(
        r'<li data-merchant="([^"]+)">\s*<div class="row"><strong>효성동 빵집', page.text
    )
    assert found, page.text
    merchant_id = found.group(1)
    assert "효성동 빵집" not in Web(api).get("/shops?q=빵집").text

    bupyeong = web_as(sqlite_engine, "bupyeong-admin", api)
    assert "효성동 빵집" not in bupyeong.get("/admin/merchants").text
    bupyeong.get("/admin/merchants")
    refused = bupyeong.post(f"/admin/merchants/{merchant_id}/decision", {"decision": "approve"})
    assert refused.status_code == 404

    decided = gyeyang.post(
        f"/admin/merchants/{merchant_id}/decision", {"decision": "approve", "note": "서류 확인"}
    )
    assert decided.status_code == 303
    after = gyeyang.get(decided.headers["location"])
    assert f"등록을 승인했습니다: {merchant_id}" in after.text
    assert 'id="pending"' not in after.text
    assert "효성동 빵집" in Web(api).get("/shops?q=빵집").text
    again = gyeyang.post(f"/admin/merchants/{merchant_id}/decision", {"decision": "reject"})
    assert again.status_code == 409
    assert 'data-code="invalid_state"' in again.text
    approved = table_rows(gyeyang.get("/admin/merchants?status=approved").text, "merchants")
    assert {"id": merchant_id, "status_name": "승인"}.items() <= next(
        r for r in approved if r["id"] == merchant_id
    ).items()


def test_csv_exports_carry_the_page_s_numbers_for_the_admin_s_area_only(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    assert api.money("kim", "/api/v1/charges", {"amount": 50_000}).status_code == 201
    assert api.money("lee", "/api/v1/charges", {"amount": 50_000}).status_code == 201
    for login, merchant, amount in (("kim", "m-bunsik", 10_000), ("lee", "m-cafe", 20_000)):
        paid = api.money(login, "/api/v1/payments", {"merchant": merchant, "amount": amount})
        assert paid.status_code == 201, paid.text
    gyeyang = web_as(sqlite_engine, "gyeyang-admin", api)
    page = gyeyang.get("/admin").text
    shown = table_rows(page, "monthly")
    exported = read_csv(gyeyang.get("/admin/export/monthly.csv"))
    header, rows = exported[0], exported[1:]
    assert header[:4] == ["월", "회원", "활성 회원", "발행액"]
    assert len(rows) == len(shown) == 12
    assert rows[-1][0] == kst_month(now())
    for on_page, in_csv in zip(shown, rows, strict=True):
        for col, value in zip(routes_admin.MONTHLY_COLS, in_csv, strict=True):
            if col.kind in ("won", "count"):
                assert as_number(on_page[col.key]) == value, col.key
    this_month = dict(zip([c.key for c in routes_admin.MONTHLY_COLS], rows[-1], strict=True))
    # the Gyeyang card paid 10,000 at the Benefit Plus shop (3% off): 9,700 charged, the
    # launch rule pays 1% of it; Lee's Incheon card paid in Bupyeong, outside this area
    bunsik = merchant_of("m-bunsik")
    charged = 10_000 - 10_000 * bunsik["discount_bps"] // BPS
    assert this_month["payments"] == str(charged)
    assert this_month["issuance"] == "50000"
    launch = charged * rule_of("gyeyang-launch")["rate_bps"] // BPS
    assert this_month["cashback"] == str(launch)
    fee = charged * bunsik["card_fee_bps"] // BPS
    support = min(fee, charged * rule_of("gyeyang-fee")["rate_bps"] // BPS)
    assert this_month["fee_support"] == str(support)
    assert this_month["own_district_share_bps"] == "100"
    assert figure(page, "cashback") == f"{launch:,}원"

    districts = read_csv(gyeyang.get("/admin/export/districts.csv"))
    assert [r[0] for r in districts[1:]] == ["계양구"]
    assert districts[1][2] == str(charged)
    bupyeong = web_as(sqlite_engine, "bupyeong-admin", api)
    theirs = read_csv(bupyeong.get("/admin/export/districts.csv"))
    assert [r[0] for r in theirs[1:]] == ["부평구"] and theirs[1][2] == "20000"

    budgets = read_csv(gyeyang.get("/admin/export/budgets.csv"))
    assert sorted(r[0] for r in budgets[1:]) == ["gyeyang-event", "gyeyang-fee"]
    event = next(r for r in budgets[1:] if r[0] == "gyeyang-event")
    assert event[3:6] == ["1000", str(launch), str(1_000 - launch)]
    assert "gyeyang-event" not in bupyeong.get("/admin/export/budgets.csv").text
    rules = read_csv(bupyeong.get("/admin/export/rules.csv"))
    assert rules[0][0] == "ID" and len(rules) == 1
    merchants = read_csv(bupyeong.get("/admin/export/merchants.csv"))
    assert [r[0] for r in merchants[1:]] == ["m-cafe"]
    assert merchants[1][6] == str(merchant_of("m-cafe").get("annual_sales", 0))
    assert gyeyang.get("/admin/export/nothing.csv").status_code == 404


def test_an_invalid_rule_shows_the_spec_error_code_at_its_field(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    refused = open_rule(admin, "gy-too-much", "", rate="150")
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and 'data-code="invalid_request"' in refused.text
    assert re.search(r'id="f-rate" value="150"\s+required aria-invalid="true"', refused.text)
    assert 'id="err-rate" data-code="invalid_request"' in refused.text
    assert "gy-too-much" not in admin.get("/admin/rules").text

    dates = open_rule(
        admin, "gy-dates", "", rate="1", **{"from": "2030-05-02", "until": "2030-05-01"}
    )
    assert dates.status_code == 422
    assert 'id="err-until" data-code="invalid_request"' in dates.text

    bupyeong = web_as(sqlite_engine, "bupyeong-admin", api)
    bupyeong.get("/admin/rules/new")
    outside = bupyeong.post(
        "/admin/rules/new",
        {"kind": "cashback", "owner": "gyeyang", "rate": "1", "districts.gyeyang": "1"},
    )
    assert outside.status_code == 403
    assert 'data-code="forbidden"' in outside.text

    english = admin.get("/lang/en?back=/admin/rules/new")
    assert english.status_code == 303
    shown = open_rule(admin, "gy-too-much", "", rate="150")
    assert "Rates go from 0% to 100%" in shown.text


def test_a_rule_change_adds_a_version_and_a_future_start_schedules_it(
    sqlite_engine: Engine,
) -> None:
    api = Api(sqlite_engine)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    page = admin.get("/admin/rules/gyeyang-launch")
    assert page.status_code == 200
    assert 'id="f-rate" value="1"' in page.text
    starts = (kst_day(now()) + timedelta(days=10)).isoformat()
    changed = admin.post(
        "/admin/rules/gyeyang-launch",
        {"rate": "2", "budget": "gyeyang-event", "monthly_cap": "300,000", "from": starts},
    )
    assert changed.status_code == 303, changed.text
    page = admin.get(changed.headers["location"])
    assert f"규칙을 바꿨습니다. {starts}부터 적용됩니다." in page.text
    assert re.search(r'id="rule-state">예약<', page.text)
    assert 'data-version="2"' in page.text
    assert "비율: 1% → 2%" in page.text
    assert f"시작일: 제한 없음 → {starts}" in page.text

    # scheduled: a payment today gets no launch cashback
    assert api.money("kim", "/api/v1/charges", {"amount": 20_000}).status_code == 201
    paid = api.money("kim", "/api/v1/payments", {"merchant": "m-mart", "amount": 10_000}).json()
    assert paid["cashback"].get("gyeyang-launch", 0) == 0
    assert paid["cashback"]["incheon-base"] == 10_000 * rule_of("incheon-base")["rate_bps"] // BPS

    same = admin.post(
        "/admin/rules/gyeyang-launch",
        {"rate": "2", "budget": "gyeyang-event", "monthly_cap": "300000", "from": starts},
    )
    assert "바뀐 내용이 없습니다." in admin.get(same.headers["location"]).text

    closed = admin.post("/admin/rules/gyeyang-launch/close")
    assert closed.status_code == 303
    page = admin.get("/admin/rules/gyeyang-launch")
    assert re.search(r'id="rule-state">종료<', page.text) and 'data-version="3"' in page.text
    assert (
        'data-rule="gyeyang-launch"'
        in admin.get("/admin/rules").text.split('id="closed-rules"', 1)[1]
    )


def test_adding_funds_to_a_budget_books_once_per_form(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    page = admin.get("/admin/budgets/gyeyang-event")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key
    form = {
        "key": key.group(1),
        "budget": "gyeyang-event",
        "amount": "5,000",
        "back": "/admin/budgets/gyeyang-event",
    }
    first = admin.post("/admin/budgets/fund", form)
    assert first.status_code == 303 and first.headers["location"] == "/admin/budgets/gyeyang-event"
    assert admin.post("/admin/budgets/fund", form).status_code == 303  # a resent form
    funded = GYEYANG_CITY["budgets"][1]["amount"] + 5_000
    page = admin.get("/admin/budgets/gyeyang-event")
    assert re.search(rf'id="funded">{funded:,}원<', page.text)
    assert api.as_("gyeyang-admin").get("/api/v1/budgets/gyeyang-event").json()["funded"] == funded

    bad = admin.post("/admin/budgets/fund", {**form, "key": "web-other", "amount": "오천원"})
    assert bad.status_code == 422
    assert 'data-code="invalid_amount"' in bad.text and 'id="err-amount"' in bad.text


def test_every_korean_text_of_the_admin_pages_has_english() -> None:
    texts: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        texts |= set(re.findall(r'_\(\s*"([^"]+)"', source))
        texts |= set(re.findall(r"_\(\s*'([^']+)'", source))
        texts |= set(re.findall(r'"([^"]*[\uac00-\ud7a3][^"]*)"', source))
    for table in (
        routes_admin.MONTHLY_COLS,
        routes_admin.DISTRICT_COLS,
        routes_admin.RULE_COLS,
        routes_admin.BUDGET_COLS,
        routes_admin.MERCHANT_COLS,
        routes_admin.BURN_COLS,
    ):
        texts |= {c.title for c in table}
    for words in (
        routes_admin.STATE_NAMES,
        routes_admin.RULE_STATUS,
        routes_admin.KIND_NAMES,
        routes_admin.FIELD_LABELS,
        routes_admin.FIELD_HINTS,
        routes_admin.CHANGE_NAMES,
        routes_admin.STATUS_NAMES,
        names.TIERS,
        routes_admin.KIND_NAMES_OF_CARDS,
        routes_admin.DEFAULTS,
        routes_admin.KIND_DEFAULTS,
    ):
        texts |= set(words.values())
    texts = {t for t in texts if "{{" not in t and "{%" not in t}
    missing = sorted(t for t in texts if HANGUL.search(t) and i18n.english(t) is None)
    assert not missing, missing
