"""Monthly reports per issuer (issue #6): a Gyeyang resident and an Incheon resident pay
across three months (the report's month, the month before and the same month a year
earlier) and one payment is refunded a month later; the report of each area shows what
the payments of that month were, what the area's rules paid, what each budget has left,
which categories sold most and what was donated, on the admin's page, in the download
and in the file the command line writes, only for the admin's own area."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, update

from eum import errors
from eum.clock import kst_month, now
from eum.stats import report
from eum.stats import views as stats
from eum.stats.store import card_days
from tests.api_support import Api
from tests.conftest import GYEYANG_CITY, Platform
from tests.web_support import Web, web_as

BPS = 10_000
CATEGORY = {"m-bunsik": "snack", "m-mart": "mart", "m-cafe": "cafe", "m-bakery": "cafe"}
DISTRICT = {"m-bunsik": "gyeyang", "m-mart": "gyeyang", "m-cafe": "bupyeong", "m-bakery": "gyeyang"}
CARD = {"u-kim": "gyeyang", "u-lee": "incheon"}
GYEYANG_RULES = {"gyeyang-launch", "gyeyang-fee"}  # owned by Gyeyang, paid from its budgets
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def city() -> dict[str, Any]:
    """GYEYANG_CITY with merchant categories and a second café in Gyeyang."""
    doc = copy.deepcopy(GYEYANG_CITY)
    doc["merchants"].append(
        {
            "id": "m-bakery",
            "name": "효성동 빵집",
            "district": "gyeyang",
            "annual_sales": 100_000_000,
            "card_fee_bps": 80,
        }
    )
    for m in doc["merchants"]:
        m["category"] = CATEGORY[m["id"]]
    return doc


def budget_amount(budget_id: str) -> int:
    return int(next(b["amount"] for b in GYEYANG_CITY["budgets"] if b["id"] == budget_id))


class Story:
    """The events of the story and what each returned, to sum independently."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.month = report.last_full_month(now())
        months = stats.months_until(self.month, 13)
        self.previous, self.year_ago = months[-2], months[0]
        self.paid: list[dict[str, Any]] = []  # every payment: month, member, merchant, result
        self.refunded: set[str] = set()
        self.charged: dict[tuple[str, str], int] = defaultdict(int)  # (month, card) -> won
        self.n = 0

    def charge(self, member: str, month: str, day: int, amount: int) -> None:
        self.n += 1
        done = self.api.platform.event(
            "charge", at=f"{month}-{day:02d}T09:00", key=f"c{self.n}", member=member, amount=amount
        )
        assert done["ok"], done
        self.charged[(month, CARD[member])] += amount

    def pay(self, member: str, merchant: str, month: str, day: int, amount: int) -> str:
        self.n += 1
        key = f"p{self.n}"
        at = now().isoformat() if month == kst_month(now()) else f"{month}-{day:02d}T12:00"
        done = self.api.platform.event(
            "pay", at=at, key=key, member=member, merchant=merchant, amount=amount
        )
        assert done["ok"], done
        self.paid.append(
            {"key": key, "month": month, "member": member, "merchant": merchant, "result": done}
        )
        return key

    def refund_in_full(self, key: str) -> None:
        """A refund given now (a later month than the payment's)."""
        charged = next(p["result"]["charged"] for p in self.paid if p["key"] == key)
        done = self.api.platform.event(
            "refund", at=now().isoformat(), key=f"r-{key}", payment=key, amount=charged
        )
        assert done["ok"], done
        self.refunded.add(key)

    # --- what the report should say, summed from the events ----------------------------

    def kept(self, month: str, districts: set[str] | None = None) -> list[dict[str, Any]]:
        """The month's payments at merchants of ``districts``, not refunded."""
        return [
            p
            for p in self.paid
            if p["month"] == month
            and p["key"] not in self.refunded
            and (districts is None or DISTRICT[p["merchant"]] in districts)
        ]

    def made(self, month: str, districts: set[str] | None = None) -> int:
        return sum(
            1
            for p in self.paid
            if p["month"] == month and (districts is None or DISTRICT[p["merchant"]] in districts)
        )

    def payments(self, month: str, districts: set[str] | None = None) -> int:
        return sum(p["result"]["charged"] for p in self.kept(month, districts))

    def support(self, kind: str, month: str | None, rules: set[str]) -> int:
        """What ``rules`` paid of ``kind`` for payments of ``month`` (all months: None)."""
        return sum(
            won
            for p in self.paid
            if (month is None or p["month"] == month) and p["key"] not in self.refunded
            for rule, won in p["result"][kind].items()
            if rule in rules
        )

    def by_category(self, month: str, districts: set[str] | None) -> list[tuple[str, int]]:
        sums: dict[str, int] = defaultdict(int)
        for p in self.kept(month, districts):
            sums[CATEGORY[p["merchant"]]] += p["result"]["charged"]
        return sorted(sums.items(), key=lambda kv: -kv[1])


