"""Fixtures the console's page tests share: English pages and a signed-in security officer.

Modules that read English text use ``pytestmark = pytest.mark.usefixtures("english")``; a
module's own ``officer`` fixture (an older module's) takes precedence over this one.
"""

from __future__ import annotations

import pytest

from tests.support.accounts import Account, enrolled_user, sign_in


@pytest.fixture
def english(client):
    """The test client reads pages in English (test_i18n checks every Dutch message)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def officer(app, client, clock) -> Account:
    """A security officer, signed in on the test client."""
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account
