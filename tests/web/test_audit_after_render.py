"""A page view's audit entry is written after the page is rendered (so a GET holds SQLite's
write lock only for that entry and the commit); a change's entry is written at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Response, before_render_template
from sqlalchemy import event, select

from access_control.models import AuthSession
from web import context

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = pytest.mark.one_backend


def test_a_page_view_writes_its_entry_when_the_response_is_done(app):
    written: list[str] = []
    with app.test_request_context("/alerts", method="GET"):
        context.when_rendered(lambda session: written.append("entry"))
        assert written == []  # not while the view reads and renders
        context._commit(Response())
        assert written == ["entry"]


def test_a_failed_page_view_writes_nothing(app):
    written: list[str] = []
    with app.test_request_context("/alerts", method="GET"):
        context.when_rendered(lambda session: written.append("entry"))
        context.discard_changes()
        context._commit(Response())
    assert written == []


def test_a_change_writes_its_entry_at_once(app):
    written: list[str] = []
    with app.test_request_context("/alerts/bulk", method="POST"):
        context.when_rendered(lambda session: written.append("entry"))
        assert written == ["entry"]


def test_a_page_view_records_the_sessions_activity_after_rendering(
    app, client, clock, officer, rollback_database
):
    """Written before the view (as it was), the last-seen time held SQLite's write lock
    through all of the page's reading and rendering."""
    clock.advance(timedelta(minutes=5))  # the session's last-seen time is due
    happened: list[str] = []

    def statement(_conn, _cursor, text, *_args):
        if text.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            happened.append(" ".join(text.split()[:3]))  # "UPDATE auth_session SET"

    def rendering(_sender, template, **_extra):
        happened.append(f"render {template.name}")

    event.listen(rollback_database.engine, "before_cursor_execute", statement)
    before_render_template.connect(rendering, app)
    try:
        assert client.get("/alerts").status_code == 200
    finally:
        event.remove(rollback_database.engine, "before_cursor_execute", statement)
        before_render_template.disconnect(rendering, app)

    assert happened[0].startswith("render")  # nothing written before the page is rendered
    assert any(what.startswith("UPDATE auth_session") for what in happened[1:])
    with rollback_database.unit_of_work() as session:
        seen = session.scalars(select(AuthSession.last_seen_at)).all()
    assert clock.now() in seen
