"""The alert queue's live notice: new alerts since the page was shown, under its filters."""

from __future__ import annotations

import re

import pytest

from tests.support.accounts import enrolled_user, sign_in
from tests.web.test_alerts_pages import make_alerts, text_of

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = [pytest.mark.one_backend, pytest.mark.usefixtures("english")]


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


def test_the_queue_polls_for_alerts_raised_after_it_was_shown(
    client, analyst, clock, rollback_database
):
    [first] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    page = client.get("/alerts?severity=high").get_data(as_text=True)
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 20s"', page).group(1)
    assert poll == f"/alerts/news?after={first}&amp;severity=high"
    url = poll.replace("&amp;", "&")
    assert text_of(client.get(url)) == ""

    make_alerts(rollback_database, clock, ("rule-2", "high", "bob"), ("rule-3", "low", "carol"))
    response = client.get(url)
    assert "1 new alert since this page was shown." in text_of(response)  # the low one is filtered
    assert 'href="/alerts?severity=high"' in response.get_data(as_text=True)


@pytest.mark.parametrize("after", ["", "-1", "1 or 1=1", "9" * 19])
def test_a_bad_position_is_refused(client, analyst, after):
    assert client.get("/alerts/news", query_string={"after": after}).status_code == 400


def test_only_alert_readers_may_poll(app, client, clock):
    sign_in(client, enrolled_user(app, role="staff"), clock)
    assert client.get("/alerts/news?after=0").status_code == 403
