"""Trying a rule on events (detection_rules.service.trial): the console's "test this rule".

Pasted text is read without a database (JSON lines or one array, each bad line numbered,
bounds); a trial itself runs the registry's rule through the live engine, so those tests
import rules with the rule service and check the explanation, a correlation's base rules,
the newest stored events, and that nothing is stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access_control import Actor
from core import InvalidInput
from detection_rules.loading import RuleSource
from detection_rules.models import CorrelationState, Detection
from detection_rules.service import import_rules
from detection_rules.service import trial as trials
from ingest.batches import Batch

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
ROOT_ID = "3a5b0c1d-0000-4000-8000-000000000001"
ROOT = f"""title: Failed sign-in as root
id: {ROOT_ID}
name: root_failure
status: test
logsource: {{category: authentication}}
detection:
  selection:
    user.name: root
    event.outcome: failure
  condition: selection
level: high
"""
ADMIN_ID = "3a5b0c1d-0000-4000-8000-000000000002"
ADMIN = f"""title: Failed sign-in as admin
id: {ADMIN_ID}
name: admin_failure
status: test
logsource: {{category: authentication}}
detection:
  selection:
    user.name|startswith: adm
    event.outcome: failure
  condition: selection
level: medium
"""
BURST_ID = "3a5b0c1d-0000-4000-8000-000000000003"
BURST = f"""title: Failed privileged sign-ins
id: {BURST_ID}
status: test
correlation:
  type: event_count
  rules: [root_failure, admin_failure]
  group-by: [source.ip]
  timespan: 5m
  condition: {{gte: 5}}
