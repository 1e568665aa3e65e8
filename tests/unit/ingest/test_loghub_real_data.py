"""The issue's acceptance test on real logs from loghub: every line of OpenSSH_2k, Linux_2k
and Apache_2k parses, and the authentication lines come out as the labelled CSVs say.

The CSVs label each line with its template (``EventId``) and give its ``Content``; the
expected user and address are cut out of that content here with plain string splits,
independently of the parsers' regexes.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest

from ingest.parsers import get_parser
from ingest.parsers.syslog import parse_syslog
from tests.support.shared_data import shared_data

RECEIVED = datetime(2024, 1, 15, tzinfo=UTC)  # December lines: the year before
FAILED_PASSWORD = {"E8", "E9", "E10", "E14"}  # "Failed none/password for [invalid user] …"
# What each OpenSSH_2k template must become: (event.action, event.outcome).
OPENSSH_EVENTS = {
    "E1": ("ssh-login", "success"),
    "E2": ("ssh-disconnect", "unknown"),
    "E3": ("ssh-no-identification", None),
    "E4": ("ssh-max-attempts-exceeded", "failure"),
    "E5": ("ssh-max-attempts-exceeded", "failure"),
    "E6": ("ssh-disconnect", "unknown"),
    "E7": ("ssh-disconnect", "unknown"),
    "E8": ("ssh-login", "failure"),
    "E9": ("ssh-login", "failure"),
    "E10": ("ssh-login", "failure"),
    "E11": (None, None),  # fatal: Write failed
    "E12": ("ssh-invalid-user", "failure"),
    "E13": ("ssh-invalid-user", "failure"),
    "E14": ("ssh-login", "failure"),
    "E15": ("pam-authentication-failure", "failure"),
    "E16": ("pam-authentication-failure", "failure"),
    "E17": ("pam-authentication-failure", "failure"),
    "E18": (None, None),  # PAM service(sshd) ignoring max retries
    "E19": ("pam-authentication-failure", "failure"),
    "E20": ("pam-authentication-failure", "failure"),
    "E21": ("pam-user-unknown", "failure"),
    "E22": ("session-closed", "success"),
    "E23": ("session-opened", "success"),
    "E24": ("ssh-disconnect", "unknown"),
    "E25": ("ssh-disconnect", "unknown"),
    "E26": ("ssh-disconnect", "unknown"),
    "E27": ("ssh-reverse-mapping-failed", None),
}
# "<service>(pam_unix) authentication failure; … rhost=… [user=…]"
LINUX_AUTH_FAILURES = {"E15", "E16", "E17", "E18", "E19"}
# PAM failures, "check pass; user unknown", ROOT LOGIN, PAM sessions closed and opened.
LINUX_AUTH_TEMPLATES = {*LINUX_AUTH_FAILURES, "E27", "E91", "E101", "E102", "E103"}


def labelled_lines(name: str) -> list[tuple[str, dict[str, str]]]:
    log = shared_data(f"logs/loghub/{name}")
    labels = shared_data(f"logs/loghub/{name}_structured.csv")
    lines = log.read_text(encoding="utf-8").splitlines()
    with labels.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["LineId"]) for row in rows] == list(range(1, len(lines) + 1))
    return list(zip(lines, rows, strict=True))


@pytest.fixture(scope="module")
def openssh() -> list[tuple[str, dict[str, str], dict]]:
    return [
        (line, row, parse_syslog(line, received=RECEIVED))
        for line, row in labelled_lines("OpenSSH_2k.log")
    ]


@pytest.fixture(scope="module")
def linux() -> list[tuple[str, dict[str, str], dict]]:
    return [
        (line, row, parse_syslog(line, received=RECEIVED))
        for line, row in labelled_lines("Linux_2k.log")
    ]


def test_every_openssh_line_parses_as_an_sshd_auth_event_at_its_time(openssh):
    assert len(openssh) == 2000
    for line, row, document in openssh:
        assert document["event"]["original"] == line
        assert document["event"]["dataset"] == "system.auth"
        assert document["host"] == {"name": "LabSZ"}
        assert document["process"] == {"name": "sshd", "pid": int(row["Pid"])}
        assert document["@timestamp"].strftime("%Y %b %d %H:%M:%S") == (
            f"2023 {row['Date']} {int(row['Day']):02d} {row['Time']}"
        )


def test_every_openssh_template_becomes_its_event(openssh):
    seen = Counter()
    for _, row, document in openssh:
        event = document["event"]
        assert (event.get("action"), event.get("outcome")) == OPENSSH_EVENTS[row["EventId"]], row
        seen[row["EventId"]] += 1
    assert set(seen) == set(OPENSSH_EVENTS)


def _user_and_address_of_a_failed_password(content: str) -> tuple[str, str]:
    if content.startswith("message repeated"):
        content = content.split("[ ", 1)[1].rstrip("]")
    attempt, source = content.rsplit(" from ", 1)
    user = attempt.split(" for ", 1)[1].removeprefix("invalid user ")
    return user, source.split(" port ")[0]


def test_every_failed_password_is_a_failed_authentication_of_that_user_from_that_address(openssh):
    failures = [
        (row, document) for _, row, document in openssh if row["EventId"] in FAILED_PASSWORD
    ]
    assert len(failures) == 4 + 383 + 135 + 2

    for row, document in failures:
        user, address = _user_and_address_of_a_failed_password(row["Content"])
        assert document["event"]["category"] == ["authentication"]
        assert document["event"]["outcome"] == "failure"
        assert document["user"]["name"] == user, row["Content"]
        assert document["source"]["ip"] == address, row["Content"]


def test_the_odd_user_names_of_the_sample_are_read_exactly(openssh):
    names = {
        document["user"]["name"]
        for _, row, document in openssh
        if row["EventId"] in FAILED_PASSWORD
    }

    assert {"0", "1234", "123456", " 0101", "PlcmSpIp", "FILTER"} <= names  # " 0101": a space


def test_the_repeated_failures_keep_their_count(openssh):
    counts = [
        document["wachter"]["repeat_count"]
        for _, row, document in openssh
        if row["EventId"] == "E14"
    ]

    assert counts == [5, 5]


def test_the_accepted_password_is_a_successful_login(openssh):
    ((row, document),) = [(row, document) for _, row, document in openssh if row["EventId"] == "E1"]

    user, address = (
        row["Content"].removeprefix("Accepted password for ").split(" port ")[0].split(" from ")
    )
    assert document["event"]["outcome"] == "success"
    assert document["event"]["type"] == ["start"]
    assert document["user"] == {"name": user}
    assert document["source"]["ip"] == address


def test_every_linux_line_parses_with_host_and_time(linux):
    assert len(linux) == 2000
    for line, row, document in linux:
        assert document["event"]["original"] == line
        assert document["host"] == {"name": "combo"}
        assert document["@timestamp"].strftime("%b %d %H:%M:%S") == (
            f"{row['Month']} {int(row['Date']):02d} {row['Time']}"
        )


def test_linux_pam_authentication_failures_give_the_remote_host_and_user(linux):
    failures = [
        (row, document) for _, row, document in linux if row["EventId"] in LINUX_AUTH_FAILURES
    ]
    assert len(failures) == 1 + 117 + 17 + 351 + 4

    for row, document in failures:
        pairs = dict(pair.split("=", 1) for pair in row["Content"].split("; ", 1)[1].split())
        assert document["event"]["dataset"] == "system.auth"
        assert document["event"]["category"] == ["authentication"]
        assert document["event"]["outcome"] == "failure"
        assert document.get("user", {}).get("name") == (pairs.get("user") or None)
        source = document.get("source", {})
        assert (source.get("ip") or source.get("domain")) == (pairs["rhost"] or None), row[
            "Content"
        ]


def test_linux_sessions_and_the_root_login_are_auth_events(linux):
    actions = Counter(
        document["event"].get("action")
        for _, row, document in linux
        if row["EventId"] in {"E91", "E101", "E102", "E103"}
    )

    assert actions == {"session-closed": 123, "session-opened": 123, "root-login": 1}


def test_only_the_linux_auth_lines_are_auth_events_the_rest_generic_syslog(linux):
    for _, row, document in linux:
        expected = "system.auth" if row["EventId"] in LINUX_AUTH_TEMPLATES else "syslog"
        assert document["event"]["dataset"] == expected, row["Content"]


def test_every_apache_error_line_parses_with_its_level():
    log = shared_data("logs/loghub/Apache_2k.log")
    parser = get_parser("apache-error")
    levels, clients = Counter(), 0

    for line in log.read_text(encoding="utf-8").splitlines():
        document = parser.parse_line(line, received=RECEIVED)
        level = line.split("] [", 1)[1].split("]", 1)[0]
        assert document["log"]["level"] == level
        levels[level] += 1
        if "[client " in line:
            clients += 1
            assert document["source"]["ip"] == line.split("[client ", 1)[1].split("]", 1)[0]

    assert levels == {"notice": 1405, "error": 595}
    assert clients == 32
