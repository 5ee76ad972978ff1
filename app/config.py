"""Settings read from the environment once, validated, and frozen.

A bad value raises ConfigError naming the variable; the entry points turn it into one line on stderr and
exit status 2 instead of a traceback.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENVIRONMENTS = ("development", "test", "production")
MIN_SECRET_KEY_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 24
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


class ConfigError(Exception):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Settings:
    env: str
    database_url: str
    redis_url: str | None
    secret_key: str
    host: str
    port: int
    smtp_url: str | None
    allowed_origins: tuple[str, ...]
    shop_timezone: ZoneInfo
    var_dir: Path
    # The interface's language until a user chooses theirs (and for a browser that states no preference).
    shop_language: str = "fr"
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks); nobody's by default.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # A read replica for the heavy read sections (analytics, revenue chart); None: the primary serves all.
    database_read_url: str | None = None
    # /metrics: a bearer token Prometheus sends, and/or the addresses it may scrape from without one.
    metrics_token: str | None = None
    metrics_networks: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def database_backend(self) -> str:
        return "mysql" if self.database_url.startswith("mysql") else "sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        env = get("APP_ENV") or "development"
        if env not in ENVIRONMENTS:
            raise ConfigError("APP_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")

        var_dir = Path(get("VAR_DIR") or "var").resolve()
        host = get("HOST") or "127.0.0.1"
        port = parse_port(get("PORT"))
        return cls(
            env=env,
            database_url=parse_database_url(get("DATABASE_URL"), var_dir),
            redis_url=parse_redis_url(get("REDIS_URL")),
            secret_key=resolve_secret_key(get("SECRET_KEY"), env, var_dir),
            host=host,
            port=port,
            smtp_url=parse_smtp_url(get("SMTP_URL")),
            allowed_origins=parse_allowed_origins(get("ALLOWED_ORIGINS"), host, port),
            shop_timezone=parse_timezone(get("SHOP_TIMEZONE")),
            var_dir=var_dir,
            trusted_proxies=parse_networks(get("TRUSTED_PROXIES"), "TRUSTED_PROXIES"),
            shop_language=parse_language(get("SHOP_LANGUAGE")),
            database_read_url=parse_read_url(get("DATABASE_READ_URL"), var_dir),
            metrics_token=parse_metrics_token(get("METRICS_TOKEN")),
            metrics_networks=parse_networks(get("METRICS_ALLOWED_IPS"), "METRICS_ALLOWED_IPS") or LOOPBACK,
            log_level=parse_log_level(get("LOG_LEVEL")),
        )


def parse_language(value: str | None) -> str:
    if value is None:
        return "fr"
    if value not in ("fr", "en"):
        raise ConfigError("SHOP_LANGUAGE", f"must be fr or en, not {value!r}")
    return value


def parse_networks(value: str | None, variable: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/8, ::1)."""
    networks = []
    for item in (value or "").split(","):
        if item := item.strip():
            try:
                networks.append(ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(variable, f"{item!r} is not an IP address or network") from None
    return tuple(networks)


def parse_read_url(value: str | None, var_dir: Path) -> str | None:
    return None if value is None else parse_database_url(value, var_dir, "DATABASE_READ_URL")


def parse_metrics_token(value: str | None) -> str | None:
    if value is not None and len(value) < MIN_METRICS_TOKEN_LENGTH:
        raise ConfigError("METRICS_TOKEN", f"must be at least {MIN_METRICS_TOKEN_LENGTH} characters long")
    return value


def parse_log_level(value: str | None) -> str:
    level = (value or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


def parse_port(value: str | None) -> int:
    if value is None:
        return 8000
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError("PORT", f"must be a TCP port number between 1 and 65535, not {value!r}")
    return int(value)


def parse_database_url(value: str | None, var_dir: Path, variable: str = "DATABASE_URL") -> str:
    """Return a SQLAlchemy async URL: aiosqlite for SQLite, aiomysql for MySQL/MariaDB."""
    if value is None:
        return f"sqlite+aiosqlite:///{var_dir / 'customer360.sqlite3'}"
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ConfigError(variable, f"is not a URL (expected mysql://… or sqlite:///…), got {value!r}")
    drivers = {
        "mysql": "mysql+aiomysql",
        "mysql+aiomysql": "mysql+aiomysql",
        "mariadb": "mysql+aiomysql",
        "mariadb+aiomysql": "mysql+aiomysql",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
    }
    if scheme not in drivers:
        raise ConfigError(
            variable, f"unsupported scheme {scheme!r}; use mysql://, mysql+aiomysql:// or sqlite:///"
        )
    driver = drivers[scheme]
    if driver.startswith("mysql"):
        parts = urlsplit(value)
        if not parts.hostname:
            raise ConfigError(variable, "a MySQL URL needs a host, e.g. mysql://user:pass@127.0.0.1/db")
        if not parts.path.strip("/"):
            raise ConfigError(variable, "a MySQL URL needs a database name, e.g. mysql://…/customer360")
        try:
            parts.port  # noqa: B018 -- validates the port
        except ValueError as exc:
            raise ConfigError(variable, f"bad port: {exc}") from None
    elif not rest.startswith("/") or rest == "/":
        raise ConfigError(variable, "a SQLite URL needs a file path, e.g. sqlite:///var/customer360.db")
    return f"{driver}://{rest}"


def parse_redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL", f"must start with redis://, rediss:// or unix://, got {value!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("REDIS_URL", "needs a host, e.g. redis://127.0.0.1:6379/0")
    try:
        parts.port  # noqa: B018
    except ValueError as exc:
        raise ConfigError("REDIS_URL", f"bad port: {exc}") from None
    return value


def parse_smtp_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise ConfigError("SMTP_URL", f"must look like smtp://user:pass@host:port, got {value!r}")
    return value


def parse_allowed_origins(value: str | None, host: str, port: int) -> tuple[str, ...]:
    if value is None:
        hosts = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost", "0.0.0.0") else {host}
        return tuple(sorted(f"http://{name}:{port}" for name in hosts if name != "0.0.0.0"))
    origins = tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if "*" in origin or parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ConfigError(
                "ALLOWED_ORIGINS",
                f"{origin!r} is not an exact origin like https://c360.example.com (no wildcards, no path)",
            )
    return origins


def parse_timezone(value: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(value or "America/Toronto")
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("SHOP_TIMEZONE", f"unknown time zone {value!r}") from None


def resolve_secret_key(value: str | None, env: str, var_dir: Path) -> str:
    if value is not None:
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError("SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters long")
        return value
    if env == "production":
        raise ConfigError("SECRET_KEY", "is required when APP_ENV=production")
    # Development: generate once and keep it, so sessions survive restarts.
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as file:
            file.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError("SECRET_KEY", f"not set and cannot be written to {path}: {exc.strerror}") from None
    return key
