"""An office's ordinary fortnight as raw log input: the demo's everyday traffic.

Fictional staff of a Dutch municipality work to a daily rhythm (badge in, Windows logon,
intranet, a few sudo commands by the administrators; some work from home over the VPN;
quiet nights and weekends, a few internet scanners at the bastion). Every record is written
in a format Wachter parses (``ingest/parsers``), so the demo goes through the same parsing
and normalisation as real logs. Addresses are from the documentation ranges (RFC 5737):
192.0.2.0/24 is the office, 198.51.100.0/24 and 203.0.113.0/24 are the internet.

``Record`` is one raw input with its time; ``FEEDS`` names the demo sources, one per format.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

LINUX, WEB, VPN, WINDOWS, BADGE = "linux", "web", "vpn", "windows", "badge"


@dataclass(frozen=True)
class Feed:
    """A demo source: its name in the event store and the format Wachter reads it in."""

    source: str
    format_name: str
    origin: str  # what dead letters show as the delivery's origin


FEEDS: Final = {
    LINUX: Feed("demo-linux-auth", "linux-auth", "demo-auth.log"),
    WEB: Feed("demo-web", "nginx-access", "demo-intranet-access.log"),
    VPN: Feed("demo-openvpn", "openvpn", "demo-openvpn.log"),
    WINDOWS: Feed("demo-windows", "windows", "demo-winlogbeat"),
    BADGE: Feed("demo-badge", "badge-csv", "demo-badge-export.csv"),
}
SOURCES: Final = tuple(feed.source for feed in FEEDS.values())


@dataclass(frozen=True)
class Record:
    """One raw input: a text line, or a Windows event as a flat JSON object."""

    moment: datetime  # aware UTC
    feed: str  # a key of FEEDS
    raw: str | dict[str, Any]


# Fictional colleagues (account, workstation number); the administrators' own accounts.
STAFF: Final = (
    "j.devries", "a.jansen", "p.bakker", "m.visser", "s.smit", "l.meijer", "r.debruijn",
    "e.mulder", "t.degroot", "k.bos", "n.vos", "h.peters", "w.hendriks", "f.vandijk",
    "c.dekker", "b.vanleeuwen", "i.brouwer", "d.dejong", "y.vermeulen", "g.kok",
)  # fmt: skip
ADMINS: Final = ("adm.jdevries", "adm.pbakker")
ADMIN_ACCOUNTS: Final = (*ADMINS, "root")
OFFICE_NETWORK: Final = "192.0.2.0/24"
DOMAIN: Final = "GEMEENTE"
DC: Final = "dc01.gemeente.example"
SERVERS: Final = ("srv-app-01", "srv-db-01", "srv-web-01")
BASTION: Final = "bastion-dh-01"
PROGRAMS: Final = ("WINWORD.EXE", "OUTLOOK.EXE", "msedge.exe", "EXCEL.EXE", "Teams.exe")
PAGES: Final = (
    "/", "/nieuws", "/personeelsgids", "/roosters", "/zaaksysteem/zaken", "/zaaksysteem/zoeken",
    "/vergaderingen", "/smoelenboek", "/ict/storingen", "/formulieren/verlof",
)  # fmt: skip
SUDO_COMMANDS: Final = (
    "/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u postgresql",
    "/usr/bin/apt-get upgrade -y", "/usr/bin/tail -n 200 /var/log/syslog",
)  # fmt: skip
BROWSER: Final = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Edg/131.0"


def workstation(person: str) -> tuple[str, str]:
    """The person's desk: host name and office address."""
    number = STAFF.index(person) + 1 if person in STAFF else 90 + ADMINS.index(person)
    return f"ws-den-haag-{number:03d}", f"192.0.2.{100 + number}"


def home_address(person: str) -> str:
    number = STAFF.index(person) + 1 if person in STAFF else 90
    return f"198.51.100.{30 + number}"


# --- the formats ---------------------------------------------------------------------------


def syslog(moment: datetime, host: str, program: str, message: str) -> str:
    """An auth.log line (RFC 3164; the demo writes UTC, as the parser reads a zone-less time)."""
    return f"{moment:%b %d %H:%M:%S} {host} {program}: {message}"


def sshd(moment: datetime, host: str, message: str, pid: int = 4242) -> Record:
    return Record(moment, LINUX, syslog(moment, host, f"sshd[{pid}]", message))


def vpn(moment: datetime, message: str) -> Record:
    return Record(moment, VPN, f"{moment:%Y-%m-%d %H:%M:%S} {message}")


