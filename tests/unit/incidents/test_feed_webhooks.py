"""Webhook pieces without a database: which addresses a subscription may have, the retry
schedule, the cursor and limit arguments, and signatures during a secret rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core import InvalidInput
from incidents.feeds.reading import parse_cursor, parse_limit, parse_min_severity, severities_from
from incidents.feeds.signing import new_secret, signed_headers
from incidents.feeds.webhook_delivery import MAX_ATTEMPTS, backoff
from incidents.feeds.webhooks import validate_url


@pytest.mark.parametrize(
    "url",
    [
        "https://soc.example.nl/hooks/wachter",
        "https://10.1.2.3:8443/in?source=wachter",
        "https://[2001:db8::5]/in",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:8080/",
        "  https://soc.example.nl/x  ",
    ],
)
def test_https_addresses_and_plain_http_on_this_machine_are_accepted(url):
    assert validate_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "at most"),
        ("https://soc.example.nl/" + "a" * 2000, "at most"),
        ("http://soc.example.nl/hook", "only for this machine"),
        ("http://10.0.0.5/hook", "only for this machine"),
        ("ftp://soc.example.nl/", "https://"),
        ("javascript:alert(1)", "https://"),
        ("soc.example.nl/hook", "https://"),
        ("https:///nohost", "https://"),
        ("https://user:pass@soc.example.nl/", "user name or password"),
        ("https://soc.example.nl/a b", "spaces"),
        ("https://soc.example.nl/\r\nX-Evil: 1", "spaces"),
        ("https://sóc.example.nl/", "non-ASCII"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://soc.example.nl:99999/", "not a web address"),
        ("https://soc.example.nl/#frag", "not a web address"),
        ("https://bad_host!.example/", "host name is not valid"),
    ],
)
def test_unusable_addresses_are_refused_with_the_reason(url, reason):
    with pytest.raises(InvalidInput) as refused:
        validate_url(url)
    assert refused.value.field == "url"
    assert reason in refused.value.message


def test_retries_back_off_exponentially_and_give_up_after_about_a_day():
    assert [backoff(n) for n in range(1, 9)] == [
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),
    ]
    # The waits between the first and the last attempt of one entry.
    retried_for = sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert timedelta(hours=22) < retried_for <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("text", "value"), [(None, 0), ("", 0), ("0", 0), ("17", 17), (" 42 ", 42)]
)
def test_a_cursor_is_the_last_feed_id_seen(text, value):
    assert parse_cursor(text) == value


@pytest.mark.parametrize("text", ["-1", "1.5", "abc", "1e3", "0x10", "9" * 19, "١٢"])
def test_a_malformed_cursor_is_refused(text):
    with pytest.raises(InvalidInput) as refused:
        parse_cursor(text)
    assert refused.value.field == "after"


@pytest.mark.parametrize(("text", "value"), [(None, 100), ("", 100), ("1", 1), ("1000", 1000)])
def test_the_limit_defaults_to_100_and_allows_up_to_1000(text, value):
    assert parse_limit(text) == value


@pytest.mark.parametrize("text", ["0", "1001", "-5", "ten", "10.0", "99999999999999999999"])
def test_a_limit_out_of_range_is_refused_with_the_range(text):
    with pytest.raises(InvalidInput) as refused:
        parse_limit(text)
    assert "1 to 1000" in refused.value.message


def test_min_severity_names_a_severity_and_everything_above_it():
    assert parse_min_severity("high") == "high"
    assert severities_from("high") == ["high", "critical"]
    assert severities_from(None)[0] == "informational"
    with pytest.raises(InvalidInput):
        parse_min_severity("urgent")


def test_during_a_rotation_both_secrets_verify_the_same_message():
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    body = '{"event":{"kind":"alert"}}'
    headers = signed_headers(
        new, message_id="alert-feed-1", body=body, now=now, previous_secrets=[old]
    )
    assert Webhook(new).verify(body, headers) == {"event": {"kind": "alert"}}
    assert Webhook(old).verify(body, headers) == {"event": {"kind": "alert"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
