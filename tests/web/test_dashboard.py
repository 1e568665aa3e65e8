"""The dashboard: its panels draw SVG charts with a table beside each when there is data, say
what to do next when there is none, follow the role's permissions (no staff-safety panel
without REPORTS_READ), refresh through a fragment route that needs a sign-in, and audit the
read of the staff-safety figures. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from staff_safety.models import ReportTombstone
from storage.events import EventRecord, append_events
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.incident_factories import make_alert, make_incident

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = [pytest.mark.one_backend, pytest.mark.usefixtures("english")]

CHART = '<svg class="chart-svg"'


@pytest.fixture
def busy(rollback_database, clock):
    """An alert, an open incident, an event and a (purged) aggression report, all recent."""
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        make_alert(session, rule_key="brute-force", severity="critical", created_at=now)
        make_incident(session, state="triage", created_at=now - timedelta(days=2))
        make_incident(session, type="staff_safety", state="reported", created_at=now)
        record = EventRecord(
            source="syslog", event_key="1", timestamp=now, ingested=now, document="{}"
        )
        append_events(session, [record])
        session.add(
            ReportTombstone(
                report_id=4242,
                category="verbal_abuse",
                location="counter",
                month=now.strftime("%Y-%m"),
                purged_at=now,
                purged_by="system",
                reason="retention",
            )
        )


def test_an_officer_sees_every_panel_with_its_chart_and_table(client, officer, busy):
    page = client.get("/dashboard").get_data(as_text=True)

    for chart in ("chart-alerts", "chart-incidents", "chart-ingest", "chart-categories"):
        assert f'aria-labelledby="{chart}-title"' in page
    assert page.count(CHART) >= 6
    assert "Show the figures as a table" in page
    assert 'href="/rules/brute-force"' in page  # the top rule links to its page
    assert 'href="/alerts?severity=critical"' in page
    assert 'href="/ingest/dead-letters"' in page
    assert re.search(r"<strong>1</strong> alerts in the last 30 days", page)
    assert '<th scope="row">received</th>' in page  # a staff-safety state in its own words


def test_the_page_polls_its_panels_and_the_fragment_answers_them_alone(client, officer, busy):
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'hx-get="/dashboard/panels"' in page
    assert 'hx-trigger="every 30s"' in page
    assert "aria-live" not in page.split('id="dashboard-panels"')[1].split(">")[0]  # not re-read

    response = client.get("/dashboard/panels", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment
    assert 'id="panel-alerts"' in fragment
    assert fragment.count(CHART) == page.count(CHART)


def test_an_empty_database_shows_what_to_do_next_instead_of_empty_charts(client, officer):
    page = client.get("/dashboard").get_data(as_text=True)

    assert CHART not in page
    assert "No alerts in the last 30 days" in page
    assert "No open incidents. Open one from an alert" in page
    assert "No events in the last 24 hours. Send logs" in page
    assert "wachter demo" in page
    assert "No aggression reports in the last 6 months" in page


def test_an_analyst_without_reports_read_sees_no_staff_safety_panel(
    app, client, clock, busy, rollback_database
):
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)

    page = client.get("/dashboard").get_data(as_text=True)

    assert 'id="panel-alerts"' in page
    assert 'id="panel-reports"' not in page
    assert 'id="panel-rates"' not in page
    assert audit_entries(rollback_database, "staff_statistics.read") == []


def test_reading_the_staff_safety_figures_is_audited_once_per_page_view(
    client, officer, busy, rollback_database
):
    client.get("/dashboard")
    client.get("/dashboard/panels")  # the refresh shows the same figures again
    client.get("/dashboard/panels")

    entries = audit_entries(rollback_database, "staff_statistics.read")
    assert [(entry.actor, entry.target) for entry in entries] == [("officier", "staff_statistics")]


def test_a_role_without_any_panel_is_told_so(app, client, clock):
    sign_in(client, enrolled_user(app, role="auditor"), clock)

    page = client.get("/dashboard").get_data(as_text=True)

    assert "Nothing to show for your role" in page
    assert CHART not in page


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/panels"])
def test_the_dashboard_and_its_fragment_need_a_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def test_staff_without_the_console_are_refused_the_fragment(app, client, clock):
    sign_in(client, enrolled_user(app, role="staff"), clock)
    assert client.get("/dashboard/panels").status_code == 403


def test_viewers_share_figures_and_old_ones_are_renewed_behind_the_scenes(
    app, client, officer, busy, clock, rollback_database
):
    assert re.search(
        r"<strong>1</strong> alerts in the last 30 days", client.get("/dashboard").text
    )
    with rollback_database.unit_of_work() as session:
        make_alert(session, rule_key="brute-force", severity="high", created_at=clock.now())
    clock.advance(timedelta(seconds=9))
    fresh = client.get("/dashboard/panels").text
    assert re.search(r"<strong>1</strong> alerts in the last 30 days", fresh)  # shared
    assert "wachter.dashboard_refresher" not in app.extensions

    clock.advance(timedelta(seconds=1))  # 10 s old: shown once more, renewed in a thread
    stale = client.get("/dashboard/panels").text
    assert re.search(r"<strong>1</strong> alerts in the last 30 days", stale)
    app.extensions["wachter.dashboard_refresher"].join(timeout=30)
    [renewed] = app.extensions["wachter.dashboard_figures"].values()
    assert renewed.now == clock.now()

    clock.advance(timedelta(seconds=30))  # as old as the refresh interval: computed for the view
    again = client.get("/dashboard/panels").text
    assert re.search(r"<strong>2</strong> alerts in the last 30 days", again)


def test_mtta_of_minutes_and_mttr_of_days_are_drawn_on_scales_of_their_own(
    client, officer, clock, rollback_database
):
    now = clock.now()
    opened = now - timedelta(days=3)
    with rollback_database.unit_of_work() as session:
        make_incident(
            session,
            state="closed",
            resolution="resolved",
            created_at=opened,
            acknowledged_at=opened + timedelta(minutes=6),
            closed_at=now,
        )

    page = client.get("/dashboard").text

    mtta, mttr = (_chart(page, name) for name in ("chart-mtta", "chart-mttr"))
    assert ">0.1</text>" in mtta  # six minutes at the top of its own axis
    assert ">80</text>" in mttr  # 72 hours
    assert 'class="line-0"' in mtta
    assert 'class="line-1"' in mttr
    assert "Mean time to acknowledge (hours)" in mtta
    assert "Mean time to resolve (hours)" in mttr


def test_acknowledged_but_none_closed_says_so_instead_of_drawing_empty_axes(
    client, officer, clock, rollback_database
):
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        make_incident(
            session,
            state="investigating",
            created_at=now - timedelta(hours=5),
            acknowledged_at=now - timedelta(hours=4),
        )

    page = client.get("/dashboard").text

    assert ">1</text>" in _chart(page, "chart-mtta")  # an hour: its chart is drawn
    assert 'aria-labelledby="chart-mttr-caption"' not in page
    assert "No incident was closed in the last 6 months." in page
    assert "No incident was acknowledged in the last 6 months." not in page


def test_past_seven_categories_the_smallest_are_drawn_together_as_other(
    client, officer, clock, rollback_database
):
    categories = [
        "verbal_abuse",
        "threat_in_person",
        "threat_phone",
        "threat_letter",
        "threat_email",
        "threat_online",
        "intimidation",
        "doxing",
    ]
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        for number, category in enumerate(categories):
            for copy in range(2 if category == "verbal_abuse" else 1):
                session.add(
                    ReportTombstone(
                        report_id=5000 + 10 * number + copy,
                        category=category,
                        location="counter",
                        month=now.strftime("%Y-%m"),
                        purged_at=now,
                        purged_by="system",
                        reason="retention",
                    )
                )

    chart = _chart(client.get("/dashboard").text, "chart-categories")

    legend = chart.split('<ul class="chart-legend">')[1].split("</ul>")[0]
    assert legend.count("<li>") == 7
    assert "verbal abuse" in legend
    assert "other categories" in legend
    assert "doxing" not in legend  # one of the two smallest, counted in "other"
    assert '<th scope="col">other categories</th>' in chart  # the table says the same


def _chart(page: str, chart_id: str) -> str:
    """The <figure> of one chart, its table included."""
    start = page.index(f'aria-labelledby="{chart_id}-caption"')
    return page[start : page.index("</figure>", start)]
