"""Settings from the environment: defaults, accepted forms, and one clear line for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import ConfigError, Settings


def settings(tmp_path, **environ) -> Settings:
    return Settings.from_env({"VAR_DIR": str(tmp_path), **environ})


def test_defaults_are_the_embedded_setup(tmp_path):
    config = settings(tmp_path)
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'customer360.sqlite3'}"
    assert config.redis_url is None
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.shop_timezone.key == "America/Toronto"
    assert "http://127.0.0.1:8000" in config.allowed_origins


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mysql://u:p@db.example:3307/shop", "mysql+aiomysql://u:p@db.example:3307/shop"),
        ("mysql+aiomysql://u@127.0.0.1/shop", "mysql+aiomysql://u@127.0.0.1/shop"),
        ("sqlite:////srv/c360.db", "sqlite+aiosqlite:////srv/c360.db"),
    ],
)
def test_database_urls_pick_the_async_driver(tmp_path, given, expected):
    assert settings(tmp_path, DATABASE_URL=given).database_url == expected


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first = settings(tmp_path).secret_key
    assert len(first) >= 32
    assert settings(tmp_path).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DATABASE_URL", "postgres://x/y", "unsupported scheme"),
        ("DATABASE_URL", "mysql://127.0.0.1", "needs a database name"),
        ("DATABASE_URL", "nonsense", "is not a URL"),
        ("REDIS_URL", "http://127.0.0.1", "must start with redis://"),
        ("PORT", "eighty", "TCP port"),
        ("PORT", "70000", "TCP port"),
        ("SECRET_KEY", "short", "at least 32 characters"),
        ("APP_ENV", "staging", "must be one of"),
        ("ALLOWED_ORIGINS", "https://*.example.com", "no wildcards"),
        ("SHOP_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("SMTP_URL", "mail.example.com", "smtp://"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path, variable, value, problem):
    with pytest.raises(ConfigError) as error:
        settings(tmp_path, **{variable: value})
    assert error.value.variable == variable
    assert problem in str(error.value)


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY: is required when APP_ENV=production"):
        settings(tmp_path, APP_ENV="production")
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("command", [["migrate"], ["seed", "--customers", "1"], ["serve"]])
def test_cli_stops_with_one_line_and_status_2(tmp_path, command):
    environ = {**os.environ, "VAR_DIR": str(tmp_path), "PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *command], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    expected = "PORT: must be a TCP port number between 1 and 65535, not 'not-a-port'"
    assert result.stderr.strip().splitlines() == [f"customer360: configuration error: {expected}"]
