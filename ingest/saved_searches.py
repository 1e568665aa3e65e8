"""Saved event searches: a console user keeps a query and time range under a name.

    save_search(session, actor=…, name=…, query=…, since=…, until=…, now=…) -> SavedSearch
    list_saved_searches(session, user_id=…) -> list[SavedSearch]
    delete_saved_search(session, actor=…, saved_search_id=…, now=…) -> SavedSearch

A saved search belongs to one user: nobody else lists, runs or deletes it (someone else's
id is ``NotFound``, as if it did not exist, so ids tell nothing). The time range is kept
as typed, so ``now-24h`` means the last day whenever it runs. Bounded: a name of at most
``MAX_NAME`` characters, unique per user without regard to case; a query that the search
reads (non-empty, at most ``MAX_QUERY_LENGTH``); at most ``MAX_PER_USER`` each. Saving and
deleting are audited (the query too: it can name a person, as the search's own audit does).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import InvalidInput, NotFound
from core.i18n import N_
from ingest.models import SavedSearch
from ingest.search.language import parse_query
from ingest.search.service import time_range

MAX_NAME = 80
MAX_PER_USER = 50


def list_saved_searches(session: Session, *, user_id: int) -> list[SavedSearch]:
    """The user's saved searches by name."""
    query = select(SavedSearch).where(SavedSearch.user_id == user_id)
    return sorted(session.scalars(query), key=lambda saved: (saved.name.casefold(), saved.id))


def save_search(
    session: Session,
    *,
    actor: Actor,
    name: str,
    query: str,
    since: str = "",
    until: str = "",
    now: datetime,
) -> SavedSearch:
    """Keep ``query`` and its range as ``name`` for ``actor``; bad input stores nothing."""
    user_id = _owner(actor)
    name = " ".join(name.split())  # runs of spaces and line breaks are one space
    _check_name(name)
    query, since, until = query.strip(), since.strip(), until.strip()
    if not query:
        raise InvalidInput(
            N_("A saved search needs a query: type one first (* finds every event)."), field="q"
        )
    parse_query(query, now=now)  # refuses what the search refuses, with its reason
    time_range(since or None, until or None, now=now)
    existing = list_saved_searches(session, user_id=user_id)
    if len(existing) >= MAX_PER_USER:
        raise InvalidInput(
            N_("You have %(limit)d saved searches, the most there can be: delete one first."),
            field="name",
            limit=MAX_PER_USER,
        )
    if any(saved.name.casefold() == name.casefold() for saved in existing):
        raise _duplicate(name)
    saved = SavedSearch(
        user_id=user_id,
        name=name,
        query=query,
        since=since or None,
        until=until or None,
        created_at=now,
    )
    try:
        with session.begin_nested():  # the same name saved twice at once (two tabs)
            session.add(saved)
            session.flush()
    except IntegrityError:
        raise _duplicate(name) from None
    _audit(session, "saved_search.create", saved, actor=actor, now=now)
    return saved


def _duplicate(name: str) -> InvalidInput:
    return InvalidInput(
        N_("You already have a saved search called “%(name)s”: choose another name."),
        field="name",
        name=name,
    )


def get_saved_search(session: Session, *, actor: Actor, saved_search_id: int) -> SavedSearch:
    """``actor``'s own saved search; anyone else's is ``NotFound``."""
    saved = session.get(SavedSearch, saved_search_id)
    if saved is None or saved.user_id != _owner(actor):
        raise NotFound(N_("There is no such saved search."))
    return saved


def delete_saved_search(
    session: Session, *, actor: Actor, saved_search_id: int, now: datetime
) -> SavedSearch:
    """Delete ``actor``'s saved search (returned, for its name)."""
    saved = get_saved_search(session, actor=actor, saved_search_id=saved_search_id)
    _audit(session, "saved_search.delete", saved, actor=actor, now=now)
    session.delete(saved)
    session.flush()
    return saved


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise ValueError("saved searches belong to a signed-in user")
    return actor.user_id


def _check_name(name: str) -> None:
    if not name:
        raise InvalidInput(N_("Give the search a name."), field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(
            N_("A name is at most %(limit)d characters."), field="name", limit=MAX_NAME
        )
    if not name.isprintable():  # control, bidi and zero-width characters
        raise InvalidInput(N_("A name cannot contain invisible characters."), field="name")


def _audit(
    session: Session, action: str, saved: SavedSearch, *, actor: Actor, now: datetime
) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        target=f"saved_search:{saved.id}",
        outcome="success",
        now=now,
        details={"name": saved.name, "query": saved.query},
    )
