"""An htmx refresh after the session ended loads the sign-in page as a page (never into a panel)."""

from __future__ import annotations

import pytest

# Page rendering: the queries behind it are tested on both backends elsewhere.
pytestmark = pytest.mark.one_backend


def test_a_refresh_without_a_session_sends_the_browser_to_sign_in(client):
    response = client.get(
        "/alerts/news?after=0",
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1:8080/alerts?q=vpn"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/alerts"
    assert response.get_data() == b""


def test_an_off_site_page_in_the_header_is_not_a_target(client):
    response = client.get(
        "/dashboard/panels",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example//x"},
    )
    assert response.headers["HX-Redirect"] == "/login"


def test_a_plain_request_is_still_redirected(client):
    response = client.get("/alerts")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/alerts"
