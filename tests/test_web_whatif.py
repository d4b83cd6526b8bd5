"""The what-if from the admin pages: a district admin starts from its own live rules,
runs a draft over a past month and reads the same figures the command line gives; it
cannot draft other issuers' rules nor read another admin's run."""

from __future__ import annotations

import time
from typing import Any

import yaml
from sqlalchemy import Engine

from eum.whatif.replay import draft_from_doc
from eum.whatif.run import whatif
from tests.api_support import Api
from tests.test_whatif import APRIL, _city, _month_of_payments
from tests.web_support import Web, web_as


def _finished(admin: Web, url: str) -> Any:
    for _ in range(300):
        page = admin.get(url)
        assert page.status_code == 200, page.text
        if 'data-status="running"' not in page.text:
            return page
        time.sleep(0.1)
    raise AssertionError("the what-if run did not end")


def _textarea(html: str) -> str:
    import html as html_lib

    inner = html.split('id="f-draft"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    return html_lib.unescape(inner)


def test_a_district_admin_prices_a_draft_in_the_browser(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine, _city(budget=1_000_000))
    _month_of_payments(api.platform)
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    form = admin.get("/admin/whatif")
    assert form.status_code == 200
    doc = yaml.safe_load(_textarea(form.text))
    assert [r["id"] for r in doc["rules"]] == ["gyeyang-launch", "gyeyang-fee"]  # its own only
    doc["rules"][0]["rate_bps"] = 300
    doc["budgets"] = [{"id": "try", "owner": "gyeyang", "amount": 2_500}]
    doc["rules"][0]["budget"] = "try"
    started = admin.post(
        "/admin/whatif",
        {"from": "2020-04-01", "to": "2020-04-30", "draft": yaml.safe_dump(doc)},
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    page = _finished(admin, url)
    assert 'data-status="done"' in page.text, page.text

    # the same figures as the command line's run, restricted to Gyeyang's rules
    expected = whatif(sqlite_engine, draft_from_doc(doc), APRIL)
    rows = {r["rule"]: r for r in expected["rules"]}
    launch = rows["gyeyang-launch"]
    assert launch["paid"] == 2_500  # 3% of the same volume, cut by the 2,500원 budget
    row = page.text.split('data-rule="gyeyang-launch"', 1)[1].split("</tr>", 1)[0]
    assert f'data-col="paid">{launch["paid"]:,}원' in row
    assert f'data-col="live">{launch["live"]["paid"]:,}원' in row
    assert 'data-rule="incheon-base"' not in page.text  # another issuer's cashback
    budget = page.text.split('data-budget="try"', 1)[1].split("</tr>", 1)[0]
    ran_out = next(b for b in expected["budgets"] if b["budget"] == "try")["ran_out"]
    assert ran_out is not None and ran_out in budget
    assert admin.get(url + ".json").json()["rules"][0]["rule"] == "gyeyang-launch"
    # another admin cannot read it
    other = web_as(sqlite_engine, "bupyeong-admin", api)
    assert other.get(url).status_code == 404
    assert other.get(url + ".json").status_code == 404


def test_a_draft_outside_the_admin_s_area_or_malformed_is_refused(sqlite_engine: Engine) -> None:
    api = Api(sqlite_engine, _city())
    admin = web_as(sqlite_engine, "gyeyang-admin", api)
    admin.get("/admin/whatif")

    def start(draft: dict[str, Any] | str, frm: str = "2020-04-01", to: str = "2020-04-30") -> Any:
        text = draft if isinstance(draft, str) else yaml.safe_dump(draft)
        return admin.post("/admin/whatif", {"from": frm, "to": to, "draft": text})

    theirs = {"rules": [{"id": "x", "kind": "cashback", "owner": "incheon", "rate_bps": 100}]}
    refused = start(theirs)
    assert refused.status_code == 422 and "rules[0].owner" in refused.text
    borrowed = {"rules": [{"id": "x", "kind": "cashback", "owner": "gyeyang", "rate_bps": 100,
                           "budget": "incheon-cashback"}]}  # fmt: skip
    assert "rules[0].budget" in start(borrowed).text
    assert "rules[0]" in start("rules: [{id: x, kind: cashback}]").text
    ok = {"rules": [{"id": "x", "kind": "cashback", "owner": "gyeyang", "rate_bps": 100}]}
    assert 'id="err-to"' in start(ok, "2020-04-30", "2020-04-01").text
    assert 'id="err-from"' in start(ok, "2020-4-1").text
    assert 'id="err-to"' in start(ok, "2020-01-01", "2020-12-31").text  # over 92 days
    assert admin.get("/admin/whatif/nope").status_code == 404
    citizen = web_as(sqlite_engine, "kim", api)
    assert citizen.get("/admin/whatif").status_code == 403
