"""Pseudonyms for people in everything that leaves Wachter (feeds, webhooks, CEF, STIX).

A pseudonym is a keyed hash (HMAC-SHA256) of the entity's kind and normalised value: the
same account is the same pseudonym in every feed, so a SOC can still correlate, but the
name cannot be read back or guessed from a list of names without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import InvalidInput
from incidents.entities import EntityKind, normalise
from incidents.feeds.models import PseudonymKey

PREFIX = "psn-"
_SESSION_KEY = "wachter.pseudonymiser"
_MADE_HERE = "wachter.pseudonym_key_made"


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def pseudonym(self, kind: EntityKind, value: str) -> str:
        try:
            text = normalise(kind, value)
        except InvalidInput:  # not of the kind's shape: hash what was given
            text = value
        digest = hmac.new(self._key, f"{kind.value}:{text}".encode(), hashlib.sha256).digest()
        return PREFIX + base64.b32encode(digest[:10]).decode().lower()


def pseudonymiser(session: Session, now: datetime) -> Pseudonymiser:
    """The pseudonymiser of this installation (its key is made on first use).

    Kept in the session once read, so a batch of feed entries reads the key once; not when
    this session made the key, as its transaction could still roll back.
    """
    cached = session.info.get(_SESSION_KEY)
    if isinstance(cached, Pseudonymiser):
        return cached
    key = session.scalar(select(PseudonymKey.key).where(PseudonymKey.id == 1))
    if key is None:
        try:
            with session.begin_nested():
                session.add(PseudonymKey(id=1, key=secrets.token_bytes(32), created_at=now))
            session.info[_MADE_HERE] = True
        except IntegrityError:  # another transaction made it first
            pass
        key = session.scalar(select(PseudonymKey.key).where(PseudonymKey.id == 1))
    assert key is not None
    found = Pseudonymiser(bytes(key))
    if not session.info.get(_MADE_HERE):
        session.info[_SESSION_KEY] = found
    return found
