"""``wachter demo``: a realistic sample loaded through Wachter's own paths, step by step.

The order matters: the rule pack, playbooks and the two lists the pack needs first; then the
demo accounts; the aggression reports (half a year, oldest first: their events feed the
staff-threat rules); the fortnight of logs with detection after each hour; Wachter's own
sign-in events (the accounts just made); alerts; and last an officer's response. Each step
commits on its own, as the service's jobs would.

Safety: only an empty installation (no accounts but perhaps the first administrator, no
events but Wachter's own) takes the sample, unless forced, and a second run finds the sample
(``demo-…`` accounts or sources) and writes nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor, Role, enrolment, record_audit, users
from access_control.models import User
from core import Settings
from detection_rules.models import Detection, DetectionList, ListKind
from detection_rules.service import install_packs, set_list
from incidents.alerts.models import Alert
from incidents.cases.playbooks import install_default_playbooks
from ingest import pipeline
from staff_safety.vault import keyring_for
from storage import Database
from storage.events import Event
from wachter.demo import reports
from wachter.demo.cases import work_case
from wachter.demo.events import ADMIN_ACCOUNTS, OFFICE_NETWORK, SOURCES, Office, everyday, malformed
from wachter.demo.intake import Stream, ingest_and_detect
from wachter.demo.response import respond
from wachter.demo.stories import stories

DEMO_PREFIX = "demo-"
OFFICER = ("demo-s.dekker", "Sanne Dekker (demo)")
OWN_SOURCE = "wachter"  # Wachter's own events: sign-ins from the audit trail, reports
DEFAULT_SEED = 2026
DEFAULT_DAYS = 14


class DemoState(StrEnum):
    EMPTY = "empty"  # nothing but perhaps the first administrator
    LOADED = "loaded"  # the sample is there
    IN_USE = "in_use"  # real data


@dataclass(frozen=True)
class Found:
    state: DemoState
    reason: str = ""


def find_state(session: Session) -> Found:
    """Is the sample there, is the installation empty, or does it hold real data?"""
    demo_user = select(User.id).where(User.username.startswith(DEMO_PREFIX)).limit(1)
    demo_event = select(Event.id).where(Event.source.in_(SOURCES)).limit(1)
    if session.scalar(demo_user) is not None or session.scalar(demo_event) is not None:
        return Found(DemoState.LOADED)
    accounts = list(session.execute(select(User.username, User.role).order_by(User.id)))
    # The first administrator (made by the setup link) is allowed; anyone else is real use.
    others = accounts[1:] if accounts and accounts[0].role == Role.ADMIN.value else accounts
    if others:
        names = ", ".join(name for name, _role in others[:3])
        return Found(DemoState.IN_USE, f"{len(others)} accounts besides the first ({names}…)")
    real = select(Event.source).where(Event.source != OWN_SOURCE).limit(1)
    source = session.scalar(real)
    if source is not None:
        return Found(DemoState.IN_USE, f"events from source {source!r}")
    return Found(DemoState.EMPTY)


@dataclass
class Summary:
    events: int = 0
    rejected: int = 0
    detections: int = 0
    alerts: int = 0
    incidents: list[str] = field(default_factory=list)
    reports: int = 0
    cases: dict[str, int] = field(default_factory=dict)  # state reached → how many
    officer: str = OFFICER[0]
    officer_link: str = ""
    has_admin: bool = False  # when not, the setup link no longer works: say how to make one
    seconds: float = 0.0


Progress = Callable[[str], None]


def load_demo(
    database: Database,
    settings: Settings,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    progress: Progress = lambda _line: None,
) -> Summary:
    """Load the sample (the caller checked ``find_state``); what was made."""
    started, summary = time.monotonic(), Summary()
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    actor = Actor.command_line()
    _prepare_detection(database, actor, now)
    progress("Rule pack, playbooks and the lists admin_accounts and office_networks ready.")
    officer, reporter_rows = _make_accounts(database, actor, now, summary)
    progress(f"Demo accounts: {officer.name} (security officer), {len(reporter_rows)} staff.")
    stream = Stream(database, settings, now=now)
    _send_reports(
        stream, settings=settings, reporter_rows=reporter_rows, officer=officer, rng=rng,
        now=now, summary=summary,
    )  # fmt: skip
    states = ", ".join(f"{count} {state}" for state, count in sorted(summary.cases.items()))
    progress(f"{summary.reports} aggression reports sent; their cases: {states}.")
    _load_events(
        stream, settings=settings, rng=rng, now=now, days=days, summary=summary,
        progress=progress,
    )  # fmt: skip
    _count(database, summary)
    progress(f"{summary.detections} detections, {summary.alerts} alerts.")
    with database.unit_of_work() as session:
        done = respond(session, officer=officer, now=now)
    summary.incidents = done.incidents
    progress(
        f"Incidents {', '.join(done.incidents) or 'none'} opened; "
        f"{done.acknowledged} alert acknowledged, {done.closed} closed as false positive."
    )
    summary.seconds = time.monotonic() - started
    with database.unit_of_work() as session:
        record_audit(
            session, actor=actor, action="demo.loaded", target="demo", outcome="success",
            now=now, details={"seed": seed, "days": days, "events": summary.events},
        )  # fmt: skip
    return summary


def _make_accounts(
    database: Database, actor: Actor, now: datetime, summary: Summary
) -> tuple[Actor, list[tuple[int, str]]]:
    """The demo accounts and the officer's sign-in link; the officer and (id, name) of staff."""
    with database.unit_of_work() as session:
        officer, reporters = _accounts(session, actor, now)
        summary.officer_link = enrolment.create_enrolment_link(
            session, user=officer, actor=actor, now=now
        )
        admin = select(User.id).where(User.role == Role.ADMIN.value, User.is_active).limit(1)
        summary.has_admin = session.scalar(admin) is not None
        return (
            Actor(name=officer.username, user_id=officer.id),
            [(user.id, user.username) for user in reporters],
        )