def vpn_login(moment: datetime, person: str, address: str) -> Record:
    return vpn(
        moment,
        f"{address}:{51000 + moment.second} TLS: Username/Password authentication succeeded "
        f"for username '{person}' [CN SET]",
    )


def windows(event_id: int, moment: datetime, computer: str = DC, **data: Any) -> Record:
    flat = {
        "EventID": event_id,
        "Channel": "Security",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Computer": computer,
        "SystemTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **data,
    }
    return Record(moment, WINDOWS, flat)


def logon(moment: datetime, person: str, address: str, logon_type: int) -> Record:
    return windows(
        4624,
        moment,
        TargetUserName=person,
        TargetDomainName=DOMAIN,
        IpAddress=address,
        IpPort="0",
        LogonType=logon_type,
    )


def failed_logon(moment: datetime, person: str, address: str, sub_status: str) -> Record:
    return windows(
        4625,
        moment,
        TargetUserName=person,
        TargetDomainName=DOMAIN,
        IpAddress=address,
        IpPort="51234",
        LogonType=3,
        Status="0xc000006d" if sub_status == "0xc000006a" else "0xc000006e",
        SubStatus=sub_status,
    )


BADGE_HEADER: Final = "Tijdstip,Kaartnummer,Pashouder,Lezer,Zone,Resultaat,Paneel"


def badge(moment: datetime, person: str, door: str, *, granted: bool = True) -> Record:
    card = 4000 + (STAFF.index(person) if person in STAFF else 99)
    result = "Toegang verleend" if granted else "Toegang geweigerd"
    zone = "Publiekshal" if door == "Hoofdingang" else "Kantoor"
    return Record(
        moment,
        BADGE,
        f"{moment:%Y-%m-%dT%H:%M:%SZ},{card:05d},{person},{door},{zone},{result},PNL-DH-01",
    )


def web(moment: datetime, address: str, path: str, status: int = 200) -> Record:
    return Record(
        moment,
        WEB,
        f'{address} - - [{moment:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" {status} '
        f'{1800 + len(path) * 37} "https://intranet.gemeente.example/" "{BROWSER}"',
    )


# --- the rhythm ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Office:
    """Where and when: the organisation's time zone and the span the demo covers."""

    timezone: ZoneInfo
    start: datetime  # aware UTC
    end: datetime  # aware UTC (now)

    def at(self, day: date, hour: float) -> datetime:
        """``hour`` (local, fractional) on ``day`` as UTC."""
        local = datetime.combine(day, time(0), tzinfo=self.timezone) + timedelta(hours=hour)
        return local.astimezone(UTC)

    def days(self) -> Iterator[date]:
        day = self.start.astimezone(self.timezone).date()
        while day <= self.end.astimezone(self.timezone).date():
            yield day
            day += timedelta(days=1)

    def within(self, records: list[Record]) -> list[Record]:
        return [record for record in records if self.start <= record.moment < self.end]


def everyday(office: Office, rng: random.Random) -> list[Record]:
    """Every ordinary record of the span, in no particular order."""
    records: list[Record] = []
    for day in office.days():
        working = day.weekday() < 5
        for person in STAFF:
            chance = rng.random()
            if working and chance < 0.68:
                records += _office_day(office, rng, day, person)
            elif (working and chance < 0.93) or (not working and chance < 0.04):
                records += _home_day(office, rng, day, person, working=working)
        if working:
            for admin in ADMINS:
                records += _admin_day(office, rng, day, admin)
        records += _monitoring(office, rng, day)
        records += _scanners(office, rng, day)
    return office.within(records)


def _office_day(office: Office, rng: random.Random, day: date, person: str) -> list[Record]:
    host, address = workstation(person)
    arrival = office.at(day, rng.uniform(7.4, 9.6))
    seconds = timedelta(seconds=1)
    records = [badge(arrival, person, "Hoofdingang")]
    if rng.random() < 0.5:
        records.append(badge(arrival + 90 * seconds, person, "Kantoortuin 3e verdieping"))
    desk = arrival + timedelta(minutes=rng.uniform(3, 9))
    if rng.random() < 0.06:  # a mistyped password, put right at once
        records.append(failed_logon(desk - 20 * seconds, person, address, "0xc000006a"))
    records.append(logon(desk, person, address, 2))
    hours = rng.uniform(7.5, 9.0)
    for _ in range(rng.randint(2, 5)):
        moment = desk + timedelta(hours=rng.uniform(0, hours))
        program = rng.choice(PROGRAMS)
        records.append(
            windows(
                4688,
                moment,
                computer=f"{host}.gemeente.example",
                SubjectUserName=person,
                SubjectDomainName=DOMAIN,
                NewProcessName=f"C:\\Program Files\\Microsoft Office\\root\\Office16\\{program}",
            )
        )
    for _ in range(rng.randint(6, 20)):
        moment = desk + timedelta(hours=rng.uniform(0, hours))
        records.append(web(moment, address, rng.choice(PAGES)))
    return records


