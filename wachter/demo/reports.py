"""Half a year of aggression reports by demo staff, sent the way the report form sends them.

Each report goes through ``staff_safety.reports.submit_report`` at the moment it was sent
(``now`` is that moment), so the identity vault, the report number, the staff-safety incident
and its deadlines, the report's event for the staff-threat rules and the audit entry are all
made as in life. The mix has shape for the statistics: counter and phone most, e-mail and
online some, a letter now and then; more in recent months than half a year ago. Stories in
it: one citizen reported twice within 90 days (repeat perpetrator), one employee threatened at
the counter and then by e-mail (targeted through several channels), a visitor who hit an
employee (physical violence), and a report of two days ago that nobody has looked at yet.
What officers did with the cases afterwards is ``wachter.demo.cases``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import User
from staff_safety.models import CHANNEL_OF, Category, Channel, Location, StaffReport
from staff_safety.report_input import ReportInput
from staff_safety.reports import submit_report
from staff_safety.vault_crypto import VaultKeyring

# Who reports what: staff at the counter, on the phone, in the mail room and on social media
# each meet aggression through their own channel (one person through two is a story below).
REPORTERS: Final = {
    "demo-m.visser": ("Marieke Visser (demo)", Channel.IN_PERSON),
    "demo-s.smit": ("Sanne Smit (demo)", Channel.IN_PERSON),
    "demo-h.peters": ("Henk Peters (demo)", Channel.IN_PERSON),
    "demo-r.debruijn": ("Ruben de Bruijn (demo)", Channel.PHONE),
    "demo-e.mulder": ("Esra Mulder (demo)", Channel.PHONE),
    "demo-n.vos": ("Noor Vos (demo)", Channel.EMAIL),
    "demo-w.hendriks": ("Wim Hendriks (demo)", Channel.LETTER),
    "demo-i.brouwer": ("Iris Brouwer (demo)", Channel.ONLINE),
    "demo-y.vermeulen": ("Yara Vermeulen (demo)", Channel.IN_PERSON),
}
# (location, category, what happened): the everyday mix, weighted by repetition.
KINDS: Final = (
    (
        Location.COUNTER,
        Category.VERBAL_ABUSE,
        "Burger schold mij uit aan de balie na een afwijzing.",
    ),
    (Location.COUNTER, Category.VERBAL_ABUSE, "Klant werd luid en beledigend bij het loket."),
    (
        Location.COUNTER,
        Category.THREAT_IN_PERSON,
        "Bezoeker dreigde 'je weet niet wat je te wachten staat'.",
    ),
    (
        Location.COUNTER,
        Category.INTIMIDATION,
        "Man bleef na sluitingstijd bij de balie staan en staarde.",
    ),
    (Location.PHONE, Category.VERBAL_ABUSE, "Beller schreeuwde en schold over de uitkering."),
    (Location.PHONE, Category.THREAT_PHONE, "Beller dreigde langs te komen 'om het op te lossen'."),
    (Location.PHONE, Category.VERBAL_ABUSE, "Scheldpartij aan de telefoon over een boete."),
    (Location.EMAIL, Category.THREAT_EMAIL, "Dreigende e-mail na een besluit op bezwaar."),
    (
        Location.SOCIAL_MEDIA,
        Category.ONLINE_HARASSMENT,
        "Mijn naam en foto met scheldwoorden op Facebook.",
    ),
    (Location.SOCIAL_MEDIA, Category.DOXING, "Mijn woonplaats werd gedeeld in een openbare groep."),
    (
        Location.LETTER,
        Category.THREAT_LETTER,
        "Anonieme brief met bedreiging aan mijn adres op het werk.",
    ),
    (
        Location.HOME_VISIT,
        Category.INTIMIDATION,
        "Tijdens huisbezoek werd de deur dichtgegooid en geduwd.",
    ),
    (Location.OFFICE, Category.DISCRIMINATION, "Bezoeker maakte discriminerende opmerkingen."),
)
REPORTS: Final = 30
SPAN: Final = timedelta(days=182)
REPEAT_CASE: Final = "ZAAK-2026-0417"


@dataclass(frozen=True)
class Plan:
    """A report to send: what the form holds, who sends it and when."""

    data: ReportInput
    sent_at: datetime
    reporter: str = ""  # a given reporter; empty: one who works on the report's channel


def plan_reports(rng: random.Random, now: datetime) -> list[Plan]:
    """Thirty reports over half a year, oldest first."""
    plans = [_everyday(rng, now) for _ in range(REPORTS - len(_STORY_PLANS))] + _stories(now)
    return sorted(plans, key=lambda plan: plan.sent_at)


def send_report(
    session: Session, keyring: VaultKeyring, plan: Plan, *, reporters: dict[str, User], turn: int
) -> StaffReport:
    """Send ``plan`` as the report form does, at its moment."""
    user = reporters[plan.reporter or _reporter_for(plan.data, turn)]
    actor = Actor(name=user.username, user_id=user.id)
    return submit_report(session, keyring, user=user, data=plan.data, actor=actor, now=plan.sent_at)


def _reporter_for(data: ReportInput, turn: int) -> str:
    channel = CHANNEL_OF[data.location or Location.COUNTER]
    names = [name for name, (_, works_on) in REPORTERS.items() if works_on == channel]
    return names[turn % len(names)]


def _everyday(rng: random.Random, now: datetime) -> Plan:
    # A power above one: more reports in the recent (winter) months than half a year ago.
    occurred = _working_hours(now - SPAN * (rng.random() ** 1.6) - timedelta(hours=2))
    if occurred > now - timedelta(hours=2):
        occurred -= timedelta(days=1)
    location, category, text = rng.choice(KINDS)
    data = ReportInput(
        occurred_at=occurred,
        location=location,
        category=category,
        description=text,
        others_present="Een collega van de balie" if location == Location.COUNTER else "",
        wants_aftercare=rng.random() < 0.4,
        wants_police_report=category.value.startswith("threat") and rng.random() < 0.5,
    )
    sent_at = min(occurred + timedelta(hours=rng.uniform(1, 20)), now - timedelta(minutes=5))
    return Plan(data, sent_at)


def _working_hours(moment: datetime) -> datetime:
    return moment.replace(hour=8 + moment.hour % 8, second=0, microsecond=0)


_REPEAT: Final[dict[str, Any]] = {
    "perpetrator_name": "Dhr. K. (demo)",
    "perpetrator_case_reference": REPEAT_CASE,
}
_VIOLENCE: Final[dict[str, Any]] = {
    "perpetrator_description": "Man, ongeveer 40, rode jas",
    "injury": True,
    "wants_police_report": True,
    "wants_aftercare": True,
}
# (days ago, hour UTC, where, what, the story's text, more fields, reporter)
_STORY_PLANS: Final[tuple[tuple[int, int, Location, Category, str, dict[str, Any], str], ...]] = (
    (70, 10, Location.COUNTER, Category.THREAT_IN_PERSON,
     "Dreigde mij op te wachten na het werk.", _REPEAT, ""),
    (25, 14, Location.PHONE, Category.THREAT_PHONE,
     "Dezelfde burger belde en herhaalde de dreiging.", _REPEAT, ""),
    (12, 9, Location.COUNTER, Category.VERBAL_ABUSE,
     "Werd uitgescholden aan de balie.", {}, "demo-y.vermeulen"),
    (9, 15, Location.EMAIL, Category.THREAT_EMAIL,
     "Daarna een dreigende e-mail aan mij persoonlijk.", {}, "demo-y.vermeulen"),
    (2, 13, Location.PHONE, Category.VERBAL_ABUSE,
     "Beller schold mij uit toen ik de afspraak niet kon verzetten.", {}, ""),
    (20, 11, Location.COUNTER, Category.PHYSICAL_VIOLENCE,
     "Bezoeker sloeg mij in het gezicht toen ik de aanvraag weigerde.", _VIOLENCE,
     "demo-h.peters"),
)  # fmt: skip


def _stories(now: datetime) -> list[Plan]:
    plans = []
    for days, hour, location, category, text, extra, reporter in _STORY_PLANS:
        occurred = (now - timedelta(days=days)).replace(hour=hour, minute=15, second=0)
        data = ReportInput(
            occurred_at=occurred.replace(microsecond=0),
            location=location,
            category=category,
            description=text,
            **extra,
        )
        plans.append(Plan(data, occurred.replace(microsecond=0) + timedelta(hours=2), reporter))
    return plans
