"""Wachter's own rule pack: every rule loads, passes every offline validator and compiles, and
each rule fires on events made the way the service makes them (raw lines through Wachter's
parsers, the console's own events through its real services and the audit trail, all through
``normalise.finish``) and stays quiet on a near-miss.

The harness is the streaming path in small: the ``Matcher`` finds the base rules an event
matches, the ``CorrelationEngine`` is told of each, and an alert is a match or a hit of a rule
no correlation withholds (Sigma's ``generate: false``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyotp
import pytest
from cryptography.fernet import Fernet
from sigma.correlations import SigmaCorrelationRule
from sqlalchemy.orm import Session

import detection_rules
from access_control import Actor, login, recovery, sessions, tokens, users
from access_control.auth_events import authentication_events
from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from detection_rules.correlation import (
    CompiledCorrelation,
    CorrelationEngine,
    compile_correlation,
    suppressed_rules,
)
from detection_rules.fields import event_time
from detection_rules.loading import load_rules
from detection_rules.matcher import Matcher, compile_rule, derived_fields
from detection_rules.pipelines import default_pipeline
from detection_rules.validation import validate_sources
from ingest.normalise import finish
from ingest.parsers import get_parser
from ingest.parsers.badge_csv import parser as badge_parser
from ingest.parsers.windows import WindowsParser
from tests.factories import make_user

PACK = Path(detection_rules.__file__).parent / "packs"
BADGE_MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "badge-mapping.toml"
LISTS = {
    "admin_accounts": ["root", "beheerder"],
    "office_networks": ["10.20.0.0/16"],
    # filled from the measures register and the vault (tests/integration/test_staff_rule_pack.py)
    "banned_persons": [],
    "banned_identifiers": [],
    "contact_restricted": [],
    "doxing_targets": [],
}
# Monday 30 November 2026; office hours are 07:00-19:00 Europe/Amsterdam (UTC+1).
DAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
PASSWORD = "lange zin met paarse olifanten 2026"


@dataclass(frozen=True)
class Pack:
    matcher: Matcher
    correlations: tuple[CompiledCorrelation, ...]
    suppressed: frozenset[str]
    names: dict[str, str]  # rule key -> Sigma name


@functools.cache
def pack() -> Pack:
    sources = validate_sources(
        load_rules([PACK]), pipeline=default_pipeline(), lists=LISTS, strict=True
    )
    problems = [str(problem) for source in sources for problem in source.problems]
    assert problems == []
    loaded = [entry.rule for source in sources for entry in source.loaded]
    base = [
        compile_rule(rule, pipeline=default_pipeline(), lists=LISTS)
        for rule in loaded
        if not isinstance(rule, SigmaCorrelationRule)
    ]
    correlations = tuple(
        compile_correlation(rule, pipeline=default_pipeline())
        for rule in loaded
        if isinstance(rule, SigmaCorrelationRule)
    )
    names = {rule.key: str(rule.name) for rule in (*base, *correlations)}
    return Pack(
        Matcher(base, derived=derived_fields()),
        correlations,
        suppressed_rules(correlations),
        names,
    )


def alerts(events: Iterable[dict[str, Any]]) -> list[str]:
    """The names of the rules that alert on ``events`` (taken in time order)."""
    rules, engine, fired = pack(), CorrelationEngine(pack().correlations), []
    for index, event in enumerate(sorted(events, key=_time)):
        for rule in rules.matcher.match(event):
            if rule.key not in rules.suppressed:
                fired.append(rules.names[rule.key])
            for hit in engine.observe(rule.key, event, time=_time(event), event_ref=index):
                if hit.correlation.key not in rules.suppressed:
                    fired.append(rules.names[hit.correlation.key])
    return fired


def _time(event: dict[str, Any]) -> datetime:
    moment = event_time(event)
    assert moment is not None
    return moment


def stored(document: dict[str, Any], ingested: datetime = DAY) -> dict[str, Any]:
    record = finish(document, source="test", event_key="k", ingested=ingested)
    result: dict[str, Any] = orjson.loads(record.document)
    return result


def line(parser: str, text: str) -> dict[str, Any]:
    return stored(get_parser(parser).parse_line(text, received=DAY + timedelta(days=1)))


def syslog_time(moment: datetime) -> str:
    return moment.strftime("%b %d %H:%M:%S")


def windows(event_id: int, moment: datetime, **data: Any) -> dict[str, Any]:
    flat = {
        "EventID": event_id,
        "Channel": "Security",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Computer": "dc01.corp.example",
        "SystemTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **data,
    }
    return stored(WindowsParser().parse_document(flat, received=DAY))


def openvpn(moment: datetime, message: str) -> dict[str, Any]:
    return line("openvpn", f"{moment:%Y-%m-%d %H:%M:%S} {message}")


def sshd(moment: datetime, message: str) -> dict[str, Any]:
    return line("linux-auth", f"{syslog_time(moment)} bastion sshd[4242]: {message}")


def every(start: datetime, count: int, step: timedelta = timedelta(seconds=20)) -> list[datetime]:
    return [start + index * step for index in range(count)]


# --- the pack as data ------------------------------------------------------------------


def test_every_pack_rule_loads_validates_and_compiles_with_a_stable_id():
    rules = pack()
    identifiers = [entry.rule.id for source in load_rules([PACK]) for entry in source.loaded]

    assert len(rules.names) == len(identifiers) == 35
    assert len(set(identifiers)) == len(identifiers)
    assert all(identifier is not None for identifier in identifiers)


def test_the_readme_lists_every_pack_rule_by_title():
    readme = (PACK / "README.md").read_text(encoding="utf-8")
    titles = [entry.rule.title for source in load_rules([PACK]) for entry in source.loaded]

    assert [title for title in titles if title not in readme] == []


def test_only_correlations_and_single_event_findings_alert_never_one_failed_login():
    suppressed = {pack().names[key] for key in pack().suppressed}

    assert "wachter_failed_authentication" in suppressed
    assert "wachter_failure_burst_before_success" in suppressed
    assert "wachter_brute_force_one_account" not in suppressed
    assert "wachter_console_recovery_code_used" not in suppressed


# --- password guessing on any source ------------------------------------------------------


def test_ten_failed_ssh_passwords_for_one_account_are_brute_force():
    failures = [
        sshd(moment, f"Failed password for alice from 203.0.113.5 port {5000 + i} ssh2")
        for i, moment in enumerate(every(DAY, 10))
    ]

    assert alerts(failures) == ["wachter_brute_force_one_account"]


def test_nine_failed_ssh_passwords_with_their_pam_lines_are_not_brute_force():
    events = []
    for i, moment in enumerate(every(DAY, 9)):
        events.append(
            sshd(
                moment,
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                "ruser= rhost=203.0.113.5  user=alice",
            )
        )
        events.append(sshd(moment, f"Failed password for alice from 203.0.113.5 port {i} ssh2"))

    assert alerts(events) == []


def test_ten_failures_spread_over_more_than_ten_minutes_are_not_brute_force():
    failures = [
        sshd(moment, f"Failed password for alice from 203.0.113.5 port {5000 + i} ssh2")
        for i, moment in enumerate(every(DAY, 10, timedelta(minutes=2)))
    ]

    assert alerts(failures) == []


def spraying(count: int, addresses: int = 1) -> list[dict[str, Any]]:
    return [
        windows(
            4625,
            moment,
            TargetUserName=f"medewerker{i}",
            TargetDomainName="CORP",
            IpAddress=f"198.51.100.{20 + i % addresses}",
            IpPort="51234",
            LogonType=3,
            Status="0xc000006d",
            SubStatus="0xc000006a",
        )
        for i, moment in enumerate(every(DAY, count, timedelta(minutes=2)))
    ]


def test_failed_windows_logons_of_ten_accounts_from_one_address_are_password_spraying():
    assert alerts(spraying(10)) == ["wachter_password_spraying"]


def test_nine_accounts_or_ten_addresses_are_not_password_spraying():
    assert alerts(spraying(9)) == []
    assert alerts(spraying(10, addresses=10)) == []


def vpn_failures_then_success(failures: int, start: datetime = DAY) -> list[dict[str, Any]]:
    moments = every(start, failures + 1)
    events = [
        openvpn(moment, "AUTH-PAM: BACKGROUND: user 'alice' failed to authenticate: Bad password")
        for moment in moments[:-1]
    ]
    success = "203.0.113.9:51234 TLS: Username/Password authentication succeeded for username"
    return [*events, openvpn(moments[-1], f"{success} 'alice' [CN SET]")]


def test_a_vpn_login_after_five_failures_is_success_after_failures():
    assert alerts(vpn_failures_then_success(5)) == ["wachter_success_after_failures"]


def test_a_vpn_login_after_four_failures_is_nothing():
    assert alerts(vpn_failures_then_success(4)) == []


def test_a_success_before_the_failures_is_not_success_after_failures():
    events = vpn_failures_then_success(5)
    first, success = events[0], events[-1]
    moved = {**success, "@timestamp": "2026-11-30T09:59:00Z"}

    assert alerts([moved, *events[:-1]]) == []
    assert first["event"]["outcome"] == "failure"


# --- privileged accounts --------------------------------------------------------------------


def test_root_signing_in_over_ssh_at_night_is_a_privileged_sign_in_outside_office_hours():
    accepted = "Accepted publickey for root from 198.51.100.7 port 50022 ssh2"

    assert alerts([sshd(NIGHT, accepted)]) == ["wachter_privileged_sign_in_outside_office_hours"]
    assert alerts([sshd(DAY, accepted)]) == []
    assert alerts([sshd(NIGHT, accepted.replace("root", "alice"))]) == []


def test_a_windows_service_logon_of_an_admin_at_night_is_left_out():
    logon = {"TargetUserName": "beheerder", "TargetDomainName": "CORP", "IpAddress": "10.20.1.5"}

    assert alerts([windows(4624, NIGHT, LogonType=10, **logon)]) == [
        "wachter_privileged_sign_in_outside_office_hours"
    ]
    assert alerts([windows(4624, NIGHT, LogonType=5, **logon)]) == []


NEW_SID = "S-1-5-21-3623811015-3361044348-30300820-1107"


def account_created_then_added(group_sid: str, member_sid: str = NEW_SID) -> list[dict[str, Any]]:
    return [
        windows(4720, DAY, TargetUserName="svc-backup2", TargetDomainName="CORP",
                TargetSid=NEW_SID, SubjectUserName="eve", SubjectDomainName="CORP"),
        windows(4732, DAY + timedelta(minutes=3), MemberName="-", MemberSid=member_sid,
                TargetUserName="Administrators", TargetDomainName="Builtin",
                TargetSid=group_sid, SubjectUserName="eve", SubjectDomainName="CORP"),
    ]  # fmt: skip


def test_a_new_windows_account_added_to_administrators_is_an_admin_account_created():
    assert alerts(account_created_then_added("S-1-5-32-544")) == ["wachter_windows_admin_created"]
    domain_admins = "S-1-5-21-3623811015-3361044348-30300820-512"
    assert alerts(account_created_then_added(domain_admins)) == ["wachter_windows_admin_created"]


def test_a_new_windows_account_in_another_group_or_another_member_is_nothing():
    remote_desktop_users = "S-1-5-32-555"
    other = "S-1-5-21-3623811015-3361044348-30300820-1004"

    assert alerts(account_created_then_added(remote_desktop_users)) == []
    assert alerts(account_created_then_added("S-1-5-32-544", member_sid=other)) == []


def test_windows_logons_to_a_disabled_account_are_use_of_a_disabled_account():
    logon = {"TargetUserName": "oud-account", "IpAddress": "10.20.1.9", "LogonType": 3}

    disabled = windows(4625, DAY, Status="0xC000006E", SubStatus="0xC0000072", **logon)
    wrong_password = windows(4625, DAY, Status="0xC000006D", SubStatus="0xC000006A", **logon)
    assert alerts([disabled]) == ["wachter_windows_disabled_account_used"]
    assert alerts([wrong_password]) == []


def test_sshd_refusing_a_locked_linux_account_is_use_of_a_disabled_account():
    refused = "User bob from 203.0.113.5 not allowed because account is locked"
    not_listed = "User bob from 203.0.113.5 not allowed because not listed in AllowUsers"

    assert alerts([sshd(DAY, refused)]) == ["wachter_linux_locked_account_used"]
    assert alerts([sshd(DAY, not_listed)]) == []


# --- badge and VPN ---------------------------------------------------------------------------


def badge_granted(tmp_path: Path, local_time: str, holder: str = "ajansen") -> dict[str, Any]:
    export = tmp_path / "export.csv"
    export.write_text(
        "Timestamp,Card Number,Cardholder,Reader,Area,Event,Panel\n"
        f"{local_time},0042,{holder},Main entrance,Lobby,Access Granted,P-01\n",
        encoding="utf-8",
    )
    [record] = badge_parser(BADGE_MAPPING).read_file(export, start=0, received=DAY)
    assert isinstance(record.result, dict)
    return stored(record.result)


def vpn_login(moment: datetime, address: str, user: str = "ajansen") -> dict[str, Any]:
    return openvpn(
        moment,
        f"{address}:51234 TLS: Username/Password authentication succeeded for username '{user}'",
    )


def test_badging_in_and_a_vpn_login_from_outside_within_minutes_are_two_places(tmp_path):
    badge = badge_granted(tmp_path, "30/11/2026 11:00:00")  # 10:00 UTC

    assert alerts([badge, vpn_login(DAY + timedelta(minutes=5), "198.51.100.50")]) == [
        "wachter_badge_and_vpn_apart"
    ]
    # In the other order too: temporal, not temporal_ordered.
    assert alerts([badge, vpn_login(DAY - timedelta(minutes=10), "198.51.100.50")]) == [
        "wachter_badge_and_vpn_apart"
    ]


def test_a_vpn_login_from_the_office_or_much_later_or_by_someone_else_is_nothing(tmp_path):
    badge = badge_granted(tmp_path, "30/11/2026 11:00:00")

    assert alerts([badge, vpn_login(DAY + timedelta(minutes=5), "10.20.3.4")]) == []
    assert alerts([badge, vpn_login(DAY + timedelta(minutes=40), "198.51.100.50")]) == []
    assert alerts([badge, vpn_login(DAY, "198.51.100.50", user="pdevries")]) == []


# --- Wachter's own console, through its real services and the audit trail -------------------


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=8, time_cost=1, parallelism=1)


@dataclass
class Console:
    """Sign-ins to Wachter's console through ``access_control.login``, at given times."""

    session: Session
    hasher: PasswordHasher
    box: SecretBox
    secret: str = ""

    def user(self, username: str, *, role: str = "staff") -> Any:
        self.secret = pyotp.random_base32(32)
        return make_user(
            self.session,
            username=username,
            role=role,
            password_hash=self.hasher.hash(PASSWORD),
            totp_secret=self.box.encrypt(self.secret),
            totp_enrolled_at=DAY - timedelta(days=30),
        )

    def password(self, username: str, password: str, now: datetime, ip: str) -> login.Result:
        return login.password_step(
            self.session, username=username, password=password, hasher=self.hasher,
            actor=Actor(name="anonymous", ip=ip), now=now,
        )  # fmt: skip

    def code(self, user: Any, code: str, now: datetime, token: str | None) -> login.Result:
        auth = sessions.load_session(self.session, token=token, now=now)
        assert auth is not None
        return login.mfa_step(
            self.session, auth=auth, user=user, code=code, box=self.box,
            actor=Actor(name="anonymous", ip="198.51.100.61"), now=now,
        )  # fmt: skip

    def wrong_codes(self, user: Any, count: int, start: datetime) -> None:
        token = self.password(user.username, PASSWORD, start, "198.51.100.61").token
        for moment in every(start + timedelta(seconds=5), count, timedelta(seconds=10)):
            self.code(user, "000000", moment, token)

    def events(self) -> list[dict[str, Any]]:
        return [stored(document) for document in authentication_events(self.session)]


