"""The state machines of incidents: every allowed transition per type, refused ones, and
the reasons closing needs (no database: the machines are data).

The staff-safety machine (ELA/VPT) is guarded by ``staff_safety.workflow``: these tests move
it ``by_workflow=True``, and check that nothing else can move it."""

from __future__ import annotations

import itertools

import pytest

from core import Conflict, InvalidInput
from incidents.cases.models import Incident
from incidents.cases.service import allowed_states
from incidents.cases.states import MACHINES, State, check_transition, machine_for

CYBER_ALLOWED = {
    ("new", "triage"),
    ("triage", "containment"),
    ("triage", "closed"),
    ("containment", "eradication"),
    ("containment", "triage"),
    ("eradication", "recovery"),
    ("eradication", "containment"),
    ("recovery", "post_incident_review"),
    ("recovery", "containment"),
    ("post_incident_review", "closed"),
    ("post_incident_review", "recovery"),
    ("closed", "triage"),
}
PHYSICAL_ALLOWED = {
    ("new", "triage"),
    ("triage", "response"),
    ("triage", "closed"),
    ("response", "review"),
    ("response", "triage"),
    ("review", "closed"),
    ("review", "response"),
    ("closed", "triage"),
}
STAFF_ALLOWED = {
    ("reported", "first_care"),
    ("first_care", "registered"),
    ("registered", "police_report_decision"),
    ("registered", "closed"),  # a duplicate report (the workflow allows no other resolution)
    ("police_report_decision", "aftercare"),
    ("aftercare", "measures"),
    ("aftercare", "police_report_decision"),
    ("measures", "evaluation"),
    ("measures", "aftercare"),
    ("evaluation", "closed"),
    ("evaluation", "measures"),
    ("closed", "evaluation"),
}
ALLOWED = {"cyber": CYBER_ALLOWED, "physical": PHYSICAL_ALLOWED, "staff_safety": STAFF_ALLOWED}


def close_reasons(source: str) -> dict[str, str]:
    resolution = "false_positive" if source in ("triage", "registered") else "resolved"
    return {"resolution": resolution, "summary": "Wat er gebeurde."}


def check(incident_type: str, source: str, target: str, **reasons: str | None):
    """``check_transition`` as the owner of the type's machine calls it."""
    options = {"resolution": None, "summary": None, **reasons}
    by_workflow = machine_for(incident_type).guarded_elsewhere
    return check_transition(incident_type, source, target, by_workflow=by_workflow, **options)


def triage_of(incident_type: str) -> str:
    return str(machine_for(incident_type).triage)


def every_pair(incident_type: str) -> list[tuple[str, str]]:
    states = [str(state) for state in machine_for(incident_type).states]
    return list(itertools.permutations(states, 2))


@pytest.mark.parametrize(
    ("incident_type", "source", "target"),
    [(kind, *pair) for kind, pairs in ALLOWED.items() for pair in sorted(pairs)],
)
def test_every_allowed_transition_is_allowed(incident_type, source, target):
    reasons = close_reasons(source) if target == "closed" else {}
    check(incident_type, source, target, **reasons)


@pytest.mark.parametrize("incident_type", sorted(ALLOWED))
def test_the_machines_allow_exactly_the_listed_transitions(incident_type):
    machine = machine_for(incident_type)
    allowed = {
        (str(source), str(target))
        for source in machine.states
        for target in machine.next_states(source)
    }
    assert allowed == ALLOWED[incident_type]


@pytest.mark.parametrize(
    ("incident_type", "source", "target"),
    [
        ("cyber", "new", "containment"),
        ("cyber", "new", "closed"),
        ("cyber", "triage", "recovery"),
        ("cyber", "containment", "closed"),
        ("cyber", "closed", "new"),
        ("physical", "new", "response"),
        ("physical", "triage", "review"),
        ("physical", "response", "closed"),
        ("staff_safety", "reported", "registered"),
        ("staff_safety", "first_care", "closed"),
        ("staff_safety", "registered", "aftercare"),
        ("staff_safety", "closed", "reported"),
    ],
)
def test_a_forbidden_transition_is_a_conflict_naming_the_allowed_states(
    incident_type, source, target
):
    with pytest.raises(Conflict) as refused:
        check(incident_type, source, target, resolution="resolved", summary="x")
    allowed = ", ".join(machine_for(incident_type).next_states(source))
    assert refused.value.params["allowed"] == allowed
    assert allowed in refused.value.message
    assert f"\u201c{target}\u201d" in refused.value.message


