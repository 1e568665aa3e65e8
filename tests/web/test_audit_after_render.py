"""A page view's audit entry is written after the page is rendered (so a GET holds SQLite's
write lock only for that entry and the commit); a change's entry is written at once."""

from __future__ import annotations

import pytest
from flask import Response

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