@pytest.fixture
def console(db_session, hasher, box) -> Console:
    return Console(db_session, hasher, box)


ADMIN = Actor(name="beheerder", user_id=None, ip="192.0.2.10")


def test_five_refused_mfa_codes_are_an_mfa_failure_burst(console):
    console.wrong_codes(console.user("alice"), 5, DAY)

    assert alerts(console.events()) == ["wachter_console_mfa_failure_burst"]


def test_four_refused_mfa_codes_are_nothing(console):
    console.wrong_codes(console.user("alice"), 4, DAY)

    assert alerts(console.events()) == []


def test_ten_refused_codes_lock_the_account_and_that_is_reported(console):
    alice = console.user("alice")
    console.wrong_codes(alice, 5, DAY)
    console.wrong_codes(alice, 5, DAY + timedelta(minutes=20))

    assert sorted(alerts(console.events())) == [
        "wachter_console_account_locked",
        "wachter_console_mfa_failure_burst",
        "wachter_console_mfa_failure_burst",
    ]


def test_ten_refused_passwords_from_one_address_are_a_failure_burst(console):
    for i, moment in enumerate(every(DAY, 10)):
        console.password(f"gok{i}", "welkom01", moment, "203.0.113.77")

    fired = alerts(console.events())

    assert "wachter_console_failure_burst_from_address" in fired
    assert "wachter_password_spraying" in fired  # ten accounts from one address, too


