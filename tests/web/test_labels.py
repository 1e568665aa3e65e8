"""The incident side's labels: each closed value in the reader's language, an unknown value
as stored with its hidden characters marked, a missing resolution a dash."""

from __future__ import annotations

import pytest

from incidents.cases.states import State
from web.labels import (
    entity_kind_label,
    incident_title,
    resolution_label,
    state_label,
    timeline_label,
)

pytestmark = pytest.mark.one_backend  # no queries


@pytest.mark.parametrize(("language", "expected"), [("nl", "afgesloten"), ("en", "closed")])
def test_a_known_value_reads_in_the_readers_language(app, language, expected):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert state_label(State.CLOSED) == expected
        assert state_label("closed") == expected


def test_entity_kinds_and_timeline_kinds_read_in_dutch(app):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        assert entity_kind_label("ip") == "IP-adres"
        assert timeline_label("created") != "opened"


def test_an_unknown_value_is_shown_as_stored_with_hidden_characters_marked(app):
    with app.test_request_context():
        shown = str(state_label("weird\u202e<b>"))
    assert "&lt;b&gt;" in shown
    assert 'title="U+202E"' in shown


def test_no_resolution_is_a_dash(app):
    with app.test_request_context():
        assert resolution_label(None) == "\N{EM DASH}"
        assert resolution_label("") == "\N{EM DASH}"


@pytest.mark.parametrize(
    ("language", "state", "expected"),
    [
        ("nl", "reported", "ontvangen"),
        ("en", "reported", "received"),
        ("nl", "police_report_decision", "besluit over aangifte"),
    ],
)
def test_the_staff_safety_phases_are_states_in_the_readers_language(app, language, state, expected):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert state_label(state) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nl", "MEL-2026-00030 verbale agressie"), ("en", "MEL-2026-00030 verbal abuse")],
)
def test_a_staff_safety_incident_title_names_its_category_in_the_readers_language(
    app, language, expected
):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert str(incident_title("MEL-2026-00030 verbal_abuse", "staff_safety")) == expected


@pytest.mark.parametrize(
    ("title", "incident_type"),
    [
        ("Brute force verbal_abuse", "cyber"),  # only the staff-safety machine's titles
        ("MEL-2026-00030 verbale agressie bij de balie", "staff_safety"),  # edited by hand
        ("verbal_abuse", "staff_safety"),  # no number before it
    ],
)
def test_any_other_title_is_shown_as_it_stands(app, title, incident_type):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        assert str(incident_title(title, incident_type)) == title


def test_a_title_keeps_its_hidden_characters_marked(app):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        shown = str(incident_title("MEL-1\u202e<b> verbal_abuse", "staff_safety"))
    assert "&lt;b&gt;" in shown
    assert 'title="U+202E"' in shown
    assert shown.endswith(" verbale agressie")
