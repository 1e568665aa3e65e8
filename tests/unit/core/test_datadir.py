from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from core import ConfigError, Settings
from core.datadir import ENCRYPTION_KEY_FILE, SECRET_KEY_FILE, prepare


def _settings(data_dir, **overrides):
    return Settings(data_dir=data_dir, database_url="sqlite:///unused.db", **overrides)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_a_private_directory_and_secret_key(tmp_path):
    data_dir = tmp_path / "var"
    prepared = prepare(_settings(data_dir))
    key_file = data_dir / SECRET_KEY_FILE
    assert mode(data_dir) == 0o700
    assert mode(key_file) == 0o600
    assert prepared.secret_key == key_file.read_text().strip()
    assert len(prepared.secret_key) >= 64


def test_the_keys_survive_a_restart(tmp_path):
    first = prepare(_settings(tmp_path / "var"))
    second = prepare(_settings(tmp_path / "var"))
    assert first.secret_key == second.secret_key
    assert first.encryption_keys == second.encryption_keys


def test_first_run_generates_a_private_encryption_key(tmp_path):
    prepared = prepare(_settings(tmp_path / "var"))
    key_file = tmp_path / "var" / ENCRYPTION_KEY_FILE
    assert mode(key_file) == 0o600
    assert prepared.encryption_keys == (key_file.read_text().strip(),)
    assert len(base64.urlsafe_b64decode(prepared.encryption_keys[0])) == 32


def test_configured_encryption_keys_win_and_nothing_is_written(tmp_path):
    keys = ("k" * 43 + "=", "j" * 43 + "=")
    assert prepare(_settings(tmp_path / "var", encryption_keys=keys)).encryption_keys == keys
    assert not (tmp_path / "var" / ENCRYPTION_KEY_FILE).exists()


def test_a_damaged_encryption_key_file_is_refused(tmp_path):
    prepare(_settings(tmp_path / "var"))
    key_file = tmp_path / "var" / ENCRYPTION_KEY_FILE
    key_file.write_text("garbage\n")
    with pytest.raises(ConfigError, match="encryption_key holds no usable key"):
        prepare(_settings(tmp_path / "var"))


def test_a_configured_key_wins_and_nothing_is_written(tmp_path):
    prepared = prepare(_settings(tmp_path / "var", secret_key="s" * 40))
    assert prepared.secret_key == "s" * 40
    assert not (tmp_path / "var" / SECRET_KEY_FILE).exists()


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    prepare(_settings(tmp_path / "var"))
    key_file = tmp_path / "var" / SECRET_KEY_FILE
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match=r"readable by other users \(mode 0644\); run: chmod 600"):
        prepare(_settings(tmp_path / "var"))


def test_an_empty_key_file_is_refused_with_the_fix(tmp_path):
    (tmp_path / "var").mkdir()
    key_file = tmp_path / "var" / SECRET_KEY_FILE
    key_file.write_text("\n")
    os.chmod(key_file, 0o600)
    with pytest.raises(ConfigError, match="holds no usable key; delete it"):
        prepare(_settings(tmp_path / "var"))


def test_a_data_dir_that_cannot_be_created_is_a_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError) as caught:
        prepare(_settings(blocker / "var"))
    assert caught.value.variable == "WACHTER_DATA_DIR"
    assert "is not a writable directory" in str(caught.value)


def test_a_read_only_data_dir_is_a_config_error():
    # /proc refuses new files even to root, like a read-only mount would.
    with pytest.raises(ConfigError, match="WACHTER_DATA_DIR: /proc is not a writable directory"):
        prepare(_settings(Path("/proc")))