def add_donated(conn: Connection, day: str, issuer: str, amount: int) -> None:
    """A donation on the daily card counter (whoever else adds to the row)."""
    key = (card_days.c.day == day) & (card_days.c.card_issuer_id == issuer)
    moved = conn.execute(
        update(card_days).where(key).values(donated=card_days.c.donated + amount)
    ).rowcount
    if not moved:
        conn.execute(
            insert(card_days).values(
                day=day, card_issuer_id=issuer, joined=0, active=0, issued=0, donated=amount
            )
        )


def tell(api: Api) -> Story:
    """The story: a year ago, last month, this report's month, and a refund now."""
    s = Story(api)
    s.charge("u-kim", s.year_ago, 3, 100_000)
    s.pay("u-kim", "m-bunsik", s.year_ago, 5, 20_000)
    s.charge("u-kim", s.previous, 2, 200_000)
    s.pay("u-kim", "m-mart", s.previous, 10, 30_000)
    s.charge("u-kim", s.month, 1, 300_000)
    s.charge("u-lee", s.month, 1, 100_000)
    s.pay("u-kim", "m-bunsik", s.month, 3, 10_000)
    s.pay("u-kim", "m-mart", s.month, 4, 50_000)
    s.pay("u-kim", "m-bakery", s.month, 5, 40_000)
    s.pay("u-kim", "m-bakery", s.month, 6, 12_000)
    s.pay("u-lee", "m-mart", s.month, 7, 15_000)
    s.pay("u-lee", "m-cafe", s.month, 8, 20_000)  # in Bupyeong, by an Incheon card
    s.refund_in_full(s.pay("u-kim", "m-bunsik", s.month, 9, 8_000))
    s.pay("u-kim", "m-mart", kst_month(now()), 1, 5_000)  # this month: in no report of s.month

    def donations(conn: Connection) -> None:
        add_donated(conn, f"{s.month}-15", "gyeyang", 3_000)
        add_donated(conn, f"{s.month}-20", "gyeyang", 2_000)
        add_donated(conn, f"{s.month}-15", "incheon", 7_000)
        add_donated(conn, f"{s.previous}-10", "gyeyang", 1_000)

    api.platform.run(donations)
    return s


