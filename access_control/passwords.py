"""Usernames and passwords: canonical forms, the password policy and argon2id hashing.

Usernames are compared in one canonical form (NFKC, trimmed, case-folded), so ``Alice``,
`` alice ``, ``ALICE`` and ``alice`` in fullwidth letters (U+FF41…) are one account with one failure
counter (SECURITY_CASES #16). Passwords are NFKC-normalised before they are checked or
hashed, so the composed and decomposed spellings of one password verify alike (#19).

The policy follows NIST SP 800-63B §3.1.1.2: 12 to 1024 characters, no composition
rules, and a check against a list of common passwords and context-specific words. The
common-password list is zxcvbn's ``passwords`` frequency list (zxcvbn 4.5.0,
``zxcvbn.frequency_lists.FREQUENCY_LISTS["passwords"]``: the 30,000 most frequent
passwords of leaked password sets, compiled by Dropbox's zxcvbn project). It is loaded on
first use and compared case-insensitively; nothing is typed in by hand here.

Hashing is argon2id (argon2-cffi). Inputs above 1024 characters are refused before any
hashing so a huge password field cannot tie up the CPU (#20). ``verify_dummy`` does the
work of a real verification for unknown usernames, so timing does not tell them apart
(#17).
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from typing import TYPE_CHECKING

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from access_control.errors import WeakPassword
from core import InvalidInput
from core.i18n import N_

if TYPE_CHECKING:
    from core import Settings

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# NFKC can shrink a string (a decomposed accent recombines); no character decomposes into
# more than four, so a longer raw input can never normalise to an acceptable length.
_MAX_RAW_PASSWORD_LENGTH = 4 * MAX_PASSWORD_LENGTH
MAX_USERNAME_LENGTH = 150
_MAX_RAW_USERNAME_LENGTH = 1000
CONTEXT_WORDS = ("wachter", "cjib", "password", "wachtwoord", "secops")
# Shorter names and name parts would forbid too many passwords by accident.
_MIN_USERNAME_IN_PASSWORD = 3
_MIN_NAME_PART_IN_PASSWORD = 4


def canonical_username(raw: str) -> str:
    """The one spelling of a username under which it is stored, looked up and throttled."""
    if len(raw) > _MAX_RAW_USERNAME_LENGTH:
        raise InvalidInput(TOO_LONG_USERNAME, field="username", limit=MAX_USERNAME_LENGTH)
    username = unicodedata.normalize("NFKC", raw).strip()
    # Case folding can leave text that is no longer NFKC (Unicode's NFKC_Casefold).
    username = unicodedata.normalize("NFKC", username.casefold())
    if not username:
        raise InvalidInput(N_("Enter a username."), field="username")
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidInput(TOO_LONG_USERNAME, field="username", limit=MAX_USERNAME_LENGTH)
    for character in username:
        if character.isspace() or unicodedata.category(character)[0] == "Z":
            raise InvalidInput(N_("A username cannot contain spaces."), field="username")
        if unicodedata.category(character)[0] == "C":
            raise InvalidInput(
                N_("A username cannot contain control or invisible characters."), field="username"
            )
    return username


TOO_LONG_USERNAME = N_("A username has at most %(limit)d characters.")
TOO_LONG_PASSWORD = N_("Use at most %(limit)d characters.")


def normalise_password(raw: str) -> str:
    """NFKC: the form in which a password is checked and hashed. Nothing is cut off."""
    return unicodedata.normalize("NFKC", raw)


def check_password_policy(password: str, *, username: str, display_name: str = "") -> None:
    """Raise ``WeakPassword`` with the reason when ``password`` may not be used."""
    normalised = _bounded(password)
    if len(normalised) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(N_("Use at least %(limit)d characters."), limit=MIN_PASSWORD_LENGTH)
    folded = normalised.casefold()
    if folded in _common_passwords():
        raise WeakPassword(N_("This password is on a list of common passwords. Choose another."))
    user = normalise_password(username).strip().casefold()
    if user and (folded == user or (len(user) >= _MIN_USERNAME_IN_PASSWORD and user in folded)):
        raise WeakPassword(N_("The password must not contain your username."))
    for part in normalise_password(display_name).casefold().split():
        if len(part) >= _MIN_NAME_PART_IN_PASSWORD and part in folded:
            raise WeakPassword(N_("The password must not contain your name."))
    for word in CONTEXT_WORDS:
        if word in folded:
            raise WeakPassword(
                N_("The password must not contain the word \u201c%(word)s\u201d."), word=word
            )


def _bounded(password: str) -> str:
    """Normalise ``password``, refusing anything too long to hash before doing any work."""
    if len(password) > _MAX_RAW_PASSWORD_LENGTH:
        raise WeakPassword(TOO_LONG_PASSWORD, limit=MAX_PASSWORD_LENGTH)
    normalised = normalise_password(password)
    if len(normalised) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(TOO_LONG_PASSWORD, limit=MAX_PASSWORD_LENGTH)
    return normalised


@functools.cache
def _common_passwords() -> frozenset[str]:
    # Imported here: the module holds several large word lists we need only once.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415

    entries = FREQUENCY_LISTS["passwords"]
    if isinstance(entries, str):  # older zxcvbn releases ship comma-separated text
        entries = entries.split(",")
    return frozenset(str(entry).casefold() for entry in entries)


class PasswordHasher:
    """argon2id with explicit cost; passwords are normalised and length-checked first."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self.memory_kib = memory_kib
        self.time_cost = time_cost
        self.parallelism = parallelism
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy_hash = _dummy_hash(memory_kib, time_cost, parallelism)

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )

    def hash(self, password: str) -> str:
        """An encoded ``$argon2id$…`` string with a fresh random salt."""
        return self._hasher.hash(_bounded(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True only when ``password`` matches; False for a mismatch or an unusable hash.

        A missing hash (an account without a password yet) costs a dummy verification,
        so it cannot be told apart from a wrong password by timing.
        """
        candidate = _bounded(password)
        if stored_hash is None:
            self._verify_quietly(self._dummy_hash, candidate)
            return False
        return self._verify_quietly(stored_hash, candidate)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification; for usernames that do not exist."""
        self._verify_quietly(self._dummy_hash, _bounded(password))

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters (or is not an argon2 hash)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, UnicodeEncodeError):
            return True

    def _verify_quietly(self, stored_hash: str, normalised: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, normalised)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            return False


@functools.cache
def _dummy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    """A hash with the same cost as real ones, of a password nobody knows (once per process)."""
    hasher = argon2.PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
    )
    return hasher.hash(secrets.token_urlsafe(32))
