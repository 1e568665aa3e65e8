from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from core import ConfigError, Settings
from core.settings import VARIABLES

README = Path(__file__).resolve().parents[3] / "README.md"
KEY_A = "a" * 43 + "="
KEY_B = "B" * 43 + "="


def test_defaults_give_the_embedded_service_on_loopback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'wachter.db'}"
    assert settings.is_embedded
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.secret_key is None
    assert settings.log_level == "INFO"
    assert settings.base_url == "http://127.0.0.1:8080"


def test_every_variable_is_read(tmp_path):
    settings = Settings.from_env(
        {
            "WACHTER_DATA_DIR": str(tmp_path),
            "WACHTER_DATABASE_URL": "postgresql://wachter@db.internal/wachter",
            "WACHTER_ELASTICSEARCH_URL": "https://es.internal:9200/",
            "WACHTER_HTTP_HOST": "::1",
            "WACHTER_HTTP_PORT": "9090",
            "WACHTER_HTTP_THREADS": "16",
            "WACHTER_PUBLIC_URL": "https://wachter.example.nl/",
            "WACHTER_TRUSTED_PROXIES": "1",
            "WACHTER_SECRET_KEY": "k" * 40,
            "WACHTER_LOG_LEVEL": "debug",
            "WACHTER_ENCRYPTION_KEYS": f" {KEY_A}, {KEY_B} ",
            "WACHTER_ARGON2_MEMORY_KIB": "131072",
            "WACHTER_ARGON2_TIME_COST": "4",
            "WACHTER_ARGON2_PARALLELISM": "2",
        }
    )
    assert settings.encryption_keys == (KEY_A, KEY_B)
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (131072, 4)
    assert settings.argon2_parallelism == 2
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql://wachter@db.internal/wachter"
    assert settings.elasticsearch_url == "https://es.internal:9200"
    assert not settings.is_embedded
    assert settings.elasticsearch_kind == "elasticsearch"
    assert settings.detection_indices == ()
    assert (settings.http_host, settings.http_port, settings.http_threads) == ("::1", 9090, 16)
    assert settings.trusted_proxies == 1
    assert settings.base_url == "https://wachter.example.nl"
    assert settings.secret_key == "k" * 40
    assert settings.log_level == "DEBUG"


def test_relative_data_dir_is_resolved_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"WACHTER_DATA_DIR": "state"}).data_dir == tmp_path / "state"


def test_blank_values_fall_back_to_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        Settings.from_env({"WACHTER_HTTP_PORT": "  ", "WACHTER_ELASTICSEARCH_URL": ""}).http_port
        == 8080
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("WACHTER_HTTP_PORT", "eighty", "not a whole number"),
        ("WACHTER_HTTP_PORT", "65536", "outside 0-65535"),
        ("WACHTER_HTTP_PORT", "-1", "not a whole number"),
        ("WACHTER_HTTP_THREADS", "0", "outside 1-256"),
        ("WACHTER_TRUSTED_PROXIES", "9", "outside 0-5"),
        ("WACHTER_HTTP_HOST", "not a host!", "neither an IP address nor a host name"),
        ("WACHTER_ELASTICSEARCH_URL", "ftp://es.internal", "http:// or https://"),
        ("WACHTER_ELASTICSEARCH_URL", "http://es.internal:99999", "port"),
        ("WACHTER_DATABASE_URL", "wachter.db", "expected a URL"),
        ("WACHTER_SECRET_KEY", "short", "at least 32 characters"),
        ("WACHTER_LOG_LEVEL", "LOUD", "expected one of"),
        ("WACHTER_ENCRYPTION_KEYS", "not-a-key", "32 bytes in URL-safe base64"),
        ("WACHTER_ENCRYPTION_KEYS", "a" * 43 + "=,short", "32 bytes in URL-safe base64"),
        ("WACHTER_ARGON2_MEMORY_KIB", "8", "outside 19456-4194304"),
        ("WACHTER_ARGON2_TIME_COST", "1", "outside 2-20"),
        ("WACHTER_ELASTICSEARCH_KIND", "solr", "expected one of elasticsearch, opensearch"),
        ("WACHTER_ELASTICSEARCH_INDEX_PREFIX", "Wachter", "lower-case index name prefix"),
        ("WACHTER_ELASTICSEARCH_INDEX_PREFIX", "-wachter", "lower-case index name prefix"),
        ("WACHTER_DETECTION_INDICES", "logs-*, Winlogbeat-*", "'Winlogbeat-*' is not an index"),
        ("WACHTER_DETECTION_INDICES", "logs-*,_all", "'_all' is not an index pattern"),
        ("WACHTER_DETECTION_INTERVAL", "1", "outside 5-3600"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(variable, value, problem):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert problem in message
    assert "\n" not in message


def test_scale_out_settings_are_read(tmp_path):
    settings = Settings.from_env(
        {
            "WACHTER_DATA_DIR": str(tmp_path),
            "WACHTER_ELASTICSEARCH_URL": "https://os.internal:9200",
            "WACHTER_ELASTICSEARCH_KIND": "opensearch",
            "WACHTER_ELASTICSEARCH_API_KEY": "  c2VjcmV0  ",
            "WACHTER_ELASTICSEARCH_INDEX_PREFIX": "wachter-prod",
            "WACHTER_DETECTION_INDICES": "winlogbeat-*, logs-*",
            "WACHTER_DETECTION_INTERVAL": "30",
            "WACHTER_DETECTION_LOOKBACK": "0",
        }
    )
    assert settings.elasticsearch_kind == "opensearch"
    assert settings.elasticsearch_api_key == "c2VjcmV0"
    assert "c2VjcmV0" not in repr(settings)
    assert settings.elasticsearch_index_prefix == "wachter-prod"
    assert settings.detection_indices == ("winlogbeat-*", "logs-*")
    assert (settings.detection_interval_seconds, settings.detection_lookback_seconds) == (30, 0)


def test_a_misspelt_variable_stops_start_up_with_a_suggestion():
    with pytest.raises(
        ConfigError,
        match=r"WACHTER_DATABSE_URL: unknown setting \(did you mean WACHTER_DATABASE_URL\?\)",
    ):
        Settings.from_env({"WACHTER_DATABSE_URL": "sqlite:///x.db"})


def test_test_harness_variables_are_not_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Settings.from_env({"WACHTER_TEST_ANYTHING": "1", "OTHER": "x"})


def test_settings_are_frozen(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///x")
    with pytest.raises(AttributeError):
        settings.http_port = 1  # type: ignore[misc]


def test_a_relative_data_dir_is_refused_when_built_directly():
    with pytest.raises(ConfigError, match="WACHTER_DATA_DIR"):
        Settings(data_dir=Path("relative"), database_url="sqlite:///x")


def test_every_setting_has_a_variable_and_the_readme_lists_each():
    assert len(VARIABLES) == len(fields(Settings))
    readme = README.read_text(encoding="utf-8")
    missing = [variable for variable in VARIABLES if f"`{variable}`" not in readme]
    assert missing == []