def _home_day(
    office: Office, rng: random.Random, day: date, person: str, *, working: bool
) -> list[Record]:
    address = home_address(person)
    start = office.at(day, rng.uniform(7.8, 9.5) if working else rng.uniform(10, 16))
    records: list[Record] = []
    if rng.random() < 0.05:
        records.append(
            vpn(
                start - timedelta(seconds=30),
                f"AUTH-PAM: BACKGROUND: user '{person}' failed to authenticate: Bad password",
            )
        )
    records.append(vpn_login(start, person, address))
    tunnel = f"192.0.2.{200 + STAFF.index(person)}"  # the VPN pool is inside the office range
    for _ in range(rng.randint(4, 14) if working else rng.randint(1, 3)):
        moment = start + timedelta(hours=rng.uniform(0, 7 if working else 1))
        records.append(web(moment, tunnel, rng.choice(PAGES)))
    return records


def _admin_day(office: Office, rng: random.Random, day: date, admin: str) -> list[Record]:
    _host, address = workstation(admin)
    start = office.at(day, rng.uniform(8.0, 9.5))
    records = [
        logon(start, admin, address, 2),
        windows(
            4672,
            start,
            SubjectUserName=admin,
            SubjectDomainName=DOMAIN,
            PrivilegeList="SeSecurityPrivilege SeBackupPrivilege SeDebugPrivilege",
        ),
    ]
    for _ in range(rng.randint(1, 3)):
        server = rng.choice(SERVERS)
        moment = start + timedelta(hours=rng.uniform(0.5, 7.5))
        pid = rng.randint(1000, 60000)
        records.append(
            sshd(
                moment,
                server,
                f"Accepted publickey for {admin} from {address} port "
                f"{rng.randint(40000, 60000)} ssh2: ED25519 SHA256:demo{pid}",
                pid=pid,
            )
        )
        for step in range(rng.randint(1, 3)):
            command = rng.choice(SUDO_COMMANDS)
            message = f" {admin} : TTY=pts/0 ; PWD=/home/{admin} ; USER=root ; COMMAND={command}"
            sudo_at = moment + timedelta(minutes=2 + step)
            records.append(Record(sudo_at, LINUX, syslog(sudo_at, server, "sudo", message)))
    return records


def _monitoring(office: Office, rng: random.Random, day: date) -> list[Record]:
    """The load balancer's health check of the intranet, every ten minutes, day and night."""
    first = office.at(day, 0) + timedelta(seconds=rng.randint(0, 59))
    return [
        web(first + timedelta(minutes=10 * step), "192.0.2.5", "/healthz") for step in range(144)
    ]


def _scanners(office: Office, rng: random.Random, day: date) -> list[Record]:
    """Internet background noise at the bastion: a few unknown names tried, then gone."""
    records: list[Record] = []
    for _ in range(rng.randint(1, 3)):
        moment = office.at(day, rng.uniform(0, 24))
        address = f"203.0.113.{rng.randint(150, 250)}"
        name = rng.choice(("admin", "oracle", "test", "ubuntu", "git", "postgres"))
        port = rng.randint(30000, 65000)
        records.append(sshd(moment, BASTION, f"Invalid user {name} from {address} port {port}"))
        records.append(
            sshd(
                moment + timedelta(seconds=2),
                BASTION,
                f"Connection closed by invalid user {name} {address} port {port} [preauth]",
            )
        )
    return records


def malformed(office: Office) -> list[Record]:
    """Three records no parser can read, so the rejected-input page has something to show."""
    moment = office.end - timedelta(hours=5)
    return [
        Record(moment, LINUX, "Nov 31 25:61:00 srv-app-01 sshd[812]: Connection closed"),
        Record(moment, WINDOWS, '{"EventID": 4624, "Computer": "ws-den-haag-007"'),
        Record(moment, BADGE, "31-02-2026 25:61,04007,m.visser,Hoofdingang,,Toegang verleend,"),
    ]
