"""The first-run setup link stays open until an administrator exists, not until any account
does: ``wachter demo`` on a fresh installation makes officer and staff accounts first."""

from __future__ import annotations

from access_control import enrolment
from tests.support.accounts import enrolled_user
from web.context import web_context


def setup_link(app) -> str:
    with app.app_context():
        context = web_context()
        with context.database.unit_of_work() as session:
            token = enrolment.create_first_admin_link(session, now=context.clock.now())
    return f"/setup/{token}"


def test_the_setup_link_works_while_only_other_roles_have_accounts(app, client):
    enrolled_user(app, role="security_officer", username="demo-s.dekker")
    enrolled_user(app, role="staff", username="demo-medewerker")
    assert client.get(setup_link(app)).status_code == 200


def test_the_setup_link_is_dead_once_an_administrator_exists(app, client):
    link = setup_link(app)
    enrolled_user(app, role="admin", username="beheer")
    assert client.get(link).status_code == 404
