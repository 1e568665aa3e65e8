"""Entities that link alerts and incidents: IP addresses, accounts, hosts, e-mail
addresses, phone numbers, case references and person pseudonyms.

Values are normalised before they are stored, so the same entity written two ways
(``ALICE`` / ``alice``, ``2001:DB8::1`` / ``2001:db8::1``, ``+31 6 1234 5678`` /
``+31612345678``) links the records it appears in.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from enum import StrEnum

from core import InvalidInput
from core.i18n import N_

MAX_VALUE_LENGTH = 300
_PHONE = re.compile(r"\+?[0-9]{6,20}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class EntityKind(StrEnum):
    IP = "ip"
    ACCOUNT = "account"
    HOST = "host"
    EMAIL = "email"
    PHONE = "phone"
    CASE_REFERENCE = "case_reference"
    PERSON_PSEUDONYM = "person_pseudonym"


# ECS fields of an event that name an entity, and the kind they name.
ECS_ENTITY_FIELDS: tuple[tuple[str, EntityKind], ...] = (
    ("source.ip", EntityKind.IP),
    ("client.ip", EntityKind.IP),
    ("destination.ip", EntityKind.IP),
    ("user.name", EntityKind.ACCOUNT),
    ("user.target.name", EntityKind.ACCOUNT),
    ("host.name", EntityKind.HOST),
    ("user.email", EntityKind.EMAIL),
    ("email.from.address", EntityKind.EMAIL),
    ("wachter.case_reference", EntityKind.CASE_REFERENCE),
    ("wachter.person_pseudonym", EntityKind.PERSON_PSEUDONYM),
)

# Kinds that identify a person: they leave Wachter only as pseudonyms (feeds.pseudonyms).
PERSONAL_KINDS = frozenset(
    {
        EntityKind.ACCOUNT,
        EntityKind.EMAIL,
        EntityKind.PHONE,
        EntityKind.CASE_REFERENCE,
    }
)


def normalise(kind: EntityKind | str, value: str) -> str:
    """The stored form of ``value``; raises ``InvalidInput`` for a value of the wrong shape."""
    try:
        entity_kind = EntityKind(kind)
    except ValueError:
        raise InvalidInput(
            N_("Unknown entity kind \u201c%(kind)s\u201d."), field="kind", kind=str(kind)[:40]
        ) from None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        raise InvalidInput(
            N_("An entity value needs 1 to %(max)s characters."),
            field="value",
            max=MAX_VALUE_LENGTH,
        )
    return _NORMALISERS[entity_kind](text)


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        raise InvalidInput(
            N_("\u201c%(value)s\u201d is not an IP address."), field="value", value=text[:60]
        ) from None


def _phone(text: str) -> str:
    compact = re.sub(r"[\s().-]", "", text)
    if not _PHONE.fullmatch(compact):
        raise InvalidInput(
            N_("\u201c%(value)s\u201d is not a phone number."), field="value", value=text[:60]
        )
    return compact


def _email(text: str) -> str:
    if not _EMAIL.fullmatch(text):
        raise InvalidInput(
            N_("\u201c%(value)s\u201d is not an e-mail address."), field="value", value=text[:60]
        )
    return text.casefold()


_NORMALISERS: dict[EntityKind, Callable[[str], str]] = {
    EntityKind.IP: _ip,
    EntityKind.ACCOUNT: str.casefold,
    EntityKind.HOST: str.casefold,
    EntityKind.EMAIL: _email,
    EntityKind.PHONE: _phone,
    EntityKind.CASE_REFERENCE: str.upper,
    EntityKind.PERSON_PSEUDONYM: str,
}
