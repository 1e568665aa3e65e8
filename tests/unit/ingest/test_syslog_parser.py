"""Syslog lines (RFC 5424, RFC 3164 with and without PRI) as ECS documents, the year of
3164 lines, broken headers refused with a short reason, and messages handed to the
program parsers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.normalise import finish
from ingest.parsers import ParseError, detect_line_parser, get_parser
from ingest.parsers.syslog import parse_syslog, program_of

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RFC5424_EXAMPLE = (
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47"
    ' [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    '[examplePriority@32473 class="high"] \ufeffAn application event log entry...'
)


def parse(line: str, received: datetime = RECEIVED) -> dict:
    return parse_syslog(line, received=received)


def test_an_rfc_5424_line_gives_every_header_field_and_its_structured_data():
    document = parse(RFC5424_EXAMPLE)

    syslog = document["log"]["syslog"]
    assert syslog["priority"] == 165
    assert syslog["facility"] == {"code": 20, "name": "local4"}
    assert syslog["severity"] == {"code": 5, "name": "notice"}
    assert syslog["version"] == "1"
    assert syslog["hostname"] == "mymachine.example.com"
    assert syslog["appname"] == "evntslog"
    assert syslog["msgid"] == "ID47"
    assert "procid" not in syslog  # NILVALUE
    assert syslog["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }
    assert document["@timestamp"] == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert document["message"] == "An application event log entry..."  # BOM removed
    assert document["host"] == {"name": "mymachine.example.com"}
    assert document["process"] == {"name": "evntslog"}
    assert document["log"]["level"] == "notice"
    assert document["event"] == {"original": RFC5424_EXAMPLE, "kind": "event", "dataset": "syslog"}


def test_rfc_5424_nil_values_leave_their_fields_out():
    document = parse("<14>1 - - - - - -")

    assert "@timestamp" not in document
    assert "host" not in document
    assert "process" not in document
    assert document["message"] == ""
    assert document["log"]["syslog"] == {
        "priority": 14,
        "facility": {"code": 1, "name": "user"},
        "severity": {"code": 6, "name": "informational"},
        "version": "1",
    }


def test_structured_data_values_are_unescaped():
    line = r'<13>1 2024-06-01T10:00:00+02:00 h app 42 - [x@1 q="say \"hi\"" b="a\\b" c="[1\]"] m'

    document = parse(line)

    assert document["log"]["syslog"]["structured_data"] == {
        "x@1": {"q": 'say "hi"', "b": "a\\b", "c": "[1]"}
    }
    assert document["@timestamp"] == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert document["process"] == {"name": "app", "pid": 42}


def test_a_parameter_named_twice_keeps_both_values():
    document = parse('<13>1 - h app - - [origin ip="10.0.0.1" ip="10.0.0.2"]')

    assert document["log"]["syslog"]["structured_data"] == {
        "origin": {"ip": ["10.0.0.1", "10.0.0.2"]}
    }


def test_an_rfc_5424_leap_second_is_read_as_the_last_instant_of_its_minute():
    document = parse("<13>1 2016-12-31T23:59:60Z h app - - - leap")

    assert document["@timestamp"] == datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_an_rfc_3164_line_with_pri_gives_facility_severity_host_and_program():
    line = "<34>Oct 11 22:14:15 mymachine myprog[4711]: 'su root' failed on /dev/pts/8"

    document = parse(line)

    syslog = document["log"]["syslog"]
    assert syslog["facility"] == {"code": 4, "name": "auth"}
    assert syslog["severity"] == {"code": 2, "name": "critical"}
    assert syslog["hostname"] == "mymachine"
    assert syslog["appname"] == "myprog"
    assert syslog["procid"] == "4711"
    assert document["process"] == {"name": "myprog", "pid": 4711}
    assert document["message"] == "'su root' failed on /dev/pts/8"
    assert document["event"]["dataset"] == "syslog"
    assert document["@timestamp"] == datetime(2023, 10, 11, 22, 14, 15)  # naive: local time


def test_an_rfc_3164_line_without_pri_and_with_a_space_padded_day_is_read():
    document = parse("Jun  1 03:02:01 web01 CRON[812]: (root) CMD (run-parts /etc/cron.hourly)")

    assert document["@timestamp"] == datetime(2024, 6, 1, 3, 2, 1)
    assert "priority" not in document["log"]["syslog"]
    assert "level" not in document["log"]
    assert document["host"] == {"name": "web01"}
    assert document["process"] == {"name": "CRON", "pid": 812}
    assert document["message"] == "(root) CMD (run-parts /etc/cron.hourly)"


def test_a_line_without_a_hostname_takes_the_tag_as_the_program():
    document = parse("<13>Oct 11 22:14:15 sshd[77]: Server listening on 0.0.0.0 port 22.")

    assert "host" not in document
    assert document["process"] == {"name": "sshd", "pid": 77}


def test_a_line_without_a_tag_keeps_all_after_the_host_as_message():
    document = parse("Jun 17 04:03:59 combo syslogd 1.4.1: restart.")

    assert "process" not in document
    assert document["message"] == "syslogd 1.4.1: restart."


def test_rsyslog_high_precision_timestamps_keep_their_zone():
    line = "2024-03-01T10:00:00.123456+01:00 web01 sshd[5]: Connection closed by 10.1.1.1 port 22"

    document = parse(line)

    expected = datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert document["@timestamp"] == expected
    assert document["event"]["dataset"] == "system.auth"


def test_a_pri_with_no_header_makes_the_rest_the_message():
    document = parse("<13>the printer is on fire")

    assert document["message"] == "the printer is on fire"
    assert "@timestamp" not in document
    assert document["log"]["syslog"]["severity"]["name"] == "notice"


@pytest.mark.parametrize(
    ("line", "received", "expected"),
    [
        # December read in January: last year
        ("Dec 31 23:59:58 h p: x", datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC), 2023),
        # a sender's clock slightly ahead across New Year: next year
        ("Jan  1 00:10:00 h p: x", datetime(2023, 12, 31, 23, 30, tzinfo=UTC), 2024),
        # an hour in the future (a time zone east of UTC): still this year
        ("Jun  1 13:00:00 h p: x", datetime(2024, 6, 1, 12, 0, tzinfo=UTC), 2024),
        # more than a day ahead: that date last came a year ago
        ("Jun  3 12:00:00 h p: x", datetime(2024, 6, 1, 12, 0, tzinfo=UTC), 2023),
        # 29 February goes back to the latest leap year
        ("Feb 29 08:00:00 h p: x", datetime(2025, 3, 1, tzinfo=UTC), 2024),
    ],
)
def test_the_year_of_an_rfc_3164_line_is_the_latest_not_more_than_a_day_ahead(
    line, received, expected
):
    assert parse(line, received)["@timestamp"].year == expected


def test_the_year_is_inferred_against_an_arrival_time_in_another_zone():
    received = datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 22:30 UTC

    assert parse("Dec 31 23:00:00 h p: x", received)["@timestamp"].year == 2023


def test_fractional_seconds_in_rfc_3164_are_kept():
    assert parse("Mar  1 10:00:00.25 h p: x")["@timestamp"].microsecond == 250000


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty syslog message"),
        ("   \r\n", "empty syslog message"),
        ("<34 Oct 11 22:14:15 h p: x", "no closing '>'"),
        ("<ab>Oct 11 22:14:15 h p: x", "PRI is not a number"),
        ("<>x", "PRI is not a number"),
        ("<-1>Oct 11 22:14:15 h p: x", "PRI is negative"),
        ("<999>Oct 11 22:14:15 h p: x", "PRI is above 191"),
        ("<192>x", "PRI is above 191"),
        ("<13>2 2024-01-01T00:00:00Z h app - - - m", "unsupported syslog version"),
        ("<13>1 2024-13-45T00:00:00Z h app - - - m", "invalid RFC 5424 timestamp"),
        ("<13>1 2024-01-01 00:00:00 h app - - - m", "invalid RFC 5424 timestamp"),
        ("<13>1 2024-01-01T00:00:00 h app - - - m", "invalid RFC 5424 timestamp"),  # no zone
        ("<13>1 - h app - -", "structured data missing"),
        ('<13>1 - h app - - [id k="v', "malformed or truncated"),
        ('<13>1 - h app - - [id k="v"', "malformed or truncated"),
        ("<13>1 - h app - - [id k=v]", "malformed or truncated"),
        ('<13>1 - h app - - [id k="v"]x', "not followed by a space"),
        ("<13>1 - h app - - message without sd", "must be '-' or start with '['"),
        ("<13>1 - h", "malformed RFC 5424 header"),
        ("just some text", "no syslog header"),
        ("Feb 30 10:00:00 h p: x", "invalid RFC 3164 timestamp"),
        ("Foo 10 10:00:00 h p: x", "unknown month"),
        ("2024-02-30T10:00:00Z h p: x", "invalid RFC 3339 timestamp"),
        ("Oct 11 22:14:15 " + "h" * 300 + " p: x", "longer than 255"),
    ],
)
def test_broken_lines_are_refused_with_a_short_reason(line, reason):
    with pytest.raises(ParseError) as raised:
        parse(line)

    assert reason in raised.value.reason


def test_a_reason_never_quotes_the_input():
    secret = "TOKEN-" + "x" * 60
    for line in (f"<{secret}>", f"<13>1 - h a - - [{secret}", f"{secret} text"):
        with pytest.raises(ParseError) as raised:
            parse(line)
        assert "xxxxxxxx" not in raised.value.reason
        assert len(raised.value.reason) < 100


def test_a_non_numeric_process_id_is_kept_as_procid_only():
    document = parse("<13>1 - h app worker-3 - - m")

    assert document["log"]["syslog"]["procid"] == "worker-3"
    assert document["process"] == {"name": "app"}


def test_digits_of_other_scripts_are_not_a_pri():
    with pytest.raises(ParseError, match="PRI is not a number"):
        parse("<\u0661\u0663>Oct 11 22:14:15 h p: x")  # Arabic-Indic 13


def test_messages_of_auth_programs_go_to_the_auth_parser():
    document = parse(
        "Mar  1 10:00:00 h sshd[9]: Accepted publickey for alice from 10.0.0.5 port 50000 ssh2"
    )

    assert document["event"]["dataset"] == "system.auth"
    assert document["event"]["action"] == "ssh-login"
    assert document["user"] == {"name": "alice"}


def test_messages_of_openvpn_go_to_the_openvpn_parser():
    line = (
        "Mar  1 10:00:00 vpn ovpn-server[7]: 1.2.3.4:51234"
        " TLS Auth Error: Auth Username/Password verification failed for peer"
    )

    document = parse(line)

    assert document["event"]["dataset"] == "openvpn"
    assert document["event"]["outcome"] == "failure"
    assert document["source"] == {"ip": "1.2.3.4", "port": 51234}


def test_a_pam_message_of_any_program_is_read_as_pam():
    line = (
        "Mar  1 10:00:01 h CRON[5]: pam_unix(cron:session):"
        " session opened for user root(uid=0) by (uid=0)"
    )

    document = parse(line)

    assert document["event"]["dataset"] == "system.auth"
    assert document["event"]["action"] == "session-opened"
    assert document["user"] == {"name": "root"}
    assert document["process"] == {"name": "CRON", "pid": 5}


def test_a_folded_repeat_is_one_event_that_says_how_many():
    line = "Mar  1 10:00:00 h app[1]: message repeated 3 times: [ disk almost full]"

    document = parse(line)

    assert document["wachter"] == {"repeat_count": 3}
    assert document["message"] == "message repeated 3 times: [ disk almost full]"


def test_a_trailing_line_break_is_not_part_of_the_message_but_stays_in_the_original():
    line = "Mar  1 10:00:00 h app: done\r\n"

    document = parse(line)

    assert document["message"] == "done"
    assert document["event"]["original"] == line


def test_a_3164_event_is_stored_in_utc_with_the_assumed_zone_flagged():
    document = parse("Mar  1 10:00:00 h app: done")

    record = finish(document, source="test", event_key="k", ingested=RECEIVED)

    assert record.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert record.flags == "timezone_assumed"
    assert record.host_name == "h"


def test_program_of_reads_the_tag_of_a_3164_line():
    assert program_of("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: x") == "sshd(pam_unix)"
    assert program_of("<38>Jun 14 15:16:01 combo su: x") == "su"
    assert program_of("Jun 14 15:16:01 combo no tag here") is None
    assert program_of("not syslog") is None


def test_the_syslog_format_is_known_by_name_and_guessed_from_syslog_lines():
    lines = [RFC5424_EXAMPLE, "<13>Oct 11 22:14:15 h kernel: x", "Jun  4 03:02:01 h p: x"]

    assert get_parser("syslog").name == "syslog"
    assert detect_line_parser(lines) is get_parser("syslog")
    assert not get_parser("syslog").detect('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /"')
