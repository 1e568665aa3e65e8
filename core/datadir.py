"""The data directory: created on first run, checked for writability, holds the secret key."""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
import tempfile
from pathlib import Path

from core.errors import ConfigError
from core.settings import MIN_SECRET_KEY_LENGTH, Settings

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
_VARIABLE = "WACHTER_DATA_DIR"


def prepare(settings: Settings) -> Settings:
    """Create and check the data directory; return settings that carry a secret key.

    The key comes from ``WACHTER_SECRET_KEY`` when set, otherwise from
    ``<data dir>/secret_key``, which is generated on first run with mode 0600.
    """
    directory = settings.data_dir
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _check_writable(directory)
    except OSError as error:
        raise ConfigError(
            _VARIABLE, f"{directory} is not a writable directory ({_reason(error)})"
        ) from None
    if settings.secret_key is not None:
        return settings
    return dataclasses.replace(settings, secret_key=_load_or_create_secret_key(directory))


def _check_writable(directory: Path) -> None:
    # os.access() says yes to root even on a read-only file system; writing is the only proof.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
        pass


def _load_or_create_secret_key(directory: Path) -> str:
    path = directory / SECRET_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret_key(path)
    except OSError as error:
        raise ConfigError(_VARIABLE, f"cannot create {path} ({_reason(error)})") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _read_secret_key(path: Path) -> str:
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
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(_VARIABLE, f"{path} holds no usable key; delete it to generate a new one")
    return key


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__
