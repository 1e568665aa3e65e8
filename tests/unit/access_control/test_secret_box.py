"""Secrets at rest: Fernet encryption with rotating keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from access_control.secret_box import SecretBox, UndecryptableSecret
from core import ConfigError, Settings

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_text_round_trips_and_the_token_is_not_the_text():
    box = SecretBox([NEW_KEY])
    token = box.encrypt(SECRET)
    assert isinstance(token, bytes)
    assert SECRET.encode() not in token
    assert box.decrypt(token) == SECRET
    assert box.encrypt(SECRET) != token  # random IV each time


def test_unicode_text_round_trips():
    box = SecretBox([NEW_KEY])
    assert box.decrypt(box.encrypt("Zo\u00eb \U0001f511")) == "Zo\u00eb \U0001f511"


def test_a_wrong_key_raises_a_clear_error():
    token = SecretBox([OLD_KEY]).encrypt(SECRET)
    with pytest.raises(UndecryptableSecret) as caught:
        SecretBox([NEW_KEY]).decrypt(token)
    assert caught.value.variable == "WACHTER_ENCRYPTION_KEYS"
    assert "cannot be decrypted" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("token", [b"", b"garbage", b"gAAAAA" + b"A" * 100])
def test_garbage_raises_the_same_clear_error(token):
    with pytest.raises(UndecryptableSecret):
        SecretBox([NEW_KEY]).decrypt(token)


def test_a_tampered_token_is_refused():
    box = SecretBox([NEW_KEY])
    token = bytearray(box.encrypt(SECRET))
    token[-10] = ord("A") if token[-10] != ord("A") else ord("B")
    with pytest.raises(UndecryptableSecret):
        box.decrypt(bytes(token))


def test_the_first_key_encrypts_and_every_key_decrypts():
    old_token = SecretBox([OLD_KEY]).encrypt(SECRET)
    rotating = SecretBox([NEW_KEY, OLD_KEY])
    assert rotating.decrypt(old_token) == SECRET
    assert SecretBox([NEW_KEY]).decrypt(rotating.encrypt(SECRET)) == SECRET


def test_rotate_re_encrypts_under_the_newest_key():
    old_token = SecretBox([OLD_KEY]).encrypt(SECRET)
    rotated = SecretBox([NEW_KEY, OLD_KEY]).rotate(old_token)
    assert SecretBox([NEW_KEY]).decrypt(rotated) == SECRET
    with pytest.raises(UndecryptableSecret):
        SecretBox([OLD_KEY]).decrypt(rotated)
    with pytest.raises(UndecryptableSecret):
        SecretBox([NEW_KEY]).rotate(old_token)


def test_no_key_or_a_bad_key_is_a_configuration_error():
    with pytest.raises(ConfigError, match="no encryption key"):
        SecretBox([])
    with pytest.raises(ConfigError, match="32 bytes"):
        SecretBox(["not-a-fernet-key"])


def test_built_from_the_settings(tmp_path):
    settings = Settings(
        data_dir=tmp_path, database_url="sqlite:///x.db", encryption_keys=(NEW_KEY, OLD_KEY)
    )
    box = SecretBox.from_settings(settings)
    assert SecretBox([NEW_KEY]).decrypt(box.encrypt(SECRET)) == SECRET
