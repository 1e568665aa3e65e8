"""What a request needs from the process: settings, the database, the clock.

Stored once on ``app.extensions``; a request opens at most one session and the
request commits it once (after the view returns without error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session

from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from core import Clock, Settings
from staff_safety.vault_crypto import VaultKeyring
from storage import Database

_KEY = "wachter"


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    database: Database
    clock: Clock
    hasher: PasswordHasher
    box: SecretBox
    vault: VaultKeyring  # the identity vault's keys (staff_safety.vault)


def init_app(app: Flask, context: WebContext) -> None:
    app.extensions[_KEY] = context
    app.after_request(_commit)
    app.teardown_request(_close)


def web_context() -> WebContext:
    context: WebContext = current_app.extensions[_KEY]
    return context


def db_session() -> Session:
    """The request's session, opened on first use.

    A GET or HEAD reads (and at most writes its audit entry and the session's last-seen
    time): its session takes SQLite's write lock only when it writes, so page views do not
    queue behind each other. Other methods take the lock with their first statement.
    """
    if "db_session" not in g:
        database = web_context().database
        reading = request.method in ("GET", "HEAD")
        g.db_session = database.read_mostly_session() if reading else database.sessions()
    session: Session = g.db_session
    return session


def when_rendered(write: Callable[[Session], object]) -> None:
    """A page view's audit entry, written after the page is rendered, just before the commit.

    A GET reads without SQLite's write lock until its first write; writing the audit entry
    first would hold the lock through all of the page's reading and rendering, and page views
    would queue behind each other (bench/console). A failed request writes nothing, as
    before; a failure to write fails the request, so no read goes unrecorded. Other methods
    write at once, in the order of their changes.
    """
    if request.method in ("GET", "HEAD"):
        g.setdefault("after_render", []).append(write)
    else:
        write(db_session())


def discard_changes() -> None:
    """Called by the error handler: nothing a failed request did is committed."""
    g.request_failed = True
    if "db_session" in g:
        g.db_session.rollback()


def _commit(response: Response) -> Response:
    if g.get("request_failed"):
        return response
    for write in g.pop("after_render", []):
        write(db_session())
    if "db_session" in g:
        g.db_session.commit()
    return response


def _close(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()  # rolls back whatever was not committed
