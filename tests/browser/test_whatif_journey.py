"""An issuer admin prices a draft rule in the browser: today's recorded payments replayed
under a 5% launch rule with a budget of its own, next to what the live 1% rule paid."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from eum.clock import kst_day, now
from tests.browser.conftest import Server, screenshot, sign_in


def test_an_admin_runs_a_what_if_and_reads_the_difference(server: Server, desk: Page) -> None:
    assert server.api("kim", "POST", "/charges", {"amount": 50_000}).status_code == 201
    for _ in range(2):
        paid = server.api("kim", "POST", "/payments", {"merchant": "m-mart", "amount": 10_000})
        assert paid.status_code == 201, paid.text
        assert paid.json()["cashback"]["gyeyang-launch"] == 100  # 1% live
    today = kst_day(now()).isoformat()
    sign_in(desk, "gyeyang-admin")
    desk.goto("/admin/whatif")
    expect(desk.locator("#f-draft")).to_contain_text("gyeyang-launch")
    desk.fill("#f-from", today)
    desk.fill("#f-to", today)
    desk.fill(
        "#f-draft",
        "name: 출시 5%\n"
        "budgets:\n  - {id: try-5, owner: gyeyang, amount: 100000}\n"
        "rules:\n"
        "  - {id: gyeyang-launch, kind: cashback, owner: gyeyang, budget: try-5,"
        " rate_bps: 500, monthly_cap: 300000}\n",
    )
    desk.click("#run-whatif")
    expect(desk.locator("#whatif-status")).to_have_attribute("data-status", "done", timeout=30_000)
    row = desk.locator('tr[data-rule="gyeyang-launch"]')
    expect(row.locator('[data-col="paid"]')).to_have_text("1,000원")  # 5% of 2 x 10,000
    expect(row.locator('[data-col="live"]')).to_have_text("200원")
    expect(row.locator('[data-col="difference"]')).to_have_text("+800원")
    expect(desk.locator('tr[data-rule="incheon-base"]')).to_have_count(0)  # not its rule
    expect(desk.locator('tr[data-budget="try-5"] [data-col="ran-out"]')).to_have_text("—")
    screenshot(desk, "admin-whatif")