def test_nine_refused_passwords_from_one_address_are_nothing(console):
    for i, moment in enumerate(every(DAY, 9)):
        console.password(f"gok{i}", "welkom01", moment, "203.0.113.77")

    assert alerts(console.events()) == []


def test_a_sign_in_with_a_recovery_code_is_reported_and_one_with_totp_is_not(console):
    alice = console.user("alice")
    codes = recovery.generate_recovery_codes(console.session, user=alice, now=DAY)
    token = console.password("alice", PASSWORD, DAY, "198.51.100.61").token
    assert console.code(alice, codes[0], DAY, token).outcome == login.Outcome.SIGNED_IN
    bob = console.user("bob")
    later = DAY + timedelta(minutes=1)
    token = console.password("bob", PASSWORD, later, "198.51.100.62").token
    totp_code = pyotp.TOTP(console.secret).at(later)
    assert console.code(bob, totp_code, later, token).outcome == login.Outcome.SIGNED_IN

    assert alerts(console.events()) == ["wachter_console_recovery_code_used"]


def test_the_right_password_for_a_disabled_account_is_reported(console):
    oud = console.user("oud")
    users.disable_user(console.session, user=oud, actor=ADMIN, now=DAY)
    console.password("oud", "verkeerd wachtwoord", DAY + timedelta(minutes=1), "198.51.100.9")
    assert alerts(console.events()) == []

    console.password("oud", PASSWORD, DAY + timedelta(minutes=2), "198.51.100.9")

    assert alerts(console.events()) == ["wachter_console_disabled_account_used"]


