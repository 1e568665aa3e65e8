"""The data directory: created on first run, checked for writability, holds the secret key."""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import ConfigError
from core.settings import MIN_SECRET_KEY_LENGTH, Settings, parse_encryption_key

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
ENCRYPTION_KEY_FILE = "encryption_key"
_VARIABLE = "WACHTER_DATA_DIR"


def prepare(settings: Settings) -> Settings:
    """Create and check the data directory; return settings that carry their keys.

    The secret key comes from ``WACHTER_SECRET_KEY`` when set, otherwise from
    ``<data dir>/secret_key``; the encryption keys from ``WACHTER_ENCRYPTION_KEYS``,
    otherwise ``<data dir>/encryption_key``. Missing files are generated on first run
    with mode 0600.
    """
    directory = settings.data_dir
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _check_writable(directory)
    except OSError as error:
        raise ConfigError(
            _VARIABLE, f"{directory} is not a writable directory ({_reason(error)})"
        ) from None
    secret_key = settings.secret_key or load_or_create(
        directory / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(48), _check_secret_key
    )
    encryption_keys = settings.encryption_keys or (
        load_or_create(directory / ENCRYPTION_KEY_FILE, _new_fernet_key, parse_encryption_key),
    )
    return dataclasses.replace(settings, secret_key=secret_key, encryption_keys=encryption_keys)


def _check_writable(directory: Path) -> None:
    # os.access() says yes to root even on a read-only file system; writing is the only proof.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
        pass


def _new_fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _check_secret_key(key: str) -> str:
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError("too short")
    return key


def load_or_create(path: Path, generate: Callable[[], str], check: Callable[[str], str]) -> str:
    """The key in ``path``, checked; generated into a new 0600 file when there is none."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path, check)
    except OSError as error:
        raise ConfigError(_VARIABLE, f"cannot create {path} ({_reason(error)})") from None
    key = generate()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _read_key(path: Path, check: Callable[[str], str]) -> str:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                _VARIABLE,
                f"{path} is readable by other users (mode {mode:04o}); run: chmod 600 {path}",
            )
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(_VARIABLE, f"cannot read {path} ({_reason(error)})") from None
    try:
        return check(key)
    except ValueError:
        raise ConfigError(
            _VARIABLE, f"{path} holds no usable key; delete it to generate a new one"
        ) from None


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__
