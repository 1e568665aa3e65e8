"""Linux authentication messages (auth.log, secure) as ECS events, dataset ``system.auth``:
sshd logins and disconnects, sudo, su, login, PAM (``pam_unix(...)`` and the older
``sshd(pam_unix)`` form) and systemd-logind sessions.

The syslog header is read by ``ingest.parsers.syslog``, which hands each message of these
programs to ``parse_auth_message``; the ``linux-auth`` format is that same path for files.

User names are attacker-chosen (sshd logs whatever name a client tried: empty, with spaces,
with quotes, even "x from 1.2.3.4 port 22"), so the patterns are anchored on what sshd
itself writes at the end, `` from <ip> port <n> ssh2``, and the user is all before it.
Fields sshd/sudo/PAM give that ECS has no place for go under ``system.auth.*``, the names
Filebeat's system module uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from ingest.parsers.base import Document, Parser
from ingest.parsers.message_rules import Rule, apply_rules, nested, rule, set_address, set_user
from ingest.parsers.syslog import parse_syslog, program_of

DATASET = "system.auth"
SSH_FIELDS = ("system", "auth", "ssh")
SUDO_FIELDS = ("system", "auth", "sudo")
PAM_FIELDS = ("system", "auth", "pam")
AUTH_FIELDS = ("system", "auth")
_FLAGS = re.ASCII | re.DOTALL

_FROM = r" from (?P<address>\S+) port (?P<port>\d{1,5})(?: ssh2)?(?: \[preauth\])?"
_USER = r"(?:invalid user )?(?P<user>.*)"
_MAX_ATTEMPTS = ("ssh-max-attempts-exceeded", "authentication", "info", "failure")
_DISCONNECT = ("ssh-disconnect", "session", "end", "unknown")
_REVERSE_MAPPING = ("ssh-reverse-mapping-failed", "network", "info")
# sshd's messages, by their first word (the lookup keeps a line to two or three regexes).
_SSHD: dict[str, tuple[Rule, ...]] = {
    "Accepted": (
        rule(
            r"Accepted (?P<method>\S+) for (?P<user>.*)" + _FROM + r"(?:: (?P<signature>.*))?",
            "ssh-login", "authentication,session", "start", "success",
        ),
    ),
    "Failed": (
        rule(r"Failed (?P<method>\S+) for " + _USER + _FROM,
             "ssh-login", "authentication", "start", "failure"),
    ),
    "Invalid": (
        rule(r"Invalid user (?P<user>.*) from (?P<address>\S+)(?: port (?P<port>\d{1,5}))?",
             "ssh-invalid-user", "authentication", "info", "failure"),
    ),
    "input_userauth_request:": (
        rule(r"input_userauth_request: invalid user (?P<user>.*?)(?: \[preauth\])?",
             "ssh-invalid-user", "authentication", "info", "failure"),
    ),
    "maximum": (rule(r"maximum authentication attempts exceeded for " + _USER + _FROM,
                     *_MAX_ATTEMPTS),),
    "Disconnecting:": (
        rule(r"Disconnecting: Too many authentication failures"
             r"(?: for (?:invalid user )?(?P<user>.*?))?(?: \[preauth\])?", *_MAX_ATTEMPTS),
    ),
    "Disconnecting": (
        rule(r"Disconnecting (?:authenticating|invalid) user (?P<user>.*) (?P<address>\S+)"
             r" port (?P<port>\d{1,5}): Too many authentication failures(?: \[preauth\])?",
             *_MAX_ATTEMPTS),
    ),
    "Connection": (
        rule(r"Connection (?:closed|reset) by (?:authenticating|invalid) user (?P<user>.*)"
             r" (?P<address>\S+) port (?P<port>\d{1,5})(?: \[preauth\])?", *_DISCONNECT),
        rule(r"Connection (?:closed|reset) by (?P<address>\S+)(?: port (?P<port>\d{1,5}))?"
             r"(?: \[preauth\])?", *_DISCONNECT),
    ),
    "Received": (
        rule(r"Received disconnect from (?P<address>\S+) port (?P<port>\d{1,5}):(?P<code>\d+):"
             r" ?(?P<reason>.*?)(?: \[preauth\])?", *_DISCONNECT),
        rule(r"Received disconnect from (?P<address>\S+): (?P<code>\d+): (?P<reason>.*?)"
             r"(?: \[preauth\])?", *_DISCONNECT),
    ),
    "Disconnected": (
        rule(r"Disconnected from (?:(?:authenticating |invalid )?user (?P<user>.*) )?"
             r"(?P<address>\S+) port (?P<port>\d{1,5})(?: \[preauth\])?", *_DISCONNECT),
    ),
    "reverse": (
        rule(r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<address>[^\]\s]+)\]"
             r" failed(?: - POSSIBLE BREAK-IN ATTEMPT!)?", *_REVERSE_MAPPING),
    ),
    "Address": (
        rule(r"Address (?P<address>\S+) maps to (?P<domain>\S+), but this does not map back to"
             r" the address(?: - POSSIBLE BREAK-IN ATTEMPT!)?", *_REVERSE_MAPPING),
    ),
    "Did": (
        rule(r"Did not receive identification string from (?P<address>\S+)"
             r"(?: port (?P<port>\d{1,5}))?", "ssh-no-identification", "network", "info"),
    ),
    "PAM": (
        rule(r"PAM (?P<count>\d{1,9}) more authentication failures?; (?P<_pam>.*)",
             "pam-authentication-failure", "authentication", "start", "failure"),
    ),
}  # fmt: skip

_PAM_PREFIX = re.compile(r"pam_unix\((?P<service>[^:()\s]{1,64}):(?P<kind>\w{1,16})\): ", _FLAGS)
_PAM_PAIR = re.compile(r"(\w{1,32})=(\S*)", _FLAGS)
_PAM_SESSION_OPENED = rule(
    r"session opened for user (?P<_for>.+?)(?:\(uid=\d+\))? by (?P<_by>.*?)(?:\(uid=\d+\))?",
    "session-opened",
    "session",
    "start",
    "success",
)
_PAM = (
    rule(r"authentication failure; (?P<_pam>.*)",
         "pam-authentication-failure", "authentication", "start", "failure"),
    rule(r"check pass; user unknown", "pam-user-unknown", "authentication", "info", "failure"),
    _PAM_SESSION_OPENED,
    rule(r"session closed for user (?P<user>.+?)", "session-closed", "session", "end", "success"),
)  # fmt: skip
# Services where "session opened for user root by alice" means alice became root.
_SWITCHING_SERVICES = frozenset({"su", "su-l", "sudo", "sudo-i"})

_SU = (
    rule(r"Successful su for (?P<effective_user>.*?) by (?P<user>.*)",
         "su", "authentication", "start", "success"),
    rule(r"FAILED SU \(to (?P<effective_user>[^)]*)\) (?P<user>.*) on (?P<tty>\S+)",
         "su-failed", "authentication", "start", "failure"),
    rule(r"FAILED su for (?P<effective_user>.*?) by (?P<user>.*)",
         "su-failed", "authentication", "start", "failure"),
    rule(r"\(to (?P<effective_user>[^)]*)\) (?P<user>.*) on (?P<tty>\S+)",
         "su", "authentication", "start", "success"),
)  # fmt: skip
_ROOT_LOGIN = rule(
    r"ROOT LOGIN (?:ON|on) '?(?P<tty>[^' ]+)'?(?: (?:FROM|from) '?(?P<address>[^' ]+)'?)?",
    "root-login",
    "authentication,session",
    "start",
    "success",
)
_LOGIN = (
    rule(r"FAILED LOGIN \(?(?P<count>\d{1,9})\)?(?: on '(?P<tty>[^']*)')?"
         r"(?: (?:from|FROM) '?(?P<address>[^' ]*)'?)? FOR '?(?P<user>.*?)'?, (?P<reason>.*)",
         "login-failed", "authentication", "start", "failure"),
    _ROOT_LOGIN,
    rule(r"LOGIN ON (?P<tty>\S+) BY (?P<user>.*?)(?: FROM (?P<address>\S+))?",
         "login", "authentication,session", "start", "success"),
)  # fmt: skip
_LOGIND = (
    rule(r"New session (?P<session>\S+) of user (?P<user>.*?)\.?",
         "logind-session-opened", "session", "start", "success"),
    rule(r"Removed session (?P<session>\S+?)\.?",
         "logind-session-closed", "session", "end", "success"),
    rule(r"Session (?P<session>\S+) logged out\. Waiting for processes to exit\.",
         "logind-session-closed", "session", "end", "success"),
)  # fmt: skip
_SUDO = re.compile(r"\s*(?P<user>.+?) : (?P<rest>.*)\Z", _FLAGS)
_SUDO_PASSWORD = re.compile(r"(\d{1,9}) incorrect password attempts?\Z", _FLAGS)
_SUDO_REFUSALS = {
    "user NOT in sudoers": "sudo-not-in-sudoers",
    "user NOT authorized on host": "sudo-not-in-sudoers",
    "command not allowed": "sudo-command-not-allowed",
}


def is_auth_program(program: str) -> bool:
    return program in _HANDLERS or program.endswith("(pam_unix)") or program.startswith("-- ")


def parse_auth_message(document: Document, program: str, message: str) -> bool:
    """Fill ``document`` (a syslog event) from an authentication message; False when the
    program and message are not of this kind."""
    pam = _PAM_PREFIX.match(message) if message.startswith("pam_unix(") else None
    handler = _HANDLERS.get(program)
    if pam is not None:
        document["event"]["dataset"] = DATASET
        _parse_pam(document, pam["service"], message[pam.end() :])
    elif handler is not None:
        document["event"]["dataset"] = DATASET
        handler(document, message)
    elif program.endswith("(pam_unix)"):
        document["event"]["dataset"] = DATASET
        _parse_pam(document, program.removesuffix("(pam_unix)"), message)
    elif program.startswith("-- "):  # login's process title
        document["event"]["dataset"] = DATASET
        _parse_login(document, message)
    else:
        return False
    return True


def _parse_su(document: Document, message: str) -> None:
    apply_rules(document, _SU, message, AUTH_FIELDS)


def _parse_logind(document: Document, message: str) -> None:
    apply_rules(document, _LOGIND, message, AUTH_FIELDS)


def _parse_login(document: Document, message: str) -> None:
    match = apply_rules(document, _LOGIN, message, AUTH_FIELDS)
    if match is not None and match.re is _ROOT_LOGIN.pattern:
        set_user(document, "root")


def _parse_sshd(document: Document, message: str) -> None:
    text = message.removeprefix("error: ")
    space = text.find(" ")
    match = apply_rules(document, _SSHD.get(text[:space], ()), text, SSH_FIELDS)
    if match is not None and "_pam" in match.re.groupindex:
        _read_pam_pairs(document, match["_pam"])


def _parse_pam(document: Document, service: str, text: str) -> None:
    nested(document, PAM_FIELDS)["service"] = service
    match = apply_rules(document, _PAM, text, PAM_FIELDS)
    if match is None:
        return
    if match.re is _PAM_SESSION_OPENED.pattern:
        session_user, by = match["_for"], match["_by"]
        if service in _SWITCHING_SERVICES and by:
            set_user(document, by)
            set_user(document, session_user, effective=True)
        else:
            set_user(document, session_user)
    elif "_pam" in match.re.groupindex:
        _read_pam_pairs(document, match["_pam"])


def _read_pam_pairs(document: Document, text: str) -> None:
    """``logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root``: rhost is the
    source, user the user; the rest is kept as PAM wrote it."""
    fields = nested(document, PAM_FIELDS)
    for name, value in _PAM_PAIR.findall(text):
        if not value:
            continue
        if name == "rhost":
            set_address(document, value)
        elif name == "user":
            set_user(document, value)
        else:
            fields[name] = value


def _parse_sudo(document: Document, message: str) -> None:
    """``alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls``.
    COMMAND comes last and may itself contain " ; "."""
    match = _SUDO.match(message)
    if match is None:
        return
    rest, _, command = match["rest"].partition(" ; COMMAND=")
    reason, values = None, {}
    for part in rest.split(" ; "):
        name, equals, value = part.partition("=")
        if equals and name.isupper():
            values[name] = value
        elif reason is None:
            reason = part
    if not command and "USER" not in values:
        return  # not sudo's log format ("unable to resolve host", …)
    fields = nested(document, SUDO_FIELDS)
    for name in ("TTY", "GROUP"):
        if name in values:
            fields[name.lower()] = values[name]
    action, category, outcome = "sudo-command", "process", "success"
    if reason is not None:
        attempts = _SUDO_PASSWORD.match(reason)
        if attempts is not None:
            fields["count"] = int(attempts[1])
            action, category, outcome = "sudo-incorrect-password", "authentication", "failure"
        else:
            action, outcome = _SUDO_REFUSALS.get(reason, "sudo-command"), "failure"
        fields["error"] = reason
    event = document["event"]
    event.update(action=action, category=[category], type=["start"], outcome=outcome)
    set_user(document, match["user"])
    set_user(document, values.get("USER", ""), effective=True)
    if command:
        document.setdefault("process", {})["command_line"] = command
    if values.get("PWD"):
        document.setdefault("process", {})["working_directory"] = values["PWD"]


_HANDLERS: dict[str, Callable[[Document, str], None]] = {
    "sshd": _parse_sshd,
    "sshd-session": _parse_sshd,  # OpenSSH 9.8 split sshd into sshd-session and sshd-auth
    "sshd-auth": _parse_sshd,
    "sudo": _parse_sudo,
    "su": _parse_su,
    "login": _parse_login,
    "systemd-logind": _parse_logind,
}


class LinuxAuthParser:
    name = "linux-auth"
    description = "Linux auth.log / secure: sshd, sudo, su, login, PAM (RFC 3164 lines)"

    def detect(self, line: str) -> bool:
        program = program_of(line)
        return program is not None and is_auth_program(program)

    def parse_line(self, line: str, *, received: datetime) -> Document:
        return parse_syslog(line, received=received)


PARSERS: tuple[Parser, ...] = (LinuxAuthParser(),)
