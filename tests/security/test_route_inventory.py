"""Every route is in the policy table, and every role meets exactly the policy (SECURITY_CASES 37).

Walks ``app.url_map`` rather than a hand-kept list: a new route that is not in
``web.policy.POLICY`` fails here before it can ship (and answers 403 meanwhile).
"""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from access_control import Role, permissions_of
from tests.support.accounts import enrolled_user, sign_in
from tests.support.csrf import csrf_token_from
from web.policy import POLICY, Access, rule_for

IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Routes that end the caller's own session; the walk would sign itself out.
SELF_ENDING = {"auth.logout", "account.logout_everywhere", "account.reset_own_mfa"}


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, example URL) for every route the app serves."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            values = {  # a value each converter accepts
                argument: 1 if isinstance(converter, IntegerConverter) else "x"
                for argument, converter in rule._converters.items()
            }
            if rule.endpoint == "static":
                values = {"filename": "css/wachter.css"}
            url = rule.build(values)[1]  # this rule's own URL, whatever shares its endpoint
            found.extend(
                (rule.endpoint, method, url) for method in sorted(rule.methods - IGNORED_METHODS)
            )
    return sorted(found)


def test_every_route_and_method_is_in_the_policy(app):
    missing = [
        (endpoint, method)
        for endpoint, method, _ in routes(app)
        if rule_for(endpoint, method) is None
    ]
    assert missing == []


def test_the_policy_names_no_route_that_does_not_exist(app):
    served = {(endpoint, method) for endpoint, method, _ in routes(app)}
    assert sorted(set(POLICY) - served) == []


def test_anonymous_visitors_reach_only_public_routes(app, client):
    for endpoint, method, url in routes(app):
        rule = rule_for(endpoint, method)
        if rule.access in (Access.PUBLIC, Access.TOKEN):
            continue
        response = client.open(url, method=method, headers={"Accept": "text/html"})
        assert response.status_code in (302, 303, 400), (endpoint, method, response.status_code)
        if response.status_code != 400:  # 400: a POST refused for its missing CSRF token first
            assert "/login" in response.headers["Location"], (endpoint, method)


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_each_role_gets_exactly_the_console_routes_its_permissions_allow(app, client, clock, role):
    account = enrolled_user(app, role=role)
    sign_in(client, account, clock)
    granted = permissions_of(role)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    checked = 0
    for endpoint, method, url in routes(app):
        rule = rule_for(endpoint, method)
        if rule.access != Access.SIGNED_IN or endpoint in SELF_ENDING:
            continue
        data = {"csrf_token": token} if method != "GET" else None
        response = client.open(url, method=method, data=data, headers={"Accept": "text/html"})
        allowed = rule.permission in granted
        if allowed:
            assert response.status_code != 403, (role, endpoint, method)
        else:
            assert response.status_code == 403, (role, endpoint, method, response.status_code)
        checked += 1
    assert checked > 0
    assert client.get("/account").status_code == 200, "the walk must not have signed itself out"
