"""The identity vault: people sealed under the vault key, found again by blind index, known
everywhere else only by pseudonym.

``keep_identity`` stores (or finds) a person and returns their ``VaultIdentity``; the same
user account, case reference, e-mail address or phone number finds the same identity, so a
repeat perpetrator keeps one pseudonym. A name alone never matches: two people share names.

``reveal`` opens an identity for a person: the caller has checked the role and the fresh
step-up; this function insists on a reason and writes the audit entry (a read of sensitive
data). ``open_identity`` is the same without a person, for Wachter's own work (filling the
detection lists of active measures, telling a reporter about their report); its callers
audit what they did with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import ConfigError, InvalidInput, NotFound
from core.datadir import load_or_create
from core.i18n import N_
from core.settings import Settings
from staff_safety.models import VaultIdentity, VaultIndex
from staff_safety.reasons import stated_reason
from staff_safety.vault_crypto import (
    VaultKeyring,
    blind_index,
    blind_index_all_keys,
    is_pseudonym,
    new_pseudonym,
    open_sealed,
    seal,
)

VAULT_KEYS_FILE: Final = "vault_keys"
MAX_FIELD: Final = 300
# Identifiers that single out one person; a match on any of them is the same identity.
INDEXED: Final = ("user_id", "case_reference", "email", "phone")
FIELDS: Final = ("name", "email", "phone", "case_reference", "user_id", "account_name")


def keyring_for(settings: Settings) -> VaultKeyring:
    """The vault keys: ``WACHTER_VAULT_KEYS``, else its file, else ``<data dir>/vault_keys``.

    The last is generated on first run (mode 0600), so ``make run`` needs no setup; a
    production install keeps the key away from the database's backups (docs/identity-vault.md).
    """
    if settings.vault_keys:
        return _parse(settings.vault_keys, "WACHTER_VAULT_KEYS")
    if settings.vault_keys_file is not None:
        try:
            text = settings.vault_keys_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                "WACHTER_VAULT_KEYS_FILE", f"cannot read {settings.vault_keys_file} ({error})"
            ) from None
        return _parse(text, "WACHTER_VAULT_KEYS_FILE")
    path: Path = settings.data_dir / VAULT_KEYS_FILE
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise ConfigError(
            "WACHTER_DATA_DIR", f"cannot create {settings.data_dir} ({error})"
        ) from None
    text = load_or_create(path, lambda: VaultKeyring.generate("k1"), _checked_text)
    return VaultKeyring.parse(text)


def _checked_text(text: str) -> str:
    VaultKeyring.parse(text)
    return text


def _parse(text: str, variable: str) -> VaultKeyring:
    try:
        return VaultKeyring.parse(text.strip())
    except ValueError as error:  # the message names the entry and key id, never the key
        raise ConfigError(variable, str(error)) from None


@dataclass(frozen=True)
class Person:
    """What is known of one person; every field optional. No address, by design."""

    name: str = ""
    email: str = ""
    phone: str = ""
    case_reference: str = ""
    user_id: int | None = None
    account_name: str = ""

    def values(self) -> dict[str, str]:
        known = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "case_reference": self.case_reference,
            "user_id": "" if self.user_id is None else str(self.user_id),
            "account_name": self.account_name,
        }
        cleaned = {key: " ".join(value.split()) for key, value in known.items()}
        for key, value in cleaned.items():
            if len(value) > MAX_FIELD:
                raise InvalidInput(
                    N_("This is at most %(limit)d characters."), field=key, limit=MAX_FIELD
                )
        return {key: value for key, value in cleaned.items() if value}


def _record(pseudonym: str) -> str:
    return f"identity:{pseudonym}"


def find_identity(
    session: Session, keyring: VaultKeyring, kind: str, value: str
) -> VaultIdentity | None:
    """The identity with this identifier (under any key of the keyring), if there is one."""
    if kind not in INDEXED or not value.strip():
        return None
    digests = blind_index_all_keys(keyring, kind, value)
    return session.scalars(
        select(VaultIdentity)
        .join(VaultIndex, VaultIndex.identity_id == VaultIdentity.id)
        .where(VaultIndex.kind == kind, VaultIndex.digest.in_(digests))
        .order_by(VaultIdentity.id)
        .limit(1)
    ).first()


def keep_identity(
    session: Session, keyring: VaultKeyring, person: Person, *, now: datetime
) -> VaultIdentity | None:
    """Store ``person`` (or add what is new to the identity an identifier already finds).

    Returns None when nothing at all is known (an unknown perpetrator has no identity).
    """
    values = person.values()
    if not values:
        return None
    identity = next(
        (
            found
            for kind in INDEXED
            if kind in values
            and (found := find_identity(session, keyring, kind, values[kind])) is not None
        ),
        None,
    )
    if identity is None:
        identity = VaultIdentity(pseudonym=_unused_pseudonym(session), created_at=now)
        session.add(identity)
    identity.updated_at = now
    record = _record(identity.pseudonym)
    for field, value in values.items():
        if getattr(identity, field) is None:  # what an earlier report said stays
            setattr(identity, field, seal(keyring, value, record=record, field=field))
    session.flush()
    for kind in INDEXED:
        if kind in values:
            _index(session, keyring, identity, kind, values[kind])
    return identity


def _unused_pseudonym(session: Session) -> str:
    while True:  # 40 bits: a collision is rare, but possible, and a unique key would fail
        candidate = new_pseudonym()
        if (
            session.scalar(select(VaultIdentity.id).where(VaultIdentity.pseudonym == candidate))
            is None
        ):
            return candidate


def _index(
    session: Session, keyring: VaultKeyring, identity: VaultIdentity, kind: str, value: str
) -> None:
    key_id = keyring.current_id
    existing = session.scalars(
        select(VaultIndex).where(
            VaultIndex.identity_id == identity.id,
            VaultIndex.kind == kind,
            VaultIndex.key_id == key_id,
        )
    ).first()
    if existing is None:
        session.add(
            VaultIndex(
                identity_id=identity.id,
                kind=kind,
                key_id=key_id,
                digest=blind_index(keyring, kind, value),
            )
        )


def identity_by_pseudonym(session: Session, pseudonym: str) -> VaultIdentity:
    identity = (
        session.scalars(select(VaultIdentity).where(VaultIdentity.pseudonym == pseudonym)).first()
        if is_pseudonym(pseudonym)
        else None
    )
    if identity is None:
        raise NotFound(N_("No such person."))
    return identity


def open_identity(keyring: VaultKeyring, identity: VaultIdentity) -> dict[str, str]:
    """Every known field of ``identity``, decrypted (for Wachter's own use; see module doc)."""
    record = _record(identity.pseudonym)
    opened: dict[str, str] = {}
    for field in FIELDS:
        sealed = getattr(identity, field)
        if sealed is not None:
            opened[field] = open_sealed(keyring, sealed, record=record, field=field)
    return opened


def check_reason(reason: str) -> str:
    return stated_reason(
        reason,
        too_short=N_("Say why you need to see who this is (at least %(minimum)d characters)."),
    )


def reveal(
    session: Session,
    keyring: VaultKeyring,
    pseudonym: str,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    context: str = "",
) -> dict[str, str]:
    """Who ``pseudonym`` is, for a person with the right role and a fresh step-up.

    The audit entry records who looked, at whom (by pseudonym), why and in which context
    (``incident:42``), never what was shown.
    """
    text = check_reason(reason)
    identity = identity_by_pseudonym(session, pseudonym)
    opened = open_identity(keyring, identity)
    record_audit(
        session,
        actor=actor,
        action="vault.identity_revealed",
        target=f"person:{identity.pseudonym}",
        outcome="success",
        now=now,
        details={"reason": text, "context": context[:100], "fields": ",".join(sorted(opened))},
    )
    return opened


def pseudonym_of_user(session: Session, keyring: VaultKeyring, user_id: int) -> str | None:
    """The pseudonym of a Wachter account's holder, if they were ever in a report."""
    identity = find_identity(session, keyring, "user_id", str(user_id))
    return None if identity is None else identity.pseudonym
