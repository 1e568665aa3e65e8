"""SECURITY_CASES §5.10: the numbers docs/security.md documents are the numbers in force.

The other modules test each number's behaviour through the routes; this one pins the
constants, so a change shows up next to the documentation that must change with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import timedelta

from access_control import login, passwords, recovery, sessions, throttle, tokens, totp
from core import Settings
from tests.conftest import CHEAP_ARGON2


def test_argon2id_costs_production_and_tests():
    defaults = {field.name: field.default for field in fields(Settings)}
    assert (
        defaults["argon2_memory_kib"],
        defaults["argon2_time_cost"],
        defaults["argon2_parallelism"],
    ) == (64 * 1024, 3, 4)
    assert CHEAP_ARGON2 == {"argon2_memory_kib": 8, "argon2_time_cost": 1, "argon2_parallelism": 1}


def test_totp_parameters():
    assert (hashlib.sha1, 6, 30, 1) == (totp.DIGEST, totp.DIGITS, totp.STEP_SECONDS, totp.WINDOW)
    assert totp.SECRET_BITS == 160
    assert len(totp.new_secret()) * 5 == 160


def test_password_step_limits():
    assert (
        throttle.Limit(
            5, timedelta(minutes=15), timedelta(seconds=30), doubling_cap=timedelta(minutes=15)
        )
        == throttle.ACCOUNT
    )
    assert throttle.Limit(20, timedelta(minutes=10), timedelta(minutes=15)) == throttle.ADDRESS
    assert (passwords.MIN_PASSWORD_LENGTH, passwords.MAX_PASSWORD_LENGTH) == (12, 1024)


def test_mfa_step_limits():
    assert (login.MFA_ATTEMPTS_PER_LOGIN, login.MFA_FAILURES_BEFORE_LOCK) == (5, 10)
    assert throttle.Limit(30, timedelta(minutes=1), timedelta(minutes=1)) == throttle.MFA_ADDRESS
    assert (recovery.CODES_PER_SET, recovery.CODE_BITS) == (10, 120)


def test_session_lifetimes():
    assert timedelta(minutes=15) == sessions.IDLE_CONSOLE
    assert timedelta(minutes=30) == sessions.IDLE_STAFF
    assert timedelta(hours=12) == sessions.ABSOLUTE
    assert timedelta(minutes=10) == sessions.PENDING
    assert timedelta(minutes=10) == sessions.STEP_UP_FRESHNESS


def test_api_token_strength_and_lifetime():
    assert tokens.SECRET_BYTES * 8 >= 256
    assert timedelta(days=90) == tokens.MAX_LIFETIME
