"""Errors raised by the domain reach people in their language, with their details filled in."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from access_control import enrolment
from access_control.models import User
from tests.support.csrf import csrf_token_from
from web.context import web_context


@pytest.fixture
def setup_url(app):
    with app.app_context():
        context = web_context()
        with context.database.unit_of_work() as session:
            token = enrolment.create_first_admin_link(session, now=context.clock.now())
    return f"/setup/{token}"


def submit_setup(client, setup_url, password, language):
    headers = {"Accept-Language": language}
    page = client.get(setup_url, headers=headers).get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_from(page),
        "username": "beheer",
        "display_name": "Anna de Vries",
        "password": password,
        "password_again": password,
    }
    return client.post(setup_url, data=form, headers=headers)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nl", "Gebruik minstens 12 tekens."), ("en", "Use at least 12 characters.")],
)
def test_a_password_rule_is_explained_in_the_readers_language(
    client, setup_url, language, expected
):
    response = submit_setup(client, setup_url, "te kort", language)
    assert response.status_code == 400
    assert expected in response.get_data(as_text=True)


def test_parameters_are_filled_into_the_translation(client, setup_url):
    response = submit_setup(client, setup_url, "mijn beheer wachtwoord is lang", "nl")
    assert response.status_code == 400
    assert "Het wachtwoord mag uw gebruikersnaam niet bevatten." in response.get_data(as_text=True)


def test_a_used_link_is_refused_in_dutch(client, setup_url):
    assert submit_setup(client, setup_url, "paarse olifanten dansen", "nl").status_code == 303
    response = client.get(setup_url, headers={"Accept-Language": "nl"})
    assert response.status_code == 404
    assert "Deze link is niet geldig" in response.get_data(as_text=True)


def test_a_refused_password_is_explained_on_the_setup_form_itself(client, setup_url, db_session):
    response = submit_setup(client, setup_url, "te kort", "nl")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'role="alert">Gebruik minstens 12 tekens.</p>' in page
    assert 'name="password_again"' in page  # the form, ready for another try
    assert "paarse" not in page  # no password is echoed back
    assert db_session.scalar(select(func.count()).select_from(User)) == 0  # rolled back
    assert submit_setup(client, setup_url, "paarse olifanten dansen", "nl").status_code == 303
