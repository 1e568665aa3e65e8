"""auth.log / secure lines as authentication events: sshd, PAM, sudo, su, login and logind,
with the attacker-chosen user names sshd logs read exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.normalise import finish
from ingest.parsers import detect_line_parser, get_parser

RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HEADER = "May 30 06:55:46 bastion sshd[24200]: "
PARSER = get_parser("linux-auth")


def parse(line: str) -> dict:
    return PARSER.parse_line(line, received=RECEIVED)


def sshd(message: str) -> dict:
    return parse(HEADER + message)


def outcome(document: dict) -> tuple:
    event = document["event"]
    return (
        event["dataset"],
        event.get("action"),
        event.get("category"),
        event.get("type"),
        event.get("outcome"),
    )


def test_an_accepted_password_is_a_successful_ssh_login():
    document = sshd("Accepted password for fztu from 119.137.62.142 port 49116 ssh2")

    assert outcome(document) == (
        "system.auth", "ssh-login", ["authentication", "session"], ["start"], "success"
    )  # fmt: skip
    assert document["user"] == {"name": "fztu"}
    assert document["source"] == {"ip": "119.137.62.142", "port": 49116}
    assert document["related"] == {"ip": ["119.137.62.142"], "user": ["fztu"]}
    assert document["system"]["auth"]["ssh"] == {"method": "password"}
    assert document["host"] == {"name": "bastion"}
    assert document["process"] == {"name": "sshd", "pid": 24200}


def test_an_accepted_public_key_keeps_the_key_fingerprint():
    document = sshd(
        "Accepted publickey for alice from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:abcDEF"
    )

    assert document["event"]["outcome"] == "success"
    assert document["source"] == {"ip": "2001:db8::7", "port": 50022}
    assert document["system"]["auth"]["ssh"] == {
        "method": "publickey",
        "signature": "ED25519 SHA256:abcDEF",
    }


def test_a_failed_password_is_a_failed_ssh_login():
    document = sshd("Failed password for root from 5.36.59.76 port 42393 ssh2")

    assert outcome(document) == (
        "system.auth", "ssh-login", ["authentication"], ["start"], "failure"
    )  # fmt: skip
    assert document["user"] == {"name": "root"}
    assert document["source"] == {"ip": "5.36.59.76", "port": 42393}


def test_a_failed_password_for_an_invalid_user_is_a_failure_for_that_name():
    document = sshd(
        "Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2"
    )

    assert document["event"]["outcome"] == "failure"
    assert document["user"] == {"name": "webmaster"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("john smith", "Failed password for invalid user john smith from 1.2.3.4 port 22 ssh2"),
        ("'; DROP", "Failed password for invalid user '; DROP from 1.2.3.4 port 22 ssh2"),
        ('"quoted"', 'Failed password for invalid user "quoted" from 1.2.3.4 port 22 ssh2'),
        ("invalid", "Failed password for invalid user invalid from 1.2.3.4 port 22 ssh2"),
        # a name forged to look like the end of the line: the real source is the last one
        (
            "x from 9.9.9.9 port 1 ssh2",
            "Failed password for invalid user x from 9.9.9.9 port 1 ssh2 from 1.2.3.4 port 22 ssh2",
        ),
        ("root", "Failed password for root from 1.2.3.4 port 22"),  # no "ssh2": older sshd
    ],
)
def test_odd_user_names_are_read_whole(name, message):
    document = sshd(message)

    assert document["user"] == {"name": name}
    assert document["source"] == {"ip": "1.2.3.4", "port": 22}


def test_an_empty_user_name_leaves_user_out_but_keeps_the_failure_and_source():
    document = sshd("Failed password for invalid user  from 1.2.3.4 port 22 ssh2")

    assert document["event"]["outcome"] == "failure"
    assert "user" not in document
    assert document["source"] == {"ip": "1.2.3.4", "port": 22}


def test_a_user_name_too_long_to_store_is_left_out_but_the_failure_is_stored():
    name = "a" * 2000
    document = sshd(f"Failed password for invalid user {name} from 1.2.3.4 port 22 ssh2")

    record = finish(document, source="test", event_key="k", ingested=RECEIVED)

    assert record.outcome == "failure"
    assert record.source_ip == "1.2.3.4"
    assert record.user_name is None
    assert name in record.document


def test_an_address_that_is_not_an_ip_never_becomes_source_ip():
    document = sshd("Failed password for root from 999.1.1.1 port 22 ssh2")

    assert document["event"]["outcome"] == "failure"
    assert document["source"] == {"port": 22}
    assert "999.1.1.1" in document["message"]
    assert "ip" not in document.get("related", {})


@pytest.mark.parametrize(
    ("message", "user", "source"),
    [
        ("Invalid user test9 from 52.80.34.196", "test9", {"ip": "52.80.34.196"}),
        ("Invalid user admin from 10.0.0.1 port 4444", "admin", {"ip": "10.0.0.1", "port": 4444}),
        ("input_userauth_request: invalid user test9 [preauth]", "test9", None),
    ],
)
def test_an_invalid_user_is_a_failed_authentication(message, user, source):
    document = sshd(message)

    assert outcome(document) == (
        "system.auth", "ssh-invalid-user", ["authentication"], ["info"], "failure"
    )  # fmt: skip
    assert document["user"] == {"name": user}
    assert document.get("source") == source


def test_a_repeated_failed_password_is_one_failure_with_its_count():
    document = sshd(
        "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"
    )

    assert document["event"]["action"] == "ssh-login"
    assert document["event"]["outcome"] == "failure"
    assert document["wachter"] == {"repeat_count": 5}
    assert document["user"] == {"name": "root"}
    assert document["source"] == {"ip": "5.36.59.76", "port": 42393}


@pytest.mark.parametrize(
    ("message", "user", "source"),
    [
        (
            "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 22 ssh2"
            " [preauth]",
            "root",
            {"ip": "1.2.3.4", "port": 22},
        ),
        ("Disconnecting: Too many authentication failures for admin [preauth]", "admin", None),
        (
            "Disconnecting invalid user oracle 1.2.3.4 port 22: Too many authentication failures"
            " [preauth]",
            "oracle",
            {"ip": "1.2.3.4", "port": 22},
        ),
    ],
)
def test_too_many_attempts_is_a_failure(message, user, source):
    document = sshd(message)

    assert document["event"]["action"] == "ssh-max-attempts-exceeded"
    assert document["event"]["outcome"] == "failure"
    assert document["user"] == {"name": user}
    assert document.get("source") == source


@pytest.mark.parametrize(
    ("message", "source", "user"),
    [
        ("Connection closed by 173.234.31.186 [preauth]", {"ip": "173.234.31.186"}, None),
        (
            "Connection closed by authenticating user root 1.2.3.4 port 5022 [preauth]",
            {"ip": "1.2.3.4", "port": 5022},
            "root",
        ),
        ("Received disconnect from 1.2.3.4: 11: Bye Bye [preauth]", {"ip": "1.2.3.4"}, None),
        (
            "Received disconnect from 1.2.3.4 port 5022:11: disconnected by user",
            {"ip": "1.2.3.4", "port": 5022},
            None,
        ),
        (
            "Disconnected from user alice 10.0.0.5 port 50000",
            {"ip": "10.0.0.5", "port": 50000},
            "alice",
        ),
    ],
)
def test_a_closed_connection_ends_the_session_with_unknown_outcome(message, source, user):
    document = sshd(message)

    assert outcome(document) == ("system.auth", "ssh-disconnect", ["session"], ["end"], "unknown")
    assert document["source"] == source
    assert document.get("user", {}).get("name") == user


def test_a_failed_reverse_mapping_names_the_address_and_the_claimed_host():
    document = sshd(
        "reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186]"
        " failed - POSSIBLE BREAK-IN ATTEMPT!"
    )

    assert document["event"]["action"] == "ssh-reverse-mapping-failed"
    assert document["source"] == {"ip": "173.234.31.186", "domain": "ns.marryaldkfaczcz.com"}


def test_openssh_9_8_sshd_session_lines_are_sshd_lines():
    line = "May 30 06:55:46 h sshd-session[8]: Failed password for bob from 10.1.1.1 port 2 ssh2"

    assert parse(line)["event"]["outcome"] == "failure"


@pytest.mark.parametrize(
    ("message", "source", "user"),
    [
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser="
            " rhost=112.95.230.3  user=root",
            {"ip": "112.95.230.3"},
            "root",
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser="
            " rhost=n219076184117.netvigator.com",
            {"domain": "n219076184117.netvigator.com"},
            None,
        ),
        (
            "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser="
            " rhost=5.36.59.76  user=root",
            {"ip": "5.36.59.76"},
            "root",
        ),
    ],
)
def test_a_pam_authentication_failure_gives_the_remote_host_and_user(message, source, user):
    document = sshd(message)

    assert outcome(document) == (
        "system.auth", "pam-authentication-failure", ["authentication"], ["start"], "failure"
    )  # fmt: skip
    assert document["source"] == source
    assert document.get("user", {}).get("name") == user
    assert document["system"]["auth"]["pam"]["tty"] == "ssh"


def test_the_old_red_hat_pam_form_names_the_service_in_the_program():
    document = parse(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0"
        " euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=guest"
    )

    assert document["event"]["outcome"] == "failure"
    assert document["user"] == {"name": "guest"}
    assert document["source"] == {"ip": "218.188.2.4"}
    assert document["system"]["auth"]["pam"]["service"] == "sshd"
    assert document["process"] == {"name": "sshd", "pid": 19939}


def test_an_unknown_user_at_pam_is_a_failure_without_a_name():
    document = sshd("pam_unix(sshd:auth): check pass; user unknown")

    assert document["event"]["action"] == "pam-user-unknown"
    assert document["event"]["outcome"] == "failure"


@pytest.mark.parametrize(
    ("line", "action", "user", "effective"),
    [
        (
            "May 30 08:00:00 h sshd[1]: pam_unix(sshd:session): session opened for user alice"
            "(uid=1000) by (uid=0)",
            "session-opened",
            "alice",
            None,
        ),
        (
            "May 30 08:00:00 h su[2]: pam_unix(su:session): session opened for user root by"
            " alice(uid=1000)",
            "session-opened",
            "alice",
            "root",
        ),
        (
            "May 30 08:00:00 h sudo: pam_unix(sudo:session): session opened for user root(uid=0)"
            " by alice(uid=1000)",
            "session-opened",
            "alice",
            "root",
        ),
        (
            "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
            "session-opened",
            "cyrus",
            None,
        ),
        (
            "Jul  7 08:06:15 combo login(pam_unix)[2421]: session opened for user root by"
            " LOGIN(uid=0)",
            "session-opened",
            "root",
            None,
        ),
        (
            "May 30 08:10:00 h sshd[1]: pam_unix(sshd:session): session closed for user alice",
            "session-closed",
            "alice",
            None,
        ),
    ],
)
def test_pam_sessions_name_who_opened_them(line, action, user, effective):
    document = parse(line)

    assert document["event"]["action"] == action
    assert document["event"]["category"] == ["session"]
    assert document["user"].get("name") == user
    assert document["user"].get("effective", {}).get("name") == effective


def test_a_sudo_command_names_both_users_and_the_command():
    document = parse(
        "May 30 09:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
        " COMMAND=/usr/bin/systemctl restart nginx ; echo done"
    )

    assert outcome(document) == ("system.auth", "sudo-command", ["process"], ["start"], "success")
    assert document["user"] == {"name": "alice", "effective": {"name": "root"}}
    assert document["process"]["command_line"] == "/usr/bin/systemctl restart nginx ; echo done"
    assert document["process"]["working_directory"] == "/home/alice"
    assert document["system"]["auth"]["sudo"] == {"tty": "pts/0"}
    assert document["related"]["user"] == ["alice", "root"]


def test_wrong_sudo_passwords_are_an_authentication_failure_with_the_count():
    document = parse(
        "May 30 09:00:00 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ;"
        " PWD=/home/alice ; USER=root ; COMMAND=/bin/ls"
    )

    assert outcome(document) == (
        "system.auth", "sudo-incorrect-password", ["authentication"], ["start"], "failure"
    )  # fmt: skip
    assert document["system"]["auth"]["sudo"]["count"] == 3
    assert document["user"]["name"] == "alice"


def test_a_user_not_in_sudoers_is_refused():
    document = parse(
        "May 30 09:00:00 h sudo:    mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ;"
        " USER=root ; COMMAND=/bin/bash"
    )

    assert document["event"]["action"] == "sudo-not-in-sudoers"
    assert document["event"]["outcome"] == "failure"
    assert document["user"] == {"name": "mallory", "effective": {"name": "root"}}
    assert document["system"]["auth"]["sudo"]["error"] == "user NOT in sudoers"


def test_a_sudo_line_of_another_shape_is_an_auth_event_without_action():
    document = parse("May 30 09:00:00 h sudo: unable to resolve host h: Name or service unknown")

    assert document["event"]["dataset"] == "system.auth"
    assert "action" not in document["event"]


@pytest.mark.parametrize(
    ("message", "action", "result", "user", "effective"),
    [
        ("Successful su for root by alice", "su", "success", "alice", "root"),
        ("FAILED SU (to root) alice on pts/0", "su-failed", "failure", "alice", "root"),
        ("(to root) alice on pts/0", "su", "success", "alice", "root"),
    ],
)
def test_su_names_who_switched_to_whom(message, action, result, user, effective):
    document = parse(f"May 30 09:00:00 h su[3]: {message}")

    assert document["event"]["action"] == action
    assert document["event"]["outcome"] == result
    assert document["user"] == {"name": user, "effective": {"name": effective}}


def test_a_failed_console_login_is_a_failure_for_that_user():
    document = parse(
        "May 30 09:00:00 h login[4]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root',"
        " Authentication failure"
    )

    assert outcome(document) == (
        "system.auth", "login-failed", ["authentication"], ["start"], "failure"
    )  # fmt: skip
    assert document["user"] == {"name": "root"}
    assert document["system"]["auth"]["tty"] == "/dev/tty1"


@pytest.mark.parametrize(
    "line",
    [
        "May 30 09:00:00 h login[4]: ROOT LOGIN ON tty1",
        "Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2",  # login's process title
    ],
)
def test_a_root_console_login_is_a_successful_login_as_root(line):
    document = parse(line)

    assert document["event"]["action"] == "root-login"
    assert document["event"]["outcome"] == "success"
    assert document["user"] == {"name": "root"}
    assert document["process"]["name"] == "login"


def test_logind_sessions_start_and_end():
    opened = parse("May 30 09:00:00 h systemd-logind[1]: New session 5 of user alice.")
    closed = parse("May 30 09:10:00 h systemd-logind[1]: Removed session 5.")

    assert opened["event"]["type"] == ["start"]
    assert opened["user"] == {"name": "alice"}
    assert opened["system"]["auth"]["session"] == "5"
    assert closed["event"]["type"] == ["end"]
    assert closed["system"]["auth"]["session"] == "5"


def test_an_sshd_message_of_no_known_kind_is_still_an_auth_event():
    document = sshd("fatal: Write failed: Connection reset by peer [preauth]")

    assert document["event"]["dataset"] == "system.auth"
    assert "action" not in document["event"]
    assert document["message"] == "fatal: Write failed: Connection reset by peer [preauth]"


def test_other_programs_in_an_auth_log_are_generic_syslog_events():
    document = parse("May 30 09:00:00 h CRON[9]: (root) CMD (true)")

    assert document["event"]["dataset"] == "syslog"


def test_the_format_is_detected_on_auth_programs_only():
    assert PARSER.detect(HEADER + "Accepted password for a from 1.2.3.4 port 1 ssh2")
    assert PARSER.detect("Jun 14 15:16:01 combo su(pam_unix)[1]: session closed for user x")
    assert not PARSER.detect("Jun 14 15:16:01 combo kernel: Linux version 2.6")
    assert not PARSER.detect('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /" 200 1')


def test_a_log_of_auth_programs_is_guessed_as_linux_auth():
    lines = [
        HEADER + "Invalid user x from 1.2.3.4",
        HEADER + "Failed password for invalid user x from 1.2.3.4 port 22 ssh2",
        "May 30 09:00:00 h su[9]: pam_unix(su:session): session closed for user root",
        "May 30 09:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
    ]

    assert detect_line_parser(lines) is PARSER


def test_a_log_mixing_other_programs_is_guessed_as_syslog_which_reads_it_the_same():
    lines = [HEADER + "Invalid user x from 1.2.3.4", "May 30 09:00:00 h kernel: x"]

    guessed = detect_line_parser(lines)

    assert guessed is get_parser("syslog")
    assert guessed.parse_line(lines[0], received=RECEIVED) == parse(lines[0])