def test_creating_or_promoting_an_administrator_is_reported(console):
    users.create_user(
        console.session, username="nieuw", display_name="Nieuw", role="staff", actor=ADMIN,
        now=DAY,
    )  # fmt: skip
    assert alerts(console.events()) == []

    users.create_user(
        console.session, username="root2", display_name="Root", role="admin", actor=ADMIN,
        now=DAY,
    )  # fmt: skip
    analyst = console.user("analist", role="soc_analyst")
    users.change_role(console.session, user=analyst, role="security_officer", actor=ADMIN, now=DAY)
    staff = console.user("carol")
    users.change_role(console.session, user=staff, role="admin", actor=ADMIN, now=DAY)

    assert alerts(console.events()) == [
        "wachter_console_admin_created",
        "wachter_console_admin_created",
    ]


def test_an_api_token_used_from_a_second_address_is_reported(console):
    token, presented = tokens.create_token(
        console.session, name="vector", scopes={tokens.Scope.EVENTS_WRITE}, owner_id=None,
        expires_in=timedelta(days=30), actor=ADMIN, now=DAY,
    )  # fmt: skip
    for moment in every(DAY, 3, timedelta(minutes=2)):
        tokens.authenticate(
            console.session, presented=presented, scope=None, now=moment, ip="10.20.0.15"
        )
    assert alerts(console.events()) == []

    tokens.authenticate(
        console.session, presented=presented, scope=None, now=DAY + timedelta(hours=1),
        ip="203.0.113.200",
    )  # fmt: skip

    events = console.events()
    assert alerts(events) == ["wachter_console_token_new_source"]
    [used] = [event for event in events if event["event"]["action"] == "auth.token.new_source"]
    assert used["source"]["ip"] == "203.0.113.200"
    assert used["wachter"]["details"] == {"token_id": token.id, "previous_ip": "10.20.0.15"}


def test_a_console_sign_in_of_an_admin_at_night_is_a_privileged_sign_in(console):
    beheerder = console.user("beheerder", role="admin")
    token = console.password("beheerder", PASSWORD, NIGHT, "198.51.100.61").token
    code = pyotp.TOTP(console.secret).at(NIGHT)
    assert console.code(beheerder, code, NIGHT, token).outcome == login.Outcome.SIGNED_IN

    assert alerts(console.events()) == ["wachter_privileged_sign_in_outside_office_hours"]


def test_an_office_networks_list_with_a_single_address_still_excludes_the_office_range():
    rule = next(
        entry.rule
        for source in load_rules([PACK])
        for entry in source.loaded
        if entry.rule.name == "wachter_vpn_login_from_outside"
    )
    lists = {**LISTS, "office_networks": ["10.20.0.0/16", "192.0.2.5"]}
    compiled = compile_rule(rule, pipeline=default_pipeline(), lists=lists)

    assert not compiled.matches(vpn_login(DAY, "10.20.3.4"))
    assert not compiled.matches(vpn_login(DAY, "192.0.2.5"))
    assert compiled.matches(vpn_login(DAY, "203.0.113.9"))
