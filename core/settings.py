"""Wachter's configuration: one frozen object built once from ``WACHTER_*`` variables.

``Settings.from_env()`` parses and validates every variable and raises ``ConfigError``
naming the first bad one. Nothing here touches the file system; ``core.datadir.prepare``
creates the data directory and the secret key afterwards.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError

PREFIX = "WACHTER_"
# Variables read by the test harness only; they never configure the service.
_TEST_PREFIX = "WACHTER_TEST_"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
MIN_SECRET_KEY_LENGTH = 32


def _parse_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not re.fullmatch(r"[0-9]{1,6}", raw.strip()):
            raise ValueError(f"{raw!r} is not a whole number")
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}-{high}")
        return value

    return parse


def _parse_host(raw: str) -> str:
    host = raw.strip()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ValueError(f"{raw!r} is neither an IP address nor a host name") from None
    return host


def _parse_http_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("the port in the URL is not a number between 0 and 65535") from None
    return url


_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
_INDEX_PATTERN = re.compile(r"[a-z0-9_.*-]{1,255}")


def _parse_index_prefix(raw: str) -> str:
    text = raw.strip()
    if not _INDEX_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a lower-case index name prefix (a-z, 0-9, _ . -)")
    return text


def _parse_index_patterns(raw: str) -> tuple[str, ...]:
    patterns = tuple(part.strip() for part in raw.split(",") if part.strip())
    for pattern in patterns:
        if not _INDEX_PATTERN.fullmatch(pattern) or pattern.startswith(("-", "_")):
            raise ValueError(f"{pattern!r} is not an index pattern (lower case, *, e.g. logs-*)")
    return patterns


def _parse_database_url(raw: str) -> str:
    url = raw.strip()
    if "://" not in url:
        raise ValueError("expected a URL such as postgresql://user@host/db or sqlite:///path")
    return url


def _parse_secret_key(raw: str) -> str:
    if len(raw) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
    return raw


def parse_encryption_key(raw: str) -> str:
    """A Fernet key: 32 random bytes, URL-safe base64 (``Fernet.generate_key()``)."""
    key = raw.strip()
    try:
        decoded = base64.urlsafe_b64decode(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        decoded = b""
    if len(key) != 44 or len(decoded) != 32:
        raise ValueError("each key must be 32 bytes in URL-safe base64 (44 characters)")
    return key


def _parse_encryption_keys(raw: str) -> tuple[str, ...]:
    return tuple(parse_encryption_key(part) for part in raw.split(",") if part.strip())


def parse_listen_address(raw: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → (host, port); ``off`` → None (disabled)."""
    text = raw.strip()
    if text.lower() == "off":
        return None
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})|([^:\[\]]+):([0-9]{1,5})", text)
    if not match:
        raise ValueError(f"{raw!r} is not HOST:PORT (or off)")
    host = _parse_host(match.group(1) or match.group(3))
    port = int(match.group(2) or match.group(4))
    if port > 65535:
        raise ValueError(f"port {port} is outside 0-65535")
    return host, port


