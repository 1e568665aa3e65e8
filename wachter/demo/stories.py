"""Attack stories hidden in the demo's fortnight, each one Wachter's own rule pack detects.

Every story is raw input in the formats Wachter parses (see ``wachter.demo.events``), placed
at a moment inside the span, so the alerts the demo shows come from the real parsers, the real
matcher and the real correlations, not from rows written by hand:

================================  ===============================================================
password guessed over SSH         brute force against one account, success after failures
password spraying                 failed Windows logons of many accounts from one address
a leaver's account                Windows logon to a disabled account
retired account in a script       SSH login attempt to a locked Linux account
night-time administrator          privileged sign-in outside office hours, Windows administrator
                                  account created
root at night                     privileged sign-in outside office hours
badge and VPN apart               badge access and VPN login from different places
================================  ===============================================================
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final

from wachter.demo.events import (
    BASTION,
    DOMAIN,
    STAFF,
    Office,
    Record,
    badge,
    failed_logon,
    logon,
    sshd,
    vpn_login,
    windows,
)

NEW_ACCOUNT_SID: Final = "S-1-5-21-3623811015-3361044348-30300820-1107"
ADMINISTRATORS_SID: Final = "S-1-5-32-544"


def _seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


def password_guessed(at: datetime, rng: random.Random) -> list[Record]:
    """Fourteen wrong SSH passwords for k.bos from one address, then the right one."""
    address, moment, records = "203.0.113.45", at, []
    for _ in range(14):
        port = rng.randint(40000, 60000)
        records.append(
            sshd(moment, BASTION, f"Failed password for k.bos from {address} port {port} ssh2")
        )
        moment += _seconds(rng.uniform(12, 30))
    records.append(
        sshd(moment, BASTION, f"Accepted password for k.bos from {address} port 40022 ssh2")
    )
    return records


def password_spraying(at: datetime, rng: random.Random) -> list[Record]:
    """One address tries one password against fourteen accounts, one every minute or two."""
    names = rng.sample(STAFF, 14)
    return [
        failed_logon(at + timedelta(minutes=1.5 * index), name, "198.51.100.77", "0xc000006a")
        for index, name in enumerate(names)
    ]


def leaver_account(at: datetime, _rng: random.Random) -> list[Record]:
    """A colleague who left (l.vandenberg, account disabled) still tries to log on."""
    return [
        failed_logon(at + _seconds(40 * step), "l.vandenberg", "192.0.2.131", "0xc0000072")
        for step in range(3)
    ]


def retired_account_script(at: datetime, _rng: random.Random) -> list[Record]:
    """A backup script still uses the locked account r.dewit (a false positive, in the end)."""
    return [
        sshd(
            at,
            "srv-db-01",
            "User r.dewit from 192.0.2.60 not allowed because account is locked",
        )
    ]


def night_administrator(at: datetime, _rng: random.Random) -> list[Record]:
    """adm.pbakker signs in from outside at night, creates an account, makes it an admin."""
    actor = {"SubjectUserName": "adm.pbakker", "SubjectDomainName": DOMAIN}
    return [
        logon(at, "adm.pbakker", "203.0.113.66", 10),
        windows(4672, at, PrivilegeList="SeSecurityPrivilege SeBackupPrivilege", **actor),
        windows(
            4720,
            at + timedelta(minutes=6),
            TargetUserName="svc-backup2",
            TargetDomainName=DOMAIN,
            TargetSid=NEW_ACCOUNT_SID,
            **actor,
        ),
        windows(
            4732,
            at + timedelta(minutes=9),
            MemberName="-",
            MemberSid=NEW_ACCOUNT_SID,
            TargetUserName="Administrators",
            TargetDomainName="Builtin",
            TargetSid=ADMINISTRATORS_SID,
            **actor,
        ),
    ]


def root_at_night(at: datetime, _rng: random.Random) -> list[Record]:
    return [sshd(at, "srv-db-01", "Accepted publickey for root from 198.51.100.23 port 50022 ssh2")]


def badge_and_vpn_apart(at: datetime, _rng: random.Random) -> list[Record]:
    """a.jansen's badge opens the front door while "she" logs in to the VPN from elsewhere."""
    return [
        badge(at, "a.jansen", "Hoofdingang"),
        vpn_login(at + timedelta(minutes=7), "a.jansen", "203.0.113.200"),
    ]


Story = Callable[[datetime, random.Random], list[Record]]
# (story, how far back in the span as a share of it, local hour of day)
STORIES: Final[tuple[tuple[Story, float, float], ...]] = (
    (password_guessed, 0.15, 2.7),
    (password_spraying, 0.35, 13.2),
    (leaver_account, 0.5, 8.9),
    (retired_account_script, 0.6, 21.25),
    (night_administrator, 0.1, 23.0),
    (root_at_night, 0.25, 2.25),
    (badge_and_vpn_apart, 0.45, 10.05),
)


def stories(office: Office, rng: random.Random) -> list[Record]:
    """Every story's records, each placed in the span (never in the future)."""
    records: list[Record] = []
    span_days = max((office.end - office.start).days, 1)
    today = office.end.astimezone(office.timezone).date()
    for story, share, hour in STORIES:
        records += story(_moment(office, today, round(span_days * share), hour), rng)
    return records


def _moment(office: Office, today: date, days_back: int, hour: float) -> datetime:
    moment = office.at(today - timedelta(days=days_back), hour)
    # A story needs room for its later steps: move it a day back when it would end after now.
    while moment > office.end - timedelta(hours=1):
        moment -= timedelta(days=1)
    return max(moment, office.start + timedelta(minutes=1))
