"""Hit and false-positive counts on the rule pages, and switching a rule from the list.

The list shows each rule's detections of the last 30 days and its alerts closed as false
positive (with the share of its closed alerts); the rule page the same. A switch on the
list answers an htmx request with the row alone (and a message for the polite status
line), and a plain POST with a redirect back to the list; both audited, switching off
still behind a fresh confirmation. The import form is wired for htmx with a progress bar,
and its refusal reaches the region htmx swaps. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from detection_rules.models import DetectionRule
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, step_up
from tests.support.incident_factories import make_alert, make_detection, make_rule
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = pytest.mark.one_backend

HTMX = {"HX-Request": "true"}


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return account


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_of(page: str, title: str) -> str:
    [row] = [row for row in re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL) if title in row]
    return text_of(row)


def enabled(database, key: str) -> bool:
    with database.unit_of_work() as session:
        rule = session.get(DetectionRule, key)
        assert rule is not None
        return rule.enabled


def test_the_list_and_the_rule_page_count_detections_and_false_positives(
    client, officer, clock, rollback_database
):
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        make_rule(session, "noisy", title="Noisy rule")
        make_rule(session, "quiet", title="Quiet rule")
        for days in (0, 1, 29):
            make_detection(session, rule_key="noisy", detected_at=now - timedelta(days=days))
        make_detection(session, rule_key="noisy", detected_at=now - timedelta(days=31))
        for resolution in ("false_positive", "false_positive", "true_positive", "benign"):
            make_alert(session, rule_key="noisy", status="closed", resolution=resolution)
        make_alert(session, rule_key="noisy")  # open: not part of the feedback

    page = client.get("/rules").get_data(as_text=True)

    assert row_of(page, "Noisy rule").endswith("3 2 of 4 closed (50%)")
    assert row_of(page, "Quiet rule").endswith("imported")  # nothing to count: empty cells
    shown = text_of(client.get("/rules/noisy").get_data(as_text=True))
    assert "Detections (last 30 days) 3" in shown
    assert "2 of 4 closed alerts (benign: 1) · 50% false positive" in shown


def test_a_switch_on_the_list_with_htmx_answers_with_the_row(
    client, officer, clock, rollback_database
):
    with rollback_database.unit_of_work() as session:
        make_rule(session, "sleepy", title="Sleepy rule", enabled=False)
    listing = client.get("/rules").get_data(as_text=True)
    assert 'hx-post="/rules/sleepy/enable"' in listing

    response = post(client, "/rules/sleepy/enable", {"next": "list"}, headers=HTMX)

    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment
    assert row_of(fragment, "Sleepy rule").startswith(
        "Sleepy rule sleepy high test single event on"
    )
    assert 'hx-post="/rules/sleepy/disable"' in fragment
    assert 'id="rules-status"' in fragment
    assert 'hx-swap-oob="true"' in fragment
    assert "is on: it is applied to new events" in text_of(fragment)
    assert enabled(rollback_database, "sleepy") is True
    assert [
        entry.target for entry in audit_entries(rollback_database, "detection_rule.enabled")
    ] == ["detection_rule:sleepy"]


def test_a_switch_on_the_list_without_javascript_returns_to_the_list(
    client, officer, clock, rollback_database
):
    with rollback_database.unit_of_work() as session:
        make_rule(session, "busy", title="Busy rule")
    clock.advance(timedelta(minutes=11))  # the sign-in is no longer a fresh confirmation

    refused = post(client, "/rules/busy/disable", {"next": "list"}, headers=HTMX)
    assert refused.status_code == 303  # the page's script follows it to the confirmation
    assert urlsplit(refused.headers["Location"]).path == "/account/confirm"
    assert enabled(rollback_database, "busy") is True

    step_up(client, officer, clock)
    response = post(client, "/rules/busy/disable", {"next": "list"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/rules"
    assert enabled(rollback_database, "busy") is False
    assert "is off" in text_of(client.get("/rules").get_data(as_text=True))
    assert len(audit_entries(rollback_database, "detection_rule.disabled")) == 1


def test_the_list_and_its_rows_need_no_inline_script_or_style(client, officer, rollback_database):
    with rollback_database.unit_of_work() as session:
        make_rule(session, "styled", title="Styled rule", enabled=False)
    listing = client.get("/rules").get_data(as_text=True)
    row = post(client, "/rules/styled/enable", {"next": "list"}, headers=HTMX)
    for markup in (listing, row.get_data(as_text=True)):
        parsed = Page(markup)
        assert inline_scripts(parsed) == []
        assert event_handlers(parsed) == []
        assert style_attributes(parsed) == []
    assert '<script src="/static/js/rules-import.js" defer></script>' in listing


def test_the_import_posts_through_htmx_with_progress_and_shows_a_refusal_in_its_region(
    client, officer
):
    form = client.get("/rules/import").get_data(as_text=True)
    assert 'hx-post="/rules/import"' in form
    assert 'hx-select="#import-report-content"' in form
    assert '<progress id="import-progress" max="100" value="0"></progress>' in form

    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    upload = {"csrf_token": token, "rules": [(io.BytesIO(b"x"), "notes.txt")]}
    response = client.post("/rules/import", data=upload, headers=HTMX)

    assert response.status_code == 400
    region = response.get_data(as_text=True).split('id="import-report-content"', 1)[1]
    assert "notes.txt is not a .yml, .yaml or .zip file." in text_of(region.split("</div>", 1)[0])