level: high
"""


def sign_in(user: str, outcome: str = "failure", minute: int = 0) -> dict:
    return {
        "@timestamp": (NOW + timedelta(minutes=minute)).isoformat(),
        "event": {"category": ["authentication"], "outcome": outcome, "dataset": "system.auth"},
        "host": {"name": "web-01"},
        "user": {"name": user},
        "message": f"sign-in {outcome} for {user}",
    }


def lines(*documents: object) -> str:
    return "\n".join(json.dumps(document) for document in documents)


def load(session, *texts: str) -> None:
    sources = [RuleSource(f"rule{number}.yml", text.encode()) for number, text in enumerate(texts)]
    report = import_rules(session, sources, actor=Actor(name="importeur"), now=NOW)
    assert not report.has_errors, report.problems


def stored_rows(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Detection)),
        session.scalar(select(func.count()).select_from(CorrelationState)),
    )


# Reading pasted events (no database) -----------------------------------------------------


def test_a_bad_line_is_reported_with_its_number_and_the_others_are_read():
    text = lines(sign_in("root")) + "\n\n{not json\n[1, 2]\n" + lines(sign_in("eve"))
    pasted = trials.read_pasted_events(text)
    assert [number for number, _document in pasted.documents] == [1, 5]
    assert [(bad.position, bad.number) for bad in pasted.bad] == [("line", 3), ("line", 4)]
    assert pasted.bad[0].reason == "This line is not valid JSON."
    assert pasted.bad[1].reason == "An event is a JSON object: {…}."


def test_a_json_array_is_read_item_by_item_and_a_broken_one_names_its_line():
    pasted = trials.read_pasted_events(json.dumps([sign_in("root"), "text", sign_in("eve")]))
    assert [number for number, _document in pasted.documents] == [1, 3]
    assert [(bad.position, bad.number) for bad in pasted.bad] == [("item", 2)]
    broken = trials.read_pasted_events('[\n{"user": {"name": "root"}},\n{oops}\n]')
    assert broken.documents == ()
    assert [(bad.position, bad.number) for bad in broken.bad] == [("line", 3)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  \n ", "Paste one or more events (JSON) to test the rule on."),
        (lines(*[{"n": number} for number in range(201)]), "Paste at most %(limit)d events;"),
        (json.dumps([{"n": number} for number in range(201)]), "Paste at most %(limit)d events;"),
        ('{"message": "' + "x" * (1024 * 1024) + '"}', "Paste at most %(limit)d MiB of events."),
    ],
    ids=["empty", "too-many-lines", "too-many-items", "too-large"],
)
def test_pasted_text_out_of_bounds_is_refused_clearly(text, message):
    with pytest.raises(InvalidInput) as refused:
        trials.read_pasted_events(text)
    assert refused.value.template.startswith(message)
    assert refused.value.field == "events"


# Trials ----------------------------------------------------------------------------------


def test_a_match_is_explained_by_selection_field_pattern_and_value(db_session):
    load(db_session, ROOT)
    result = trials.try_rule_on_pasted(
        db_session, ROOT_ID, lines(sign_in("eve"), sign_in("root"), sign_in("root", "success"))
    )
    assert (result.tested, result.matched, result.is_correlation) == (3, 1, False)
    [match] = result.matches
    assert (match.event.number, match.event.user, match.event.host) == (2, "root", "web-01")
    assert match.event.dataset == "system.auth"
    assert match.event.time == NOW
    fields = {
        (selection.selection, hit.field, hit.pattern, hit.value)
        for selection in match.explanation.selections
        for hit in selection.fields
    }
    assert ("selection", "user.name", "root", "root") in fields
    assert ("selection", "event.outcome", "failure", "failure") in fields


def test_events_the_rule_does_not_match_are_tested_and_not_shown(db_session):
    load(db_session, ROOT)
    result = trials.try_rule_on_pasted(
        db_session, ROOT_ID, lines(sign_in("eve"), sign_in("root", "success"))
    )
    assert (result.tested, result.matched, result.matches) == (2, 0, ())


def test_bad_lines_are_reported_and_the_good_ones_tested(db_session):
    load(db_session, ROOT)
    result = trials.try_rule_on_pasted(db_session, ROOT_ID, "{oops\n" + lines(sign_in("root")))
    assert (result.tested, result.matched) == (1, 1)
    assert [(bad.position, bad.number) for bad in result.bad] == [("line", 1)]


def test_at_most_fifty_matches_are_kept_and_all_are_counted(db_session):
    load(db_session, ROOT)
    result = trials.try_rule_on_pasted(db_session, ROOT_ID, lines(*[sign_in("root")] * 60))
    assert (result.tested, result.matched, len(result.matches)) == (60, 60, 50)


def test_a_correlation_is_tried_through_its_base_rules(db_session):
    load(db_session, ROOT, ADMIN, BURST)
    events = lines(sign_in("root"), sign_in("admin"), sign_in("eve"))
    result = trials.try_rule_on_pasted(db_session, BURST_ID, events)
    assert result.is_correlation
    assert set(result.base_rules) == {ROOT_ID, ADMIN_ID}
    assert (result.tested, result.matched) == (3, 2)
    assert [match.rule_key for match in result.matches] == [ROOT_ID, ADMIN_ID]


def test_the_newest_stored_events_are_tested(db_session):
    load(db_session, ROOT)
    batch = Batch(receiver="test", source="test", ingested=NOW)
    for number, document in enumerate([sign_in("root"), sign_in("eve"), sign_in("root")]):
        batch.add(document, event_key=f"trial-{number}", raw=str(number))
    batch.store(db_session)
    db_session.flush()
    result = trials.try_rule_on_recent(db_session, ROOT_ID, count=100)
    assert (result.source, result.tested, result.matched) == ("stored", 3, 2)
    assert all(match.event.position == "event" for match in result.matches)
    assert result.matches[0].event.message == "sign-in failure for root"
    with pytest.raises(InvalidInput):
        trials.try_rule_on_recent(db_session, ROOT_ID, count=5)


def test_a_trial_stores_nothing(db_session):
    load(db_session, ROOT, ADMIN, BURST)
    before = stored_rows(db_session)
    events = lines(*[sign_in("root", minute=minute) for minute in range(10)])
    trials.try_rule_on_pasted(db_session, BURST_ID, events)
    trials.try_rule_on_pasted(db_session, ROOT_ID, events)
    db_session.flush()
    assert stored_rows(db_session) == before
    assert not db_session.new
    assert not db_session.dirty
