"""Users, roles, password hashing, TOTP MFA, sessions, API tokens, lockout and the audit trail.

Empty until the access-control issue lands; the layer exists so the import contract holds.
"""
