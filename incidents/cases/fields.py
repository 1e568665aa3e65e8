"""Checking an incident's fields: lengths, closed sets, and who may be assigned.

Every check raises ``InvalidInput`` naming the field, so the console shows the reason next
to the form and the API answers 400 with it; nothing is stored for a refused value.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Permission, Role, permissions_of
from access_control.models import User
from core import InvalidInput
from core.i18n import N_
from incidents.alerts.models import Severity
from incidents.cases.models import IncidentType, Tlp

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000


def check_storable(text: str, *, field: str) -> str:
    """``text`` if every database can store it: no NUL (PostgreSQL's text refuses it) and no
    unpaired surrogate (a JSON ``\\ud800`` escape decodes to one; no driver encodes it)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        storable = False
    else:
        storable = "\x00" not in text
    if not storable:
        raise InvalidInput(
            N_("The field \u201c%(name)s\u201d may not hold NUL or unpaired surrogates."),
            field=field,
            name=field,
        )
    return text


def check_title(title: str) -> str:
    text = check_storable(title, field="title").strip()
    if not text or len(text) > MAX_TITLE:
        raise InvalidInput(
            N_("A title needs 1 to %(limit)d characters."), field="title", limit=MAX_TITLE
        )
    return text


def check_description(description: str, *, limit: int = MAX_DESCRIPTION) -> str:
    text = check_storable(description, field="description").strip()
    if len(text) > limit:
        raise InvalidInput(
            N_("A description is at most %(limit)d characters."), field="description", limit=limit
        )
    return text


def check_type(incident_type: str) -> IncidentType:
    try:
        return IncidentType(incident_type)
    except ValueError:
        raise InvalidInput(
            N_("Choose an incident type: %(choices)s."),
            field="type",
            choices=", ".join(IncidentType),
        ) from None


def check_severity(severity: str) -> Severity:
    try:
        return Severity(severity)
    except ValueError:
        raise InvalidInput(
            N_("Choose a severity: %(choices)s."), field="severity", choices=", ".join(Severity)
        ) from None


def check_tlp(tlp: str) -> Tlp:
    try:
        return Tlp(tlp)
    except ValueError:
        raise InvalidInput(
            N_("Choose a TLP label: %(choices)s."), field="tlp", choices=", ".join(Tlp)
        ) from None


def _working_roles() -> list[str]:
    return [role.value for role in Role if Permission.INCIDENTS_WRITE in permissions_of(role)]


def assignable_users(session: Session) -> list[User]:
    """Active accounts that may work on incidents (assignee, reviewer, task owner)."""
    query = (
        select(User)
        .where(User.is_active, User.role.in_(_working_roles()))
        .order_by(User.display_name, User.username)
    )
    return list(session.scalars(query))


def check_assignable(session: Session, user_id: int | None, *, field: str) -> int | None:
    """``user_id`` if it is an active account that may work on incidents (or ``None``)."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role not in _working_roles():
        raise InvalidInput(N_("Choose an active security officer from the list."), field=field)
    return user.id
