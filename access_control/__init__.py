"""Users, roles, password hashing, TOTP MFA, sessions, API tokens, lockout and the audit trail.

Other packages use these names; the modules behind them are access control's own business.
"""

from access_control.actor import Actor
from access_control.audit import record as record_audit
from access_control.audit import record_read
from access_control.auth_events import authentication_events
from access_control.roles import Permission, Role, permissions_of

__all__ = [
    "Actor",
    "Permission",
    "Role",
    "authentication_events",
    "permissions_of",
    "record_audit",
    "record_read",
]
