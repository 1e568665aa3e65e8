"""Encryption of secrets at rest (TOTP secrets) with Fernet keys from the settings.

Fernet (``cryptography``) is AES-128-CBC with an HMAC-SHA256, a version byte and a
timestamp. ``MultiFernet`` lets keys rotate: the first configured key encrypts, every key
decrypts, and ``rotate`` re-encrypts a token under the first key. To rotate, prepend a
new key to ``WACHTER_ENCRYPTION_KEYS``, re-encrypt the stored secrets, then drop the old
key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core import ConfigError

if TYPE_CHECKING:
    from core import Settings

_VARIABLE = "WACHTER_ENCRYPTION_KEYS"


class UndecryptableSecret(ConfigError):
    """No configured key opens a stored secret: a key was removed, or the data was altered."""

    def __init__(self) -> None:
        super().__init__(
            _VARIABLE,
            "a stored secret cannot be decrypted with any configured key "
            "(was the key that encrypted it removed, or the stored value changed?)",
        )


class SecretBox:
    """Encrypts text with the first key; decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(_VARIABLE, "no encryption key is configured")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError:
            raise ConfigError(
                _VARIABLE, "each key must be 32 bytes in URL-safe base64 (44 characters)"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.encryption_keys)

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """The plain text; ``UndecryptableSecret`` when no configured key opens ``token``."""
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise UndecryptableSecret from None

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the first (newest) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise UndecryptableSecret from None
