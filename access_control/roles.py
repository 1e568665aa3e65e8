"""Roles and what they may do. Every route names the permission it needs (web/policy.py)."""

from __future__ import annotations

from enum import Flag, StrEnum, auto


class Role(StrEnum):
    ADMIN = "admin"
    SECURITY_OFFICER = "security_officer"
    SOC_ANALYST = "soc_analyst"
    STAFF = "staff"
    AUDITOR = "auditor"


class Permission(Flag):
    NONE = 0
    REPORT_SUBMIT = auto()  # file an aggression report and follow one's own reports
    CONSOLE = auto()  # the dashboard and console navigation
    EVENTS_READ = auto()
    ALERTS_READ = auto()
    ALERTS_WRITE = auto()
    INCIDENTS_READ = auto()
    INCIDENTS_WRITE = auto()
    RULES_READ = auto()
    RULES_WRITE = auto()
    REPORTS_READ = auto()  # everyone's aggression reports (pseudonymised)
    IDENTITY_REVEAL = auto()  # with step-up and a stated reason
    EXPORT = auto()  # with step-up
    AUDIT_READ = auto()
    USERS_ADMIN = auto()
    TOKENS_ADMIN = auto()
    FEEDS_ADMIN = auto()  # webhook subscriptions, dead letters and replay


_SOC = (
    Permission.CONSOLE
    | Permission.EVENTS_READ
    | Permission.ALERTS_READ
    | Permission.INCIDENTS_READ
    | Permission.RULES_READ
)

# Every member of staff can report aggression, whatever else their role is.
ROLE_PERMISSIONS: dict[Role, Permission] = {
    Role.STAFF: Permission.REPORT_SUBMIT,
    Role.SOC_ANALYST: Permission.REPORT_SUBMIT | _SOC | Permission.ALERTS_WRITE,
    Role.SECURITY_OFFICER: Permission.REPORT_SUBMIT
    | _SOC
    | Permission.ALERTS_WRITE
    | Permission.INCIDENTS_WRITE
    | Permission.RULES_WRITE
    | Permission.REPORTS_READ
    | Permission.IDENTITY_REVEAL
    | Permission.EXPORT
    | Permission.FEEDS_ADMIN,
    Role.AUDITOR: Permission.REPORT_SUBMIT | Permission.CONSOLE | Permission.AUDIT_READ,
    Role.ADMIN: Permission.REPORT_SUBMIT
    | Permission.CONSOLE
    | Permission.AUDIT_READ
    | Permission.USERS_ADMIN
    | Permission.TOKENS_ADMIN
    | Permission.FEEDS_ADMIN,
}


def permissions_of(role: Role | str) -> Permission:
    """The permissions of ``role``; an unknown role has none (fail closed)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return Permission.NONE