def _prepare_detection(database: Database, actor: Actor, now: datetime) -> None:
    """What ``serve`` installs at start, and the two lists the pack's rules read."""
    with database.unit_of_work() as session:
        install_packs(session, actor=actor, now=now)
        install_default_playbooks(session, now)
        if session.get(DetectionList, "admin_accounts") is None:
            set_list(
                session,
                name="admin_accounts",
                kind=ListKind.STRINGS,
                values=ADMIN_ACCOUNTS,
                actor=actor,
                now=now,
            )
        if session.get(DetectionList, "office_networks") is None:
            set_list(
                session,
                name="office_networks",
                kind=ListKind.NETWORKS,
                values=[OFFICE_NETWORK],
                actor=actor,
                now=now,
            )


def _accounts(session: Session, actor: Actor, now: datetime) -> tuple[User, list[User]]:
    """The officer who explores the console and the staff who report (none enrolled yet)."""
    officer = users.create_user(
        session,
        username=OFFICER[0],
        display_name=OFFICER[1],
        role=Role.SECURITY_OFFICER,
        actor=actor,
        now=now,
    )
    reporters = [
        users.create_user(
            session, username=name, display_name=display, role=Role.STAFF, actor=actor, now=now
        )
        for name, (display, _channel) in reports.REPORTERS.items()
    ]
    return officer, reporters


def _send_reports(
    stream: Stream,
    *,
    settings: Settings,
    reporter_rows: list[tuple[int, str]],
    officer: Actor,
    rng: random.Random,
    now: datetime,
    summary: Summary,
) -> None:
    """Each report sent at its moment, the staff-threat rules run after each, as if live."""
    keyring = keyring_for(settings)
    address = settings.organisation_address or "Gemeente Demo, Spui 70, 2511 BT Den Haag"
    for turn, plan in enumerate(reports.plan_reports(rng, now)):
        with stream.database.unit_of_work() as session:
            accounts = {name: session.get_one(User, user_id) for user_id, name in reporter_rows}
            report = reports.send_report(session, keyring, plan, reporters=accounts, turn=turn)
            state = work_case(
                session, report, sent_at=plan.sent_at, officer=officer, address=address, now=now
            )
            stream.catch_up_in(session, plan.sent_at)
        summary.cases[state] = summary.cases.get(state, 0) + 1
        summary.reports += 1


def _load_events(
    stream: Stream,
    *,
    settings: Settings,
    rng: random.Random,
    now: datetime,
    days: int,
    summary: Summary,
    progress: Progress,
) -> None:
    office = Office(ZoneInfo(settings.timezone), start=now - timedelta(days=days), end=now)
    records = everyday(office, rng) + stories(office, rng) + malformed(office)
    progress(f"{len(records)} log records generated over {days} days; storing them in time order…")
    count = ingest_and_detect(stream, records, now=now)
    summary.events, summary.rejected = count.stored, count.rejected
    with stream.database.unit_of_work() as session:
        while pipeline.import_authentication_events(session, now=now) == pipeline.DELIVERY_BATCH:
            pass
    stream.catch_up(now)  # the demo accounts' own events, made just now
    progress(f"{summary.events} events stored, {summary.rejected} rejected (dead letters).")


def _count(database: Database, summary: Summary) -> None:
    with database.snapshot() as session:
        summary.detections = session.scalar(select(func.count()).select_from(Detection)) or 0
        summary.alerts = session.scalar(select(func.count()).select_from(Alert)) or 0
