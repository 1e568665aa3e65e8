"""Shares are written in the reader's notation: a decimal comma in Dutch, a point in English."""

from __future__ import annotations

import pytest

from web.i18n import percent

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = pytest.mark.one_backend


@pytest.mark.parametrize(("language", "text"), [("nl", "3,3%"), ("en", "3.3%")])
def test_a_share_in_the_readers_notation(app, language, text):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert percent(3.333) == text
        assert percent(None) == "—"
