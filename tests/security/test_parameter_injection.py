"""SECURITY_CASES #44: sort, column and field parameters cannot reach SQL or hidden columns.

No list takes its order or columns from the request; a hostile ``sort``, ``order`` or
``fields`` (SQL, a column of the accounts table) is ignored or refused, never run, and
no hidden column appears in the answer.
"""

from __future__ import annotations

import pytest

from access_control.tokens import Scope
from tests.security.helpers import account, sign_in
from tests.support.tokens import bearer, issue_token

HOSTILE = {
    "sort": "(SELECT password_hash FROM user_account LIMIT 1)",
    "order": "id; DROP TABLE event--",
    "fields": "password_hash,totp_secret",
    "columns": "user_account.password_hash",
}
HIDDEN = ("password_hash", "totp_secret", "$argon2")


@pytest.mark.parametrize(
    ("path", "query"),
    [("/incidents", {}), ("/alerts", {}), ("/events", {"q": "*"}), ("/staff-safety", {})],
)
def test_console_lists_ignore_or_refuse_sort_and_field_parameters(
    app, client, clock, rollback_database, secrets, path, query
):
    sign_in(client, account(app, secrets, role="security_officer"), clock, secrets)
    plain = client.get(path, query_string=query)
    hostile = client.get(path, query_string={**query, **HOSTILE})
    assert plain.status_code == 200

    assert hostile.status_code in (plain.status_code, 400)
    assert hostile.status_code < 500
    text = hostile.get_data(as_text=True)
    assert not any(hidden in text for hidden in HIDDEN)
    assert client.get("/events?q=*").status_code == 200  # the event table is still there


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/v1/incidents", Scope.INCIDENTS_READ),
        ("/api/v1/events", Scope.EVENTS_READ),
        ("/api/v1/reports", Scope.REPORTS_READ),
        ("/api/v1/alerts", Scope.ALERTS_READ),
    ],
)
def test_api_lists_ignore_or_refuse_sort_and_field_parameters(
    client, clock, rollback_database, path, scope
):
    _id, token = issue_token(rollback_database, clock, scope)
    plain = client.get(path, headers=bearer(token))
    hostile = client.get(path, headers=bearer(token), query_string=HOSTILE)

    assert plain.status_code == 200
    assert hostile.status_code in (200, 400)
    if hostile.status_code == 200:
        assert hostile.get_json() == plain.get_json()  # the parameters changed nothing
    assert not any(hidden in hostile.get_data(as_text=True) for hidden in HIDDEN)