@pytest.mark.parametrize("incident_type", sorted(ALLOWED))
def test_no_state_outside_a_machine_can_be_reached(incident_type):
    for target in ("merged", "eradication" if incident_type != "cyber" else "response"):
        with pytest.raises(Conflict):
            check(incident_type, triage_of(incident_type), target)


def test_a_merged_incident_has_no_next_state():
    for machine in MACHINES.values():
        assert machine.next_states(State.MERGED) == []


@pytest.mark.parametrize("incident_type", sorted(ALLOWED))
@pytest.mark.parametrize(
    ("resolution", "summary", "field"),
    [
        (None, "Wat er gebeurde.", "resolution"),
        ("", "Wat er gebeurde.", "resolution"),
        ("fixed", "Wat er gebeurde.", "resolution"),
        ("resolved", None, "summary"),
        ("resolved", "   \n ", "summary"),
        ("resolved", "x" * 20_001, "summary"),
    ],
)
def test_closing_needs_a_known_resolution_and_a_summary(incident_type, resolution, summary, field):
    last = [str(state) for state in machine_for(incident_type).states][-2]
    with pytest.raises(InvalidInput) as refused:
        check(incident_type, last, "closed", resolution=resolution, summary=summary)
    assert refused.value.field == field


@pytest.mark.parametrize("incident_type", sorted(ALLOWED))
def test_closing_from_triage_is_only_for_a_false_alarm(incident_type):
    triage = triage_of(incident_type)
    with pytest.raises(InvalidInput) as refused:
        check(incident_type, triage, "closed", resolution="resolved", summary="x")
    assert refused.value.field == "resolution"
    assert "false_positive" in refused.value.message
    for resolution in ("false_positive", "duplicate", "benign"):
        check(incident_type, triage, "closed", resolution=resolution, summary="x")


def test_milestones_of_the_cyber_machine():
    leave_new = check_transition("cyber", "new", "triage", resolution=None, summary=None)
    assert (leave_new.acknowledges, leave_new.contains, leave_new.closes) == (True, False, False)
    contain = check_transition("cyber", "triage", "containment", resolution=None, summary=None)
    assert not contain.contains  # containing is under way, not done
    eradicate = check_transition(
        "cyber", "containment", "eradication", resolution=None, summary=None
    )
    assert eradicate.contains
    reopen = check_transition("cyber", "closed", "triage", resolution=None, summary=None)
    assert reopen.reopens
    assert not reopen.acknowledges


@pytest.mark.parametrize(
    ("incident_type", "source", "target", "contains"),
    [
        ("physical", "triage", "response", False),
        ("physical", "response", "review", True),
        ("physical", "review", "closed", True),
        ("staff_safety", "reported", "first_care", False),
        ("staff_safety", "first_care", "registered", True),
        ("staff_safety", "evaluation", "closed", True),
    ],
)
def test_physical_and_staff_incidents_are_contained_at_review_or_after_first_care(
    incident_type, source, target, contains
):
    reasons = close_reasons(source) if target == "closed" else {}
    milestones = check(incident_type, source, target, **reasons)
    assert milestones.contains is contains


def test_an_unknown_type_is_invalid_input():
    with pytest.raises(InvalidInput) as refused:
        machine_for("flood")
    assert refused.value.field == "type"


def test_every_pair_outside_the_table_is_refused():
    for incident_type, allowed in ALLOWED.items():
        for source, target in every_pair(incident_type):
            if (source, target) in allowed:
                continue
            with pytest.raises(Conflict):
                check(incident_type, source, target, resolution="resolved", summary="x")


@pytest.mark.parametrize(("source", "target"), sorted(STAFF_ALLOWED))
def test_only_the_staff_safety_workflow_moves_a_staff_safety_incident(source, target):
    reasons = close_reasons(source) if target == "closed" else {}
    with pytest.raises(Conflict) as refused:
        check_transition(
            "staff_safety",
            source,
            target,
            resolution=reasons.get("resolution"),
            summary=reasons.get("summary"),
        )
    assert "staff-safety workflow" in refused.value.template


def test_the_staff_safety_milestones_acknowledge_on_leaving_reported_and_reopen_from_closed():
    assert check("staff_safety", "reported", "first_care").acknowledges
    reopen = check("staff_safety", "closed", "evaluation")
    assert reopen.reopens
    assert not reopen.acknowledges


@pytest.mark.parametrize("state", [str(state) for state in machine_for("staff_safety").states])
def test_the_incident_page_offers_no_state_for_a_staff_safety_incident(state):
    incident = Incident(type="staff_safety", state=state, merged_into_id=None)
    assert allowed_states(incident) == []
    assert allowed_states(Incident(type="physical", state="new", merged_into_id=None)) == ["triage"]