def figure_of(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(f for f in data["figures"] if f["key"] == key)


def change(now_value: int, then: int) -> float | None:
    return round((now_value - then) * 100 / then, 1) if then else None


def shown(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1).strip()


def test_the_report_of_a_district_adds_up_to_its_payments_rules_and_budgets(
    engine: Engine,
) -> None:
    api = Api(engine, city())
    s = tell(api)
    gyeyang = {"gyeyang"}
    data = api.platform.read(
        lambda c: report.monthly_report(c, report.area_of_issuer(c, "gyeyang"), s.month)
    )
    assert (data["month"], data["previous_month"], data["year_ago_month"]) == (
        s.month,
        s.previous,
        s.year_ago,
    )
    this = data["this_month"]
    # payments at Gyeyang merchants by any card, net of the refund given a month later
    assert this["payments"] == s.payments(s.month, gyeyang)
    assert this["payments"] == 9_700 + 50_000 + 40_000 + 12_000 + 15_000
    assert this["payment_count"] == s.made(s.month, gyeyang)  # a refunded one was still made
    assert this["issuance"] == s.charged[(s.month, "gyeyang")] == 300_000
    cashback = s.support("cashback", s.month, GYEYANG_RULES)
    fee_support = s.support("fee_support", s.month, GYEYANG_RULES)
    assert cashback > 0 and fee_support > 0
    assert (this["cashback"], this["fee_support"]) == (cashback, fee_support)
    assert this["fiscal_leverage"] == round(this["payments"] / (cashback + fee_support), 2)
    assert this["donated"] == data["donated"] == 3_000 + 2_000

    payments = figure_of(data, "payments")
    before = s.payments(s.previous, gyeyang)
    year_ago = s.payments(s.year_ago, gyeyang)
    assert (payments["previous"], payments["year_ago"]) == (before, year_ago)
    assert payments["change_previous"] == change(this["payments"], before)
    assert payments["change_year"] == change(this["payments"], year_ago)
    assert figure_of(data, "donated")["change_previous"] == change(5_000, 1_000) == 400.0
    assert [m["month"] for m in data["months"]] == stats.months_until(s.month, 12)
    assert [m["payments"] for m in data["months"]] == [
        s.payments(m, gyeyang) for m in stats.months_until(s.month, 12)
    ]

    # each budget of Gyeyang: what it paid this month, what it was given, what is left
    rows = {b["id"]: b for b in data["budgets"]}
    assert set(rows) == {"gyeyang-event", "gyeyang-fee"}  # Incheon's budget is not Gyeyang's
    event, fee = rows["gyeyang-event"], rows["gyeyang-fee"]
    assert event["cashback"] == s.support("cashback", s.month, {"gyeyang-launch"}) == cashback
    assert fee["fee_support"] == fee_support
    for row, budget_id, kind, rule in (
        (event, "gyeyang-event", "cashback", "gyeyang-launch"),
        (fee, "gyeyang-fee", "fee_support", "gyeyang-fee"),
    ):
        amount = budget_amount(budget_id)
        left = amount - s.support(kind, None, {rule})
        assert (row["funded"], row["remaining"], row["spent"]) == (amount, left, amount - left)
        assert row["used_bps"] == (amount - left) * BPS // amount
    assert sum(b["cashback"] for b in data["budgets"]) == this["cashback"]
    assert sum(b["fee_support"] for b in data["budgets"]) == this["fee_support"]
    assert {(r["id"], r["kind"]): r["amount"] for r in data["rules"]} == {
        ("gyeyang-launch", "cashback"): cashback,
        ("gyeyang-fee", "fee_support"): fee_support,
    }

    expected = s.by_category(s.month, gyeyang)
    assert [c["category"] for c in data["categories"]] == [k for k, _ in expected]
    assert [c["category"] for c in data["categories"]] == ["mart", "cafe", "snack"]
    assert [c["payments"] for c in data["categories"]] == [v for _, v in expected]
    assert [(d["district"], d["payments"]) for d in data["districts"]] == [
        ("gyeyang", this["payments"])
    ]


def test_the_city_s_report_covers_its_districts_and_cards(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine, city())
    s = tell(api)
    data = api.platform.read(
        lambda c: report.monthly_report(c, report.area_of_issuer(c, "incheon"), s.month)
    )
    everywhere = s.payments(s.month)
    assert data["this_month"]["payments"] == everywhere
    assert data["this_month"]["issuance"] == 400_000  # Kim's Gyeyang card and Lee's
    assert data["donated"] == 3_000 + 2_000 + 7_000
    # the Bupyeong café makes cafés the top category of the city
    assert [c["category"] for c in data["categories"]] == [
        k for k, _ in s.by_category(s.month, None)
    ]
    assert data["categories"][0]["category"] == "cafe"
    districts = {d["district"]: d["payments"] for d in data["districts"]}
    assert len(districts) == len(GYEYANG_CITY["issuers"][0]["districts"])
    assert districts["bupyeong"] == 20_000 and districts["ganghwa"] == 0
    assert data["districts"][0]["district"] == "gyeyang"
    assert "incheon-cashback" in {b["id"] for b in data["budgets"]}
    incheon = s.support("cashback", s.month, {"incheon-base"})
    city_rules = s.support("cashback", s.month, {"incheon-base", "gyeyang-launch"})
    assert incheon > 0 and data["this_month"]["cashback"] == city_rules


def test_the_admin_reads_its_report_and_downloads_it_printable(engine: Engine) -> None:
    api = Api(engine, city())
    s = tell(api)
    admin = web_as(engine, "gyeyang-admin", api)
    page = admin.get(f"/admin/reports/{s.month}")
    assert page.status_code == 200, page.text
    payments = s.payments(s.month, {"gyeyang"})
    cashback = s.support("cashback", s.month, GYEYANG_RULES)
    assert shown(page.text, "payments") == f"{payments:,}원"
    assert shown(page.text, "cashback") == f"{cashback:,}원"
    assert shown(page.text, "issuance") == "300,000원"
    assert shown(page.text, "donations") == "5,000원"
    left = budget_amount("gyeyang-fee") - s.support("fee_support", None, {"gyeyang-fee"})
    fee_row = page.text.split('data-budget="gyeyang-fee"', 1)[1].split("</tr>", 1)[0]
    assert f'data-col="remaining">{left:,}원<' in fee_row
    assert 'href="/admin/reports"' in page.text  # in the admin menu
    assert page.text.count("<svg") >= 8

    download = admin.get(f"/admin/reports/{s.month}.html")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/html")
    assert (
        download.headers["content-disposition"]
        == f'attachment; filename="eum-report-gyeyang-{s.month}.html"'
    )
    doc = download.text
    assert doc.startswith("<!doctype html>") or "<!doctype html>" in doc[:400]
    assert shown(doc, "payments") == f"{payments:,}원"
    assert not EXTERNAL.search(doc), EXTERNAL.search(doc)
    assert "<script" not in doc and "<link" not in doc and "url(" not in doc
    assert "@media print" in doc and "size:A4" in doc
    assert "<svg" in doc and "계양e음" in doc and "음식점" not in doc  # no restaurant sold
    assert "마트·식료품" in doc and "분식" in doc and "계양구" in doc


def test_a_report_is_only_for_the_admin_s_own_area(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine, city())
    s = tell(api)
    bupyeong = web_as(sqlite_engine, "bupyeong-admin", api)
    assert bupyeong.get(f"/admin/reports/{s.month}?issuer=gyeyang").status_code == 404
    assert bupyeong.get(f"/admin/reports/{s.month}.html?issuer=gyeyang").status_code == 404
    assert bupyeong.get("/admin/reports?issuer=gyeyang").status_code == 404
    own = bupyeong.get(f"/admin/reports/{s.month}")
    assert own.status_code == 200
    assert shown(own.text, "payments") == "20,000원"  # Lee's payment at the Bupyeong café
    assert "gyeyang-event" not in own.text

    city_admin = web_as(sqlite_engine, "incheon-admin", api)
    below = city_admin.get(f"/admin/reports/{s.month}?issuer=gyeyang")
    assert below.status_code == 200
    assert shown(below.text, "payments") == f"{s.payments(s.month, {'gyeyang'}):,}원"
    operator = web_as(sqlite_engine, "operator", api)
    whole = operator.get(f"/admin/reports/{s.month}")
    assert shown(whole.text, "payments") == f"{s.payments(s.month):,}원"

    assert web_as(sqlite_engine, "kim", api).get(f"/admin/reports/{s.month}").status_code == 403
    stranger = Web(api).get(f"/admin/reports/{s.month}")
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/login?next=/admin/reports/")


def test_the_month_picker_and_month_addresses(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    last = report.last_full_month(now())
    picker = admin.get("/admin/reports")
    assert picker.status_code == 200
    assert f'id="f-month" value="{last}"' in picker.text
    assert f'href="/admin/reports/{last}"' in picker.text
    assert 'aria-current="page" class="current">보고서<' in picker.text
    picked = admin.get(f"/admin/reports?month={last}")
    assert picked.status_code == 303 and picked.headers["location"] == f"/admin/reports/{last}"
    operator = web_as(sqlite_engine, "operator", api)
    chosen = operator.get(f"/admin/reports?month={last}&issuer=gyeyang")
    assert chosen.headers["location"] == f"/admin/reports/{last}?issuer=gyeyang"
    assert admin.get("/admin/reports?month=2026-13").status_code == 422
    future = report.next_month(kst_month(now()))
    for bad in ("2026-13", "1999-12", "october", future):
        assert admin.get(f"/admin/reports/{bad}").status_code == 404, bad
        assert admin.get(f"/admin/reports/{bad}.html").status_code == 404, bad
    empty = admin.get(f"/admin/reports/{last}")  # a month without payments: zeros, no error
    assert empty.status_code == 200 and shown(empty.text, "payments") == "0원"

    admin.get("/lang/en?back=/admin/reports")
    english = admin.get(f"/admin/reports/{last}")
    assert "Monthly report" in english.text and "Key figures" in english.text


def test_the_command_line_writes_the_report_file(engine: Engine, tmp_path: Path) -> None:
    api = Api(engine, city())
    s = tell(api)
    out = report.write_report(engine, "gyeyang", s.month, tmp_path / "gyeyang.html")
    assert out == tmp_path / "gyeyang.html"
    text = out.read_text(encoding="utf-8")
    assert shown(text, "payments") == f"{s.payments(s.month, {'gyeyang'}):,}원"
    assert not EXTERNAL.search(text) and "<script" not in text
    assert not list(tmp_path.glob("*.part"))

    url = engine.url.render_as_string(hide_password=False)
    english = report.write_report(url, None, s.month, tmp_path / "platform.html", lang="en")
    text = english.read_text(encoding="utf-8")
    assert 'lang="en"' in text and "Monthly report" in text and "Whole platform" in text
    assert shown(text, "payments") == f"{s.payments(s.month):,}원"

    with pytest.raises(errors.UnknownIssuer):
        report.write_report(engine, "nowhere", s.month, tmp_path / "x.html")
    with pytest.raises(errors.InvalidRequest):
        report.write_report(engine, "gyeyang", "2026-13", tmp_path / "x.html")
    with pytest.raises(errors.InvalidRequest):
        report.write_report(engine, "gyeyang", s.month, tmp_path / "x.html", lang="fr")
    assert not (tmp_path / "x.html").exists()


def test_month_arithmetic() -> None:
    assert report.previous_month("2026-01") == "2025-12"
    assert report.next_month("2025-12") == "2026-01"
    assert report.parse_month(" 2026-10 ") == "2026-10"
    with pytest.raises(errors.InvalidRequest):
        report.parse_month("2026-11", latest="2026-10")
    assert report._change(150, 100, "won") == 50.0
    assert report._change(150, 0, "won") is None
    assert report._change(250, 100, "bps") == 1.5  # percentage points


def test_the_cli_writes_the_monthly_report(sqlite_engine: Engine, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eum.cli import app as cli

    Platform(sqlite_engine).setup(GYEYANG_CITY)
    out = tmp_path / "gyeyang.html"
    url = str(sqlite_engine.url)
    runner = CliRunner()
    done = runner.invoke(
        cli,
        [
            "report",
            "monthly",
            "--month",
            "2020-03",
            "--issuer",
            "gyeyang",
            "--out",
            str(out),
            "--database",
            url,
        ],
    )
    assert done.exit_code == 0, done.output
    assert "<svg" in out.read_text(encoding="utf-8")
    bad = runner.invoke(cli, ["report", "monthly", "--month", "2020-3", "--out", str(out),
                              "--database", url])  # fmt: skip
    assert bad.exit_code == 2 and "month" in bad.output
