"""The dashboard with the demo sample: its SVG charts are drawn (marks with a size on screen),
their table equivalents hold the figures, and htmx polls the panels fragment and swaps it in
without reloading the page, keeping an opened table open and the focus where it was
(Playwright's clock runs the 30-second poll at once)."""

from __future__ import annotations

from playwright.sync_api import expect

# rects with a width and height on screen; a zero-value segment has none and does not count
DRAWN_MARKS = """charts => charts.map(chart =>
    Array.from(chart.querySelectorAll("rect, path, polyline")).filter(mark => {
        const box = mark.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
    }).length)"""
TABLE_TOTAL = """tables => tables.flatMap(table => Array.from(table.querySelectorAll("tbody td")))
    .map(cell => parseFloat(cell.textContent.replace(",", ".")))
    .filter(value => !Number.isNaN(value))
    .reduce((sum, value) => sum + value, 0)"""


def test_the_dashboard_draws_its_charts_with_data_and_refreshes_live(shared_server, open_page):
    page = open_page()
    page.clock.install()  # htmx's "every 30s" poll then runs when the test moves the clock
    page.goto(shared_server.url("/dashboard"))
    charts = page.locator("#dashboard-panels svg.chart-svg")
    assert charts.count() >= 4
    marks = charts.evaluate_all(DRAWN_MARKS)
    assert sum(1 for count in marks if count > 0) >= 4, marks
    assert page.locator("#dashboard-panels details.chart-table table").count() == charts.count()
    assert page.locator("details.chart-table table").evaluate_all(TABLE_TOTAL) > 0

    table = page.locator("#dashboard-panels details.chart-table[id]").first
    table_id = table.get_attribute("id")
    table.locator("summary").click()  # the reader opens a table: it has the focus
    page.evaluate("document.querySelector('#dashboard-panels > *').dataset.stale = 'yes'")
    with page.expect_response("**/dashboard/panels") as polled:
        page.clock.run_for(31_000)
    assert polled.value.ok
    assert polled.value.request.headers.get("hx-request") == "true"
    expect(page.locator("#dashboard-panels [data-stale]")).to_have_count(0)  # swapped
    assert page.locator("#dashboard-panels svg.chart-svg").count() == charts.count()
    assert page.url.endswith("/dashboard")  # no reload, no navigation
    # the refresh keeps what the reader was doing: the table open, the focus on its summary
    expect(page.locator(f"#{table_id}")).to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.parentElement.id") == table_id
