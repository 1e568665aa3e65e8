"""One state machine per incident type, with guarded transitions and the milestones they set.

Cyber incidents follow the phases of NIST SP 800-61 (detection and analysis, containment,
eradication, recovery, post-incident activity); physical incidents a shorter response
cycle; staff-safety incidents the ELA/VPT practice (reported, first care, registered, the
police-report decision, aftercare, measures, evaluation). Every machine may step back where
work really goes back (re-infection during recovery sends a cyber incident back to
containment), close from its triage state as a false alarm or duplicate, and reopen a
closed incident.

The staff-safety machine is *guarded elsewhere*: its steps need facts this package does not
hold (a risk assessment, a police-report decision, a second person's approval), so only the
staff-safety workflow (``staff_safety.workflow``) moves it, passing ``by_workflow=True``.

The machines are data: ``machine_for(type)`` answers which states follow a state and
``check_transition`` refuses anything else with a ``Conflict`` that names what is allowed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

from core import Conflict, InvalidInput
from core.i18n import N_
from incidents.cases.models import IncidentType

MAX_SUMMARY_LENGTH = 20_000


class State(StrEnum):
    """Every state of every machine (each machine uses its own subset)."""

    NEW = "new"
    TRIAGE = "triage"
    CONTAINMENT = "containment"
    ERADICATION = "eradication"
    RECOVERY = "recovery"
    POST_INCIDENT_REVIEW = "post_incident_review"
    RESPONSE = "response"
    REVIEW = "review"
    # staff safety (ELA/VPT)
    REPORTED = "reported"
    FIRST_CARE = "first_care"
    REGISTERED = "registered"
    POLICE_REPORT_DECISION = "police_report_decision"
    AFTERCARE = "aftercare"
    MEASURES = "measures"
    EVALUATION = "evaluation"
    CLOSED = "closed"
    # Not in any machine: an incident merged into another is read-only until un-merged.
    MERGED = "merged"


class Resolution(StrEnum):
    """How an incident ended (needed to close it)."""

    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    BENIGN = "benign"


# Closing straight from triage means there was nothing to respond to.
FALSE_ALARMS = frozenset({Resolution.FALSE_POSITIVE, Resolution.DUPLICATE, Resolution.BENIGN})


@dataclass(frozen=True)
class StateMachine:
    incident_type: IncidentType
    states: tuple[State, ...]  # in the order of the work, the first state first, closed last
    transitions: tuple[tuple[State, State], ...]
    # Reaching one of these the first time sets ``contained_at``.
    contained: frozenset[State]
    # Where a false alarm (or a duplicate) is recognised and may close.
    triage: State = State.TRIAGE
    # Only a workflow outside this package, which checks its own guards, may move it.
    guarded_elsewhere: bool = False

    @property
    def initial(self) -> State:
        return self.states[0]

    def __post_init__(self) -> None:
        for source, target in self.transitions:
            if source not in self.states or target not in self.states:
                raise ValueError(f"{source} → {target} leaves the {self.incident_type} machine")

    def next_states(self, state: str) -> list[State]:
        """The states an incident in ``state`` may move to, in the order of the work."""
        targets = {target for source, target in self.transitions if source == state}
        return [candidate for candidate in self.states if candidate in targets]

    def resolutions_from(self, state: str) -> list[Resolution]:
        """The resolutions a close from ``state`` may carry (none if it cannot close)."""
        if State.CLOSED not in self.next_states(state):
            return []
        if state == self.triage:
            return [resolution for resolution in Resolution if resolution in FALSE_ALARMS]
        return list(Resolution)


def _transitions(
    path: tuple[State, ...], *others: tuple[State, State]
) -> tuple[tuple[State, State], ...]:
    """Each step of ``path`` forward, and the ``others`` (back, false alarm, reopen)."""
    return (*itertools.pairwise(path), *others)


_CYBER_PATH = (
    State.NEW,
    State.TRIAGE,
    State.CONTAINMENT,
    State.ERADICATION,
    State.RECOVERY,
    State.POST_INCIDENT_REVIEW,
    State.CLOSED,
)
_PHYSICAL_PATH = (State.NEW, State.TRIAGE, State.RESPONSE, State.REVIEW, State.CLOSED)
_STAFF_PATH = (
    State.REPORTED,
    State.FIRST_CARE,
    State.REGISTERED,
    State.POLICE_REPORT_DECISION,
    State.AFTERCARE,
    State.MEASURES,
    State.EVALUATION,
    State.CLOSED,
)
_REOPEN = (State.CLOSED, State.TRIAGE)
_FALSE_ALARM = (State.TRIAGE, State.CLOSED)

MACHINES: dict[IncidentType, StateMachine] = {
    IncidentType.CYBER: StateMachine(
        IncidentType.CYBER,
        _CYBER_PATH,
        _transitions(
            _CYBER_PATH,
            _FALSE_ALARM,
            (State.CONTAINMENT, State.TRIAGE),  # the scope was wrong: analyse again
            (State.ERADICATION, State.CONTAINMENT),  # it spread while being removed
            (State.RECOVERY, State.CONTAINMENT),  # re-infection
            (State.POST_INCIDENT_REVIEW, State.RECOVERY),  # the review finds it is not over
            _REOPEN,
        ),
        frozenset(_CYBER_PATH[3:]),
    ),
    IncidentType.PHYSICAL: StateMachine(
        IncidentType.PHYSICAL,
        _PHYSICAL_PATH,
        _transitions(
            _PHYSICAL_PATH,
            _FALSE_ALARM,
            (State.RESPONSE, State.TRIAGE),
            (State.REVIEW, State.RESPONSE),
            _REOPEN,
        ),
        frozenset({State.REVIEW, State.CLOSED}),
    ),
    # ELA/VPT: every report is registered, cared for, considered for a police report,
    # followed up and evaluated. A duplicate (two colleagues reporting one event) closes
    # at registration; the guards live in staff_safety.workflow.
    IncidentType.STAFF_SAFETY: StateMachine(
        IncidentType.STAFF_SAFETY,
        _STAFF_PATH,
        _transitions(
            _STAFF_PATH,
            (State.REGISTERED, State.CLOSED),
            (State.AFTERCARE, State.POLICE_REPORT_DECISION),  # the victim changed their mind
            (State.MEASURES, State.AFTERCARE),
            (State.EVALUATION, State.MEASURES),  # the evaluation finds more is needed
            (State.CLOSED, State.EVALUATION),
        ),
        # The immediate danger is over once the employee had first care.
        frozenset(_STAFF_PATH[2:]),
        triage=State.REGISTERED,
        guarded_elsewhere=True,
    ),
}


def machine_for(incident_type: str) -> StateMachine:
    try:
        return MACHINES[IncidentType(incident_type)]
    except ValueError:
        raise InvalidInput(
            N_("Unknown incident type \u201c%(type)s\u201d."), field="type", type=incident_type[:40]
        ) from None


@dataclass(frozen=True)
class Milestones:
    """Which milestones a transition sets (each only the first time) or clears."""

    acknowledges: bool
    contains: bool
    closes: bool
    reopens: bool


def check_transition(
    incident_type: str,
    current: str,
    target: str,
    *,
    resolution: str | None,
    summary: str | None,
    by_workflow: bool = False,
) -> Milestones:
    """Refuse a transition the machine does not allow, or a close without its reasons.

    A machine guarded elsewhere refuses every transition not made ``by_workflow``.
    """
    machine = machine_for(incident_type)
    if machine.guarded_elsewhere and not by_workflow:
        raise Conflict(
            N_(
                "A staff-safety incident moves through its staff-safety workflow, "
                "on the staff-safety case page."
            )
        )
    allowed = machine.next_states(current)
    if target not in allowed:
        raise Conflict(
            N_(
                "An incident in state \u201c%(current)s\u201d cannot move to "
                "\u201c%(target)s\u201d; it can move to: %(allowed)s."
            ),
            current=current,
            target=target[:40],
            allowed=", ".join(allowed) or "-",
        )
    if target == State.CLOSED:
        _check_close(machine, current, resolution, summary)
    return Milestones(
        acknowledges=current == machine.initial,
        contains=target in machine.contained,
        closes=target == State.CLOSED,
        reopens=current == State.CLOSED,
    )


def _check_close(
    machine: StateMachine, current: str, resolution: str | None, summary: str | None
) -> None:
    choices = machine.resolutions_from(current)
    if resolution not in choices:
        raise InvalidInput(
            N_("Closing needs a resolution: %(choices)s."),
            field="resolution",
            choices=", ".join(choices),
        )
    text = (summary or "").strip()
    if not text:
        raise InvalidInput(N_("Closing needs a summary of what happened."), field="summary")
    if len(text) > MAX_SUMMARY_LENGTH:
        raise InvalidInput(
            N_("A summary is at most %(limit)d characters."),
            field="summary",
            limit=MAX_SUMMARY_LENGTH,
        )
