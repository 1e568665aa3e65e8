"""Reading playbook YAML: the shipped playbooks are valid, and a bad file is refused with
a reason naming the file (no database)."""

from __future__ import annotations

import pytest

from core import InvalidInput
from incidents.cases.models import IncidentType
from incidents.cases.playbooks import default_key, default_playbook_sources, parse_playbook

GOOD = b"""key: phishing
incident_type: cyber
title: Phishing
tasks:
  - key: block-sender
    title: Block the sender
    due_after_minutes: 30
  - key: warn-staff
    title: Warn staff
    description: A message on the intranet.
"""


def test_a_playbook_is_read_with_its_tasks():
    playbook = parse_playbook(GOOD, source="phishing.yml")
    assert (playbook.key, playbook.incident_type, playbook.title) == (
        "phishing",
        IncidentType.CYBER,
        "Phishing",
    )
    assert [(task.key, task.title, task.due_after_minutes) for task in playbook.tasks] == [
        ("block-sender", "Block the sender", 30),
        ("warn-staff", "Warn staff", None),
    ]
    assert playbook.tasks[1].description == "A message on the intranet."


def test_wachter_ships_one_valid_default_playbook_per_type():
    parsed = [parse_playbook(text, source=name) for name, text in default_playbook_sources()]
    assert {playbook.key for playbook in parsed} == {default_key(kind) for kind in IncidentType}
    assert all(playbook.key == default_key(playbook.incident_type) for playbook in parsed)


def test_the_cyber_playbook_follows_the_nist_phases():
    [cyber] = [
        parse_playbook(text, source=name)
        for name, text in default_playbook_sources()
        if name.endswith("cyber.yml")
    ]
    titles = [task.title for task in cyber.tasks]
    for expected in (  # in Dutch, the organisation's working language (ADR 0028)
        "Omvang vaststellen",
        "Getroffen hosts isoleren",
        "Gecompromitteerde inloggegevens vervangen",
        "Bewijsmateriaal veiligstellen",
        "Evaluatie (lessons learned)",
    ):
        assert expected in titles
    assert all(task.due_after_minutes for task in cyber.tasks)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"key: [", "line"),
        (b"- a list\n", "a playbook is a mapping"),
        (GOOD + b"owner: me\n", "unknown field 'owner'"),
        (GOOD.replace(b"key: phishing", b"key: Phishing Mail"), "key:"),
        (GOOD.replace(b"incident_type: cyber", b"incident_type: flood"), "incident_type"),
        (GOOD.replace(b"title: Phishing\n", b"title: ''\n"), "title"),
        (b"key: x\nincident_type: cyber\ntitle: X\ntasks: []\n", "tasks"),
        (GOOD.replace(b"due_after_minutes: 30", b"due_after_minutes: -5"), "due_after_minutes"),
        (GOOD.replace(b"due_after_minutes: 30", b"due_after_minutes: true"), "due_after_minutes"),
        (GOOD.replace(b"key: warn-staff", b"key: block-sender"), "a key of its own"),
        (GOOD.replace(b"title: Warn staff", b"owner: x"), "task 2: unknown field"),
        (b"a: &x [1, 2]\nb: *x\n", "aliases"),
        (b"\xff\xfe", "UTF-8"),
        (b"key: x\n" + b"#" * 300_000, "larger than"),
    ],
)
def test_a_bad_playbook_is_refused_with_its_reason(text, problem):
    with pytest.raises(InvalidInput) as refused:
        parse_playbook(text, source="uploaded.yml")
    assert refused.value.field == "playbook"
    assert refused.value.message.startswith("uploaded.yml is not a playbook: ")
    assert problem in refused.value.message
