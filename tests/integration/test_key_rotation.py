"""Rotating WACHTER_ENCRYPTION_KEYS: prepend a new key, rotate, drop the old one."""

from __future__ import annotations

from access_control.secret_box import SecretBox
from access_control.users import rotate_encrypted_secrets
from tests.factories import make_user

OLD = "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleSE="
NEW = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE="


def test_after_rotation_only_the_new_key_is_needed(db_session):
    old_box = SecretBox([OLD])
    enrolled = make_user(db_session, totp_secret=old_box.encrypt("JBSWY3DPEHPK3PXP"))
    pending = make_user(db_session, totp_pending_secret=old_box.encrypt("KRSXG5CTMVRXEZLU"))
    make_user(db_session)  # no secrets: untouched
    assert rotate_encrypted_secrets(db_session, box=SecretBox([NEW, OLD])) == 2
    new_only = SecretBox([NEW])
    assert new_only.decrypt(enrolled.totp_secret) == "JBSWY3DPEHPK3PXP"
    assert new_only.decrypt(pending.totp_pending_secret) == "KRSXG5CTMVRXEZLU"