def _parse_file(raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        raise ValueError(f"{raw!r} is not an absolute path")
    return path


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
    return level


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Build it with ``from_env``; tests may call it directly."""

    data_dir: Path
    database_url: str
    elasticsearch_url: str | None = None
    # Scale-out (docs/scale-out.md): which server that URL is, how to authenticate beyond
    # the URL's user:password, the prefix of Wachter's own indices, and the scheduled Sigma
    # searches: which index patterns they run on (empty: Wachter's own events), how often,
    # and how far each run looks back past the previous one (events arrive late).
    elasticsearch_kind: str = "elasticsearch"
    elasticsearch_api_key: str | None = field(default=None, repr=False)
    elasticsearch_ca: Path | None = None
    elasticsearch_index_prefix: str = "wachter"
    detection_indices: tuple[str, ...] = ()
    detection_interval_seconds: int = 60
    detection_lookback_seconds: int = 120
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_threads: int = 8
    # The address people use to reach Wachter, for links printed by the CLI
    # (setup and enrolment). Default: http://<http_host>:<http_port>.
    public_url: str | None = None
    trusted_proxies: int = 0
    secret_key: str | None = None
    # Encrypts secrets at rest (TOTP secrets). The first key encrypts, all decrypt:
    # prepend a new key to rotate. Empty: generated into the data directory.
    encryption_keys: tuple[str, ...] = ()
    # argon2id cost. Production defaults per OWASP; tests lower them in code.
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    argon2_parallelism: int = 4
    log_level: str = "INFO"
    # Syslog receivers (docs/ingest.md); None switches one off.
    syslog_udp: tuple[str, int] | None = ("127.0.0.1", 5514)
    syslog_tcp: tuple[str, int] | None = ("127.0.0.1", 5514)
    syslog_tls: tuple[str, int] | None = None
    syslog_tls_cert: Path | None = None
    syslog_tls_key: Path | None = None
    # With a CA bundle the TLS receiver asks for, and checks, client certificates.
    syslog_tls_client_ca: Path | None = None
    # Events per second one API token may send (a burst of two seconds' worth is allowed).
    ingest_rate_limit: int = 50000
    # Events are purged this many days after they arrived.
    retention_days: int = 90
    # Column mapping for badge/door CSV exports (docs/ingest.md); the CLI can name another.
    badge_mapping: Path | None = None
    # The organisation's time zone and office hours (Monday to Friday), for rules about
    # when something happens (the derived field wachter.time.office_hours, docs/detection.md).
    timezone: str = "Europe/Amsterdam"
    office_hours: tuple[time, time] = (time(7, 0), time(19, 0))
    # Repeats of an alert (same rule and group or key entity) within this many minutes of
    # its last sighting raise its count instead of opening a new alert (docs/incidents.md).
    alert_dedup_minutes: int = 60
    # Largest evidence upload, in MiB.
    evidence_max_mb: int = 25
    # YAML with deadlines per incident type and severity; None: the built-in defaults.
    deadlines_file: Path | None = None
    # Notifications by e-mail (docs/incidents.md); no host: e-mail is off.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, tls or none
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "wachter@localhost"
    # Alerts as CEF over syslog to a SOC collector (docs/feeds.md); None: off.
    cef_syslog: tuple[str, int] | None = None
    cef_syslog_tls: bool = False
    # CA bundle that signs the collector's certificate; None: the system's trust store.
    cef_syslog_ca: Path | None = None
    # The identity vault's keys (docs/identity-vault.md): ``key_id:key`` entries, the first
    # current. Neither set: generated into <data dir>/vault_keys on first run.
    vault_keys: str | None = field(default=None, repr=False)
    vault_keys_file: Path | None = None
    # The organisation as the victim's domicile in a police report, and who the police
    # contact about it (docs/staff-safety.md); both printed in the police dossier.
    organisation_address: str = ""
    organisation_contact: str = ""
    # YAML with retention years per report category (docs/staff-safety.md); None: defaults.
    staff_retention_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.data_dir.is_absolute():
            raise ConfigError("WACHTER_DATA_DIR", f"{self.data_dir} is not an absolute path")
        for variable, check, value in (
            ("WACHTER_SECRET_KEY", _parse_secret_key, self.secret_key),
            ("WACHTER_ENCRYPTION_KEYS", _parse_encryption_keys, ",".join(self.encryption_keys)),
        ):
            try:
                if value:
                    check(value)
            except ValueError as error:
                raise ConfigError(variable, str(error)) from None
        if self.syslog_tls and not (self.syslog_tls_cert and self.syslog_tls_key):
            raise ConfigError(
                "WACHTER_SYSLOG_TLS",
                "needs WACHTER_SYSLOG_TLS_CERT and WACHTER_SYSLOG_TLS_KEY (PEM files)",
            )

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def is_embedded(self) -> bool:
        """True when no Elasticsearch is configured: events stay in the SQL database."""
        return self.elasticsearch_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        _reject_unknown(env)
        values: dict[str, Any] = {}
        for name, (variable, parse) in _PARSERS.items():
            raw = env.get(variable, "")
            if raw.strip() == "":
                continue
            try:
                values[name] = parse(raw)
            except ValueError as error:
                raise ConfigError(variable, str(error)) from None
        data_dir = Path(values.pop("data_dir", "var")).expanduser()
        data_dir = data_dir if data_dir.is_absolute() else Path.cwd() / data_dir
        values.setdefault("database_url", f"sqlite:///{data_dir / 'wachter.db'}")
        return cls(data_dir=data_dir, **values)


def _parse_timezone(raw: str) -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    return name


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{raw.strip()!r} is not true or false")


def _parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        text = raw.strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _parse_email(raw: str) -> str:
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not _HOSTNAME.match(domain) or len(text) > 254 or " " in text:
        raise ValueError(f"{text!r} is not an e-mail address")
    return text


def _parse_text(raw: str) -> str:
    return raw.strip()


def _parse_office_hours(raw: str) -> tuple[time, time]:
    opens, separator, closes = raw.strip().partition("-")
    try:
        if not separator:
            raise ValueError
        start, end = time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip())
    except ValueError:
        raise ValueError(f"{raw.strip()!r} is not a range like 07:00-19:00") from None
    if start >= end:
        raise ValueError("the office must open before it closes")
    return start, end


_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "data_dir": ("WACHTER_DATA_DIR", str.strip),
    "database_url": ("WACHTER_DATABASE_URL", _parse_database_url),
    "elasticsearch_url": ("WACHTER_ELASTICSEARCH_URL", _parse_http_url),
    "elasticsearch_kind": (
        "WACHTER_ELASTICSEARCH_KIND",
        _parse_choice("elasticsearch", "opensearch"),
    ),
    "elasticsearch_api_key": ("WACHTER_ELASTICSEARCH_API_KEY", str.strip),
    "elasticsearch_ca": ("WACHTER_ELASTICSEARCH_CA", _parse_file),
    "elasticsearch_index_prefix": ("WACHTER_ELASTICSEARCH_INDEX_PREFIX", _parse_index_prefix),
    "detection_indices": ("WACHTER_DETECTION_INDICES", _parse_index_patterns),
    "detection_interval_seconds": ("WACHTER_DETECTION_INTERVAL", _parse_int(5, 3600)),
    "detection_lookback_seconds": ("WACHTER_DETECTION_LOOKBACK", _parse_int(0, 86400)),
    "http_host": ("WACHTER_HTTP_HOST", _parse_host),
    "http_port": ("WACHTER_HTTP_PORT", _parse_int(0, 65535)),
    "http_threads": ("WACHTER_HTTP_THREADS", _parse_int(1, 256)),
    "public_url": ("WACHTER_PUBLIC_URL", _parse_http_url),
    "trusted_proxies": ("WACHTER_TRUSTED_PROXIES", _parse_int(0, 5)),
    "secret_key": ("WACHTER_SECRET_KEY", _parse_secret_key),
    "encryption_keys": ("WACHTER_ENCRYPTION_KEYS", _parse_encryption_keys),
    "argon2_memory_kib": ("WACHTER_ARGON2_MEMORY_KIB", _parse_int(19456, 4194304)),
    "argon2_time_cost": ("WACHTER_ARGON2_TIME_COST", _parse_int(2, 20)),
    "argon2_parallelism": ("WACHTER_ARGON2_PARALLELISM", _parse_int(1, 64)),
    "log_level": ("WACHTER_LOG_LEVEL", _parse_log_level),
    "syslog_udp": ("WACHTER_SYSLOG_UDP", parse_listen_address),
    "syslog_tcp": ("WACHTER_SYSLOG_TCP", parse_listen_address),
    "syslog_tls": ("WACHTER_SYSLOG_TLS", parse_listen_address),
    "syslog_tls_cert": ("WACHTER_SYSLOG_TLS_CERT", _parse_file),
    "syslog_tls_key": ("WACHTER_SYSLOG_TLS_KEY", _parse_file),
    "syslog_tls_client_ca": ("WACHTER_SYSLOG_TLS_CLIENT_CA", _parse_file),
    "ingest_rate_limit": ("WACHTER_INGEST_RATE_LIMIT", _parse_int(1, 999999)),
    "retention_days": ("WACHTER_RETENTION_DAYS", _parse_int(1, 36500)),
    "badge_mapping": ("WACHTER_BADGE_MAPPING", _parse_file),
    "timezone": ("WACHTER_TIMEZONE", _parse_timezone),
    "office_hours": ("WACHTER_OFFICE_HOURS", _parse_office_hours),
    "alert_dedup_minutes": ("WACHTER_ALERT_DEDUP_MINUTES", _parse_int(1, 10080)),
    "evidence_max_mb": ("WACHTER_EVIDENCE_MAX_MB", _parse_int(1, 2048)),
    "deadlines_file": ("WACHTER_DEADLINES_FILE", _parse_file),
    "smtp_host": ("WACHTER_SMTP_HOST", _parse_host),
    "smtp_port": ("WACHTER_SMTP_PORT", _parse_int(1, 65535)),
    "smtp_security": ("WACHTER_SMTP_SECURITY", _parse_choice("starttls", "tls", "none")),
    "smtp_username": ("WACHTER_SMTP_USERNAME", _parse_text),
    "smtp_password": ("WACHTER_SMTP_PASSWORD", str),
    "smtp_from": ("WACHTER_SMTP_FROM", _parse_email),
    "cef_syslog": ("WACHTER_CEF_SYSLOG", parse_listen_address),
    "cef_syslog_tls": ("WACHTER_CEF_SYSLOG_TLS", _parse_bool),
    "cef_syslog_ca": ("WACHTER_CEF_SYSLOG_CA", _parse_file),
    "vault_keys": ("WACHTER_VAULT_KEYS", str.strip),
    "vault_keys_file": ("WACHTER_VAULT_KEYS_FILE", _parse_file),
    "organisation_address": ("WACHTER_ORGANISATION_ADDRESS", _parse_text),
    "organisation_contact": ("WACHTER_ORGANISATION_CONTACT", _parse_text),
    "staff_retention_file": ("WACHTER_STAFF_RETENTION_FILE", _parse_file),
}
assert set(_PARSERS) == {f.name for f in fields(Settings)}, "every setting needs a variable"

VARIABLES = tuple(variable for variable, _ in _PARSERS.values())


def _reject_unknown(env: Mapping[str, str]) -> None:
    """A misspelt variable silently falling back to a default is worse than stopping."""
    for variable in sorted(env):
        if not variable.startswith(PREFIX) or variable.startswith(_TEST_PREFIX):
            continue
        if variable not in VARIABLES:
            close = difflib.get_close_matches(variable, VARIABLES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(variable, f"unknown setting{hint}")
