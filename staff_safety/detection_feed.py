"""Measures in force feed the detection engine: four ``|expand`` lists, rebuilt from the vault.

The staff-threat rules (``detection_rules/packs/staff_safety.yml``) never carry a person:
they name a list, and this module fills it with what the events of other sources would show
of the people concerned. Events stay free of identities Wachter holds; the lists hold them
only while a measure (or a recent doxing report) makes it necessary.

``banned_persons``      pseudonyms of perpetrators under a building ban in force: a new
                        report naming one (``wachter.report.perpetrator``)
``banned_identifiers``  their names and case references, whitespace-normalised, as a
                        visitor registration or badge export names a person (``user.name``;
                        Sigma compares without case)
``contact_restricted``  e-mail addresses and phone numbers of persons under a contact
                        restriction in force (``email.from.address``, ``source.user.email``,
                        ``source.user.phone``); a phone number also in digits only
``doxing_targets``      account names and e-mail addresses of employees who are the victim
                        of a doxing report submitted in the last ``DOXING_DAYS`` days: their
                        failed sign-ins (``user.name``) and phishing reports against them
                        (``email.to.address``) alert

Every list is set even when empty, so the rules always compile against it. ``set_list``
audits each change with counts only, and changes nothing (no audit, no rebuild of the
engine) when a list is already right: the 5-minute job is cheap when nothing moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from access_control import Actor
from detection_rules.models import ListKind
from detection_rules.service import set_list
from staff_safety.models import (
    Category,
    MeasureKind,
    MeasureStatus,
    PerpetratorMeasure,
    ReportStatus,
    StaffReport,
    VaultIdentity,
)
from staff_safety.vault import open_identity
from staff_safety.vault_crypto import VaultKeyring

DEFAULT_TIMEZONE: Final = "Europe/Amsterdam"
DOXING_DAYS: Final = 14
BANNED_PERSONS: Final = "banned_persons"
BANNED_IDENTIFIERS: Final = "banned_identifiers"
CONTACT_RESTRICTED: Final = "contact_restricted"
DOXING_TARGETS: Final = "doxing_targets"
LISTS: Final = (BANNED_PERSONS, BANNED_IDENTIFIERS, CONTACT_RESTRICTED, DOXING_TARGETS)
# A value the detection list refuses (longer than its limit) is left out, never fatal.
_MAX_VALUE: Final = 500


def local_day(now: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The organisation's calendar day at ``now``: measures run on local dates."""
    return now.astimezone(ZoneInfo(timezone)).date()


def sync_detection_lists(
    session: Session,
    keyring: VaultKeyring,
    *,
    now: datetime,
    actor: Actor | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> dict[str, int]:
    """Rebuild the four lists from the measures in force and recent doxing reports.

    Returns how many values each list holds now.
    """
    today = local_day(now, timezone)
    bans = _pseudonyms_in_force(session, today, MeasureKind.BUILDING_BAN)
    restricted = _pseudonyms_in_force(session, today, MeasureKind.CONTACT_RESTRICTION)
    targets = _doxing_victims(session, now)
    opened = _open_all(session, keyring, bans | restricted | targets)
    values = {
        BANNED_PERSONS: sorted(bans),
        BANNED_IDENTIFIERS: _fields(opened, bans, ("name", "case_reference")),
        CONTACT_RESTRICTED: _contact_values(opened, restricted),
        DOXING_TARGETS: _fields(opened, targets, ("account_name", "email")),
    }
    who = actor or Actor.system()
    for name, found in values.items():
        set_list(session, name=name, kind=ListKind.STRINGS, values=found, actor=who, now=now)
    return {name: len(set(found)) for name, found in values.items()}


def _pseudonyms_in_force(session: Session, today: date, kind: MeasureKind) -> set[str]:
    return set(
        session.scalars(
            select(PerpetratorMeasure.perpetrator_pseudonym).where(
                PerpetratorMeasure.status == MeasureStatus.ACTIVE.value,
                PerpetratorMeasure.kind == kind.value,
                PerpetratorMeasure.starts_on <= today,
                PerpetratorMeasure.expires_on >= today,
                or_(PerpetratorMeasure.ends_on.is_(None), PerpetratorMeasure.ends_on >= today),
            )
        )
    )


def _doxing_victims(session: Session, now: datetime) -> set[str]:
    return {
        pseudonym
        for pseudonym in session.scalars(
            select(StaffReport.victim_pseudonym).where(
                StaffReport.status == ReportStatus.SUBMITTED.value,
                StaffReport.category == Category.DOXING.value,
                StaffReport.submitted_at >= now - timedelta(days=DOXING_DAYS),
                StaffReport.submitted_at <= now,
            )
        )
        if pseudonym
    }


def _open_all(
    session: Session, keyring: VaultKeyring, pseudonyms: set[str]
) -> dict[str, dict[str, str]]:
    if not pseudonyms:
        return {}
    identities = session.scalars(
        select(VaultIdentity).where(VaultIdentity.pseudonym.in_(sorted(pseudonyms)))
    )
    return {identity.pseudonym: open_identity(keyring, identity) for identity in identities}


def _fields(
    opened: dict[str, dict[str, str]], pseudonyms: Iterable[str], fields: tuple[str, ...]
) -> list[str]:
    return _usable(
        opened.get(pseudonym, {}).get(field, "")
        for pseudonym in sorted(pseudonyms)
        for field in fields
    )


def _contact_values(opened: dict[str, dict[str, str]], pseudonyms: Iterable[str]) -> list[str]:
    found: list[str] = []
    for pseudonym in sorted(pseudonyms):
        person = opened.get(pseudonym, {})
        found.append(person.get("email", ""))
        phone = person.get("phone", "")
        found += [phone, phone_digits(phone)]
    return _usable(found)


def phone_digits(phone: str) -> str:
    """A phone number as a telephone system logs it: digits, a leading + kept."""
    digits = "".join(character for character in phone if character.isdigit())
    return f"+{digits}" if phone.strip().startswith("+") and digits else digits


def _usable(values: Iterable[str]) -> list[str]:
    cleaned = (" ".join(value.split()) for value in values)
    return sorted({value for value in cleaned if value and len(value) <= _MAX_VALUE})
