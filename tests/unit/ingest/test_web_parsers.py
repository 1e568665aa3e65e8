"""Web server logs: nginx/Apache access lines (Combined and Common Log Format) with ECS and
Sigma webserver fields, and Apache error lines in the 2.2 and 2.4 layouts."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.parsers import ParseError, detect_line_parser, get_parser
from tests.support.shared_data import shared_data

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
COMBINED = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0"'
    ' 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)
APACHE_24_ERROR = (
    "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416]"
    " [client 72.15.99.187:53722] AH00124: Request exceeded the limit of 10 internal"
    " redirects due to probable configuration error., referer: http://example.com/a"
)


def access(line: str, name: str = "apache-access") -> dict:
    return get_parser(name).parse_line(line, received=RECEIVED)


def error(line: str) -> dict:
    return get_parser("apache-error").parse_line(line, received=RECEIVED)


def test_a_combined_line_gives_the_ecs_web_fields():
    document = access(COMBINED)

    assert document["@timestamp"] == datetime(
        2000, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=-7))
    )
    assert document["event"] == {
        "original": COMBINED,
        "kind": "event",
        "dataset": "apache.access",
        "category": ["web"],
        "type": ["access"],
        "outcome": "success",
    }
    assert document["source"] == {"ip": "127.0.0.1"}
    assert document["user"] == {"name": "frank"}
    assert document["http"] == {
        "request": {"method": "GET", "referrer": "http://www.example.com/start.html"},
        "response": {"status_code": 200, "body": {"bytes": 2326}},
        "version": "1.0",
    }
    assert document["url"] == {
        "original": "/apache_pb.gif?a=1&b=2",
        "path": "/apache_pb.gif",
        "query": "a=1&b=2",
    }
    assert document["user_agent"] == {"original": "Mozilla/4.08 [en] (Win98; I ;Nav)"}
    assert document["message"] == "GET /apache_pb.gif?a=1&b=2 HTTP/1.0"
    assert document["related"] == {"ip": ["127.0.0.1"], "user": ["frank"]}


def test_a_combined_line_keeps_the_sigma_webserver_fields():
    document = access(COMBINED)

    assert {name: value for name, value in document.items() if "-" in name} == {
        "c-ip": "127.0.0.1",
        "cs-username": "frank",
        "cs-method": "GET",
        "cs-uri": "/apache_pb.gif?a=1&b=2",
        "cs-uri-stem": "/apache_pb.gif",
        "cs-uri-query": "a=1&b=2",
        "cs-version": "HTTP/1.0",
        "sc-status": 200,
        "sc-bytes": 2326,
        "cs-referer": "http://www.example.com/start.html",
        "cs-user-agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }


def test_a_common_log_format_line_has_no_referrer_or_agent():
    document = access('10.0.0.1 - - [01/Jun/2024:11:00:00 +0000] "POST /login HTTP/1.1" 401 -')

    assert document["event"]["outcome"] == "failure"
    assert "user" not in document
    assert "cs-username" not in document
    assert document["http"] == {
        "request": {"method": "POST"},
        "response": {"status_code": 401},
        "version": "1.1",
    }
    assert "sc-bytes" not in document
    assert "user_agent" not in document
    assert "cs-referer" not in document


def test_a_dash_for_referrer_and_agent_leaves_them_out():
    document = access('10.0.0.1 - - [01/Jun/2024:11:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"')

    assert "referrer" not in document["http"]["request"]
    assert "user_agent" not in document
    assert "cs-user-agent" not in document


@pytest.mark.parametrize(("status", "result"), [(200, "success"), (399, "success"),
                                                (400, "failure"), (503, "failure")])  # fmt: skip
def test_statuses_from_400_are_failures(status, result):
    line = f'10.0.0.1 - - [01/Jun/2024:11:00:00 +0000] "GET / HTTP/1.1" {status} 5'

    assert access(line)["event"]["outcome"] == result


def test_a_request_line_that_is_not_http_still_parses_without_a_method():
    line = r'45.1.2.3 - - [01/Jun/2024:11:00:00 +0000] "\x16\x03\x01" 400 157 "-" "-"'

    document = access(line)

    assert document["message"] == r"\x16\x03\x01"
    assert "request" not in document["http"]
    assert "url" not in document
    assert "cs-method" not in document
    assert document["sc-status"] == 400


def test_escaped_quotes_inside_fields_do_not_end_them():
    line = (
        r'1.2.3.4 - - [01/Jun/2024:11:00:00 +0000] "GET /q?x=\"1\" HTTP/1.1" 200 1 "-"'
        r' "curl \"7\""'
    )

    document = access(line)

    assert document["cs-uri-query"] == r"x=\"1\""
    assert document["user_agent"] == {"original": r"curl \"7\""}


def test_an_absolute_uri_gives_the_domain_and_port():
    line = (
        '1.2.3.4 - - [01/Jun/2024:11:00:00 +0000] "GET http://Example.com:8080/a?b HTTP/1.1" 200 1'
    )

    document = access(line)

    assert document["url"] == {
        "original": "http://Example.com:8080/a?b",
        "scheme": "http",
        "domain": "example.com",
        "port": 8080,
        "path": "/a",
        "query": "b",
    }


def test_extra_fields_after_the_user_agent_are_tolerated():
    line = COMBINED + ' "203.0.113.9" rt=0.002'

    assert access(line)["cs-user-agent"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"


@pytest.mark.parametrize(
    ("client", "source"),
    [
        ("2001:db8::1", {"ip": "2001:db8::1"}),
        ("client.example.com", {"domain": "client.example.com"}),  # HostnameLookups On
        ("999.1.1.1", None),
    ],
)
def test_the_client_is_an_ip_or_a_host_but_never_a_bad_ip(client, source):
    document = access(f'{client} - - [01/Jun/2024:11:00:00 +0000] "GET / HTTP/1.1" 200 1')

    assert document.get("source") == source
    assert document["c-ip"] == client


def test_nginx_and_apache_differ_only_in_dataset():
    nginx, apache = access(COMBINED, "nginx-access"), access(COMBINED, "apache-access")

    assert nginx["event"].pop("dataset") == "nginx.access"
    assert apache["event"].pop("dataset") == "apache.access"
    assert nginx == apache


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "not a Combined/Common Log Format line"),
        ('127.0.0.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.0" 200 1', "not a Combined"),
        ('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0"', "not a Combined"),
        ('127.0.0.1 - - [10/Foo/2000:13:55:36 -0700] "GET /" 200 1', "unknown month"),
        ('127.0.0.1 - - [31/Feb/2000:13:55:36 -0700] "GET /" 200 1', "invalid access-log"),
    ],
)
def test_lines_that_are_not_access_lines_are_refused(line, reason):
    with pytest.raises(ParseError, match=reason):
        access(line)


def test_access_logs_are_guessed_as_access_logs():
    guessed = detect_line_parser([COMBINED, COMBINED.replace("frank", "-")])

    assert guessed is not None
    assert guessed.name in {"nginx-access", "apache-access"}
    assert not guessed.detect("Jun 14 15:16:01 combo sshd[1]: x")


SIGMA_FIELDS = (
    "c-ip", "cs-username", "cs-method", "cs-uri-stem", "cs-uri-query", "cs-uri", "cs-version",
    "sc-status", "sc-bytes", "cs-referer", "cs-user-agent",
)  # fmt: skip
# The converter of that file split URIs with urllib's urlsplit, which reads "//favicon.ico"
# as a host name with no path; for a server, "//favicon.ico" is the path.
CONVERTER_QUIRKS = {"//favicon.ico": {"cs-uri-stem": "//favicon.ico"}}


def test_real_apache_access_lines_give_the_same_sigma_fields_as_the_reference_conversion():
    path = shared_data("events/web-apache-access-elastic-examples.jsonl.gz")
    count = 0

    with gzip.open(path, "rt", encoding="utf-8") as events:
        for text in events:
            reference = json.loads(text)
            document = access(reference["_raw"])
            expected = {name: reference[name] for name in SIGMA_FIELDS if name in reference}
            expected |= CONVERTER_QUIRKS.get(reference["cs-uri"], {})
            assert {name: document[name] for name in SIGMA_FIELDS if name in document} == expected
            assert document["@timestamp"] == datetime.strptime(
                reference["date"], "%d/%b/%Y:%H:%M:%S %z"
            )
            count += 1

    assert count == 9999


def test_an_apache_24_error_line_gives_level_module_process_client_and_code():
    document = error(APACHE_24_ERROR)

    assert document["@timestamp"] == datetime(2000, 10, 11, 14, 32, 52, 123456)
    assert document["log"] == {"level": "error"}
    assert document["apache"] == {"error": {"module": "core"}}
    assert document["process"] == {"pid": 35708, "thread": {"id": 4328636416}}
    assert document["source"] == {"ip": "72.15.99.187", "port": 53722}
    assert document["error"] == {"code": "AH00124"}
    assert document["http"] == {"request": {"referrer": "http://example.com/a"}}
    assert document["message"].startswith("AH00124: Request exceeded the limit")
    assert document["message"].endswith("configuration error.")
    assert document["event"]["dataset"] == "apache.error"
    assert document["event"]["type"] == ["error"]


def test_an_apache_22_error_line_gives_level_and_client():
    line = (
        "[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index"
        " forbidden by rule: /var/www/html/"
    )

    document = error(line)

    assert document["@timestamp"] == datetime(2005, 12, 4, 5, 15, 9)
    assert document["log"] == {"level": "error"}
    assert document["source"] == {"ip": "222.166.160.184"}
    assert document["message"] == "Directory index forbidden by rule: /var/www/html/"
    assert "error" not in document
    assert "apache" not in document


def test_an_apache_22_notice_has_no_client():
    document = error("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/w")

    assert document["log"] == {"level": "notice"}
    assert document["event"]["type"] == ["info"]
    assert "source" not in document


def test_an_ipv6_client_of_apache_24_is_split_from_its_port():
    line = (
        "[Thu Mar 01 10:00:00.5 2024] [proxy_fcgi:error] [pid 12] (70007)The timeout specified"
        " has expired: [client 2001:db8::1:443] AH01075: Error dispatching request to :"
    )

    document = error(line)

    assert document["source"] == {"ip": "2001:db8::1", "port": 443}
    assert document["error"] == {"code": "AH01075"}
    assert document["message"].startswith("(70007)The timeout specified has expired: AH01075")


def test_an_apache_22_ipv6_client_is_one_address():
    document = error("[Sun Dec 04 05:15:09 2005] [error] [client 2001:db8::1:443] denied")

    assert document["source"] == {"ip": "2001:db8::1:443"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("PHP Fatal error: continued from the line before", "not an Apache error log line"),
        ("[Sun Dec 04 04:47:44 2005] no level", "not an Apache error log line"),
        ("[Sun Dec 32 04:47:44 2005] [error] x", "invalid Apache error-log timestamp"),
    ],
)
def test_lines_that_are_not_apache_error_lines_are_refused(line, reason):
    with pytest.raises(ParseError, match=reason):
        error(line)


def test_an_apache_error_log_is_guessed_as_one():
    assert detect_line_parser([APACHE_24_ERROR, "[Sun Dec 04 04:47:44 2005] [notice] x"]) is (
        get_parser("apache-error")
    )
