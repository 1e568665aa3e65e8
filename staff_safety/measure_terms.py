"""The terms of a proposed measure, checked before anything is stored.

Every term is refused with a message on its own field: a legal basis always; dates in
order (start, review, expiry; an end date between start and expiry) and at most
``MAX_MONTHS`` from start to expiry; a building ban with an end date and the house rules it
rests on; a contact restriction with how contact is still allowed, and for "one contact
person" an active account. ``staff_safety.measures`` proposes what passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from access_control.models import User
from core import InvalidInput
from core.i18n import N_
from staff_safety.models import ContactMode, MeasureKind

MAX_MONTHS: Final = 24
MAX_LEGAL_BASIS: Final = 500
MAX_TEXT: Final = 2000


@dataclass(frozen=True)
class MeasureTerms:
    """What a proposal says, checked by ``checked_terms`` before anything is stored."""

    kind: MeasureKind
    legal_basis: str
    starts_on: date
    ends_on: date | None
    review_on: date
    expires_on: date
    house_rules: str
    contact_mode: ContactMode | None
    contact_user_id: int | None
    note: str


def checked_terms(
    session: Session,
    *,
    kind: MeasureKind | str,
    legal_basis: str,
    starts_on: date | None,
    ends_on: date | None,
    review_on: date | None,
    expires_on: date | None,
    house_rules: str,
    contact_mode: ContactMode | str | None,
    contact_user_id: int | None,
    note: str,
) -> MeasureTerms:
    """The proposal's terms, each refused with a message on its own field."""
    measure_kind = _checked_kind(kind)
    basis = checked_text(legal_basis, "legal_basis", MAX_LEGAL_BASIS)
    if not basis:
        raise InvalidInput(
            N_("Give the legal basis of the measure, e.g. Huisregels art. 4; art. 5:1 Awb."),
            field="legal_basis",
        )
    start, review, expiry = _checked_dates(measure_kind, starts_on, ends_on, review_on, expires_on)
    rules = checked_text(house_rules, "house_rules", MAX_TEXT)
    if measure_kind is MeasureKind.BUILDING_BAN and not rules:
        raise InvalidInput(
            N_("A building ban rests on the house rules: say which."), field="house_rules"
        )
    mode, contact = _checked_contact(session, measure_kind, contact_mode, contact_user_id)
    return MeasureTerms(
        kind=measure_kind,
        legal_basis=basis,
        starts_on=start,
        ends_on=ends_on,
        review_on=review,
        expires_on=expiry,
        house_rules=rules if measure_kind is MeasureKind.BUILDING_BAN else "",
        contact_mode=mode,
        contact_user_id=contact,
        note=checked_text(note, "note", MAX_TEXT),
    )


def _checked_kind(kind: MeasureKind | str) -> MeasureKind:
    try:
        return MeasureKind(kind)
    except ValueError:
        raise InvalidInput(N_("Choose the kind of measure from the list."), field="kind") from None


def _checked_dates(
    kind: MeasureKind,
    starts_on: date | None,
    ends_on: date | None,
    review_on: date | None,
    expires_on: date | None,
) -> tuple[date, date, date]:
    starts_on = _required(starts_on, "starts_on")
    review_on = _required(review_on, "review_on")
    expires_on = _required(expires_on, "expires_on")
    if kind is MeasureKind.BUILDING_BAN and ends_on is None:
        raise InvalidInput(N_("A building ban needs an end date."), field="ends_on")
    if review_on < starts_on:
        raise InvalidInput(N_("The review date cannot be before the start."), field="review_on")
    if expires_on < review_on:
        raise InvalidInput(
            N_("The expiry date cannot be before the review date."), field="expires_on"
        )
    if ends_on is not None and not starts_on <= ends_on <= expires_on:
        raise InvalidInput(
            N_("The end date lies between the start and the expiry date."), field="ends_on"
        )
    if expires_on > starts_on + relativedelta(months=MAX_MONTHS):
        raise InvalidInput(
            N_("A measure runs at most %(months)d months; review it and decide again."),
            field="expires_on",
            months=MAX_MONTHS,
        )
    return starts_on, review_on, expires_on


def _required(value: date | None, field: str) -> date:
    if value is None:
        raise InvalidInput(N_("Give a date."), field=field)
    return value


def _checked_contact(
    session: Session,
    kind: MeasureKind,
    contact_mode: ContactMode | str | None,
    contact_user_id: int | None,
) -> tuple[ContactMode | None, int | None]:
    if kind is not MeasureKind.CONTACT_RESTRICTION:
        return None, None
    try:
        mode = ContactMode(contact_mode or "")
    except ValueError:
        raise InvalidInput(
            N_("Choose how contact is still allowed."), field="contact_mode"
        ) from None
    if mode is ContactMode.WRITTEN_ONLY:
        return mode, None
    user = None if contact_user_id is None else session.get(User, contact_user_id)
    if user is None or not user.is_active:
        raise InvalidInput(
            N_("Choose the one contact person, an active user."), field="contact_user_id"
        )
    return mode, user.id


def checked_text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(N_("This is at most %(limit)d characters."), field=field, limit=limit)
    return text
