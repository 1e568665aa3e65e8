"""The rule page's "test this rule" box: POST /rules/<key>/test.

Pasted events show each match with its explanation (the page again without JavaScript, the
result fragment alone for htmx); bad lines are numbered and bad input is refused on the
page with nothing stored; stored events need EVENTS_READ and their read is audited with
counts only; the form carries a CSRF token and a POST without one is refused. Every test
runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from access_control import Actor, Permission, Role
from access_control.roles import ROLE_PERMISSIONS
from detection_rules.loading import RuleSource
from detection_rules.models import Detection
from detection_rules.service import import_rules
from ingest.batches import Batch
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = pytest.mark.one_backend

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
RULE_ID = "9d8e7f60-0000-4000-8000-000000000001"
ROOT = f"""title: Failed sign-in as root
id: {RULE_ID}
status: test
logsource: {{category: authentication}}
detection:
  selection:
    user.name: root
    event.outcome: failure
  condition: selection
level: high
"""
PATH = f"/rules/{RULE_ID}/test"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def analyst(app, client, clock, rollback_database):
    with rollback_database.unit_of_work() as session:
        sources = [RuleSource("root.yml", ROOT.encode())]
        import_rules(session, sources, actor=Actor(name="importeur"), now=NOW)
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return account


def sign_in_event(user: str, outcome: str = "failure") -> dict:
    return {
        "@timestamp": NOW.isoformat(),
        "event": {"category": ["authentication"], "outcome": outcome, "dataset": "system.auth"},
        "host": {"name": "vpn-01"},
        "user": {"name": user},
        "message": f"<b>{outcome}</b> for {user}",
    }


def pasted(*documents: dict) -> str:
    return "\n".join(json.dumps(document) for document in documents)


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def detections(database) -> int:
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Detection))


def test_pasted_events_show_each_match_with_its_explanation(client, analyst):
    events = pasted(sign_in_event("root"), sign_in_event("eve"), sign_in_event("root", "success"))

    response = post(client, PATH, {"source": "pasted", "events": events})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page  # without JavaScript: the whole page again, the text kept
    shown = text_of(response)
    assert "Events tested 3 Events matched 1" in shown
    assert (
        "Line 1 Time (UTC) 2026-01-01 09:00:00 Dataset system.auth Host vpn-01 User root" in shown
    )
    assert "selection user.name root root" in shown
    assert "selection event.outcome failure failure" in shown
    assert "&lt;b&gt;failure&lt;/b&gt; for root" in page  # event text is data, escaped
    assert 'aria-live="polite"' in page


def test_htmx_gets_the_result_alone(client, analyst):
    response = post(
        client, PATH, {"source": "pasted", "events": pasted(sign_in_event("root"))}, headers=HTMX
    )
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment
    assert '<dd id="trial-matched">1</dd>' in fragment


def test_a_bad_line_is_numbered_and_the_rest_is_tested(client, analyst, rollback_database):
    events = pasted(sign_in_event("root")) + "\n{oops\n" + pasted(sign_in_event("root"))
    response = post(client, PATH, {"source": "pasted", "events": events}, headers=HTMX)
    shown = text_of(response)
    assert "Events tested 2 Events matched 2 Not tested 1" in shown
    assert "Line 2 This line is not valid JSON." in shown
    assert detections(rollback_database) == 0  # a test stores nothing


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_too_many_events_are_refused_on_the_page(client, analyst, rollback_database, headers):
    events = pasted(*[sign_in_event("root")] * 201)
    response = post(client, PATH, {"source": "pasted", "events": events}, headers=headers)
    assert response.status_code == 400
    assert "Paste at most 200 events; these are 201." in text_of(response)
    assert detections(rollback_database) == 0


def test_the_newest_stored_events_are_tested_and_the_read_audited(
    client, analyst, rollback_database
):
    with rollback_database.unit_of_work() as session:
        batch = Batch(receiver="test", source="test", ingested=NOW)
        for number, user in enumerate(["root", "eve", "root"]):
            batch.add(sign_in_event(user), event_key=f"box-{number}", raw=str(number))
        batch.store(session)

    response = post(client, PATH, {"source": "stored", "count": "100"}, headers=HTMX)

    assert response.status_code == 200
    assert "Events tested 3 Events matched 2" in text_of(response)
    [entry] = [
        e for e in audit_entries(rollback_database, "event.read") if "detection_rule" in e.target
    ]
    assert (entry.actor, entry.target) == ("analist", f"detection_rule:{RULE_ID}")
    assert json.loads(entry.details) == {"trial": 1, "events": 3, "matched": 2}
    assert detections(rollback_database) == 0


def test_without_events_read_only_pasted_events_can_be_tested(
    client, analyst, rollback_database, monkeypatch
):
    reduced = ROLE_PERMISSIONS[Role.SOC_ANALYST] & ~Permission.EVENTS_READ
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.SOC_ANALYST, reduced)

    page = client.get(f"/rules/{RULE_ID}").get_data(as_text=True)
    assert 'value="stored"' not in page
    refused = post(client, PATH, {"source": "stored", "count": "100"})
    assert refused.status_code == 403
    assert audit_entries(rollback_database, "event.read") == []
    allowed = post(client, PATH, {"source": "pasted", "events": pasted(sign_in_event("root"))})
    assert allowed.status_code == 200


def test_a_test_without_a_csrf_token_is_refused(client, analyst, rollback_database):
    page = client.get(f"/rules/{RULE_ID}").get_data(as_text=True)
    [form] = [form for form in Page(page).forms if form.attributes.get("action") == PATH]
    assert form.attributes["hx-post"] == PATH
    assert 'name="csrf_token"' in page.split(f'action="{PATH}"', 1)[1].split("</form>", 1)[0]

    response = client.post(PATH, data={"source": "pasted", "events": pasted(sign_in_event("root"))})

    assert response.status_code == 400
    assert "Events tested" not in text_of(response)


def test_the_rule_page_with_a_result_needs_no_inline_script_or_style(client, analyst):
    response = post(client, PATH, {"source": "pasted", "events": pasted(sign_in_event("root"))})
    parsed = Page(response.get_data(as_text=True))
    assert inline_scripts(parsed) == []
    assert event_handlers(parsed) == []
    assert style_attributes(parsed) == []
