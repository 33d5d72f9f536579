"""Settings per RUNTIME_ENV, read from environment variables once, at app creation.

Every bad value fails here, before the app serves, with a message naming the variable and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ALLOWED_RUNTIME_ENVS = ("dev", "test", "prod")
# Only for dev/test: prod refuses to start with it (see ProdConfig).
DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-not-for-production-use"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and what is allowed."""


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set a positive integer") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be a positive integer")
    return value


def database_url(environ: Mapping[str, str], data_dir: Path) -> str:
    """DATABASE_URL, or SQLite in DATA_DIR; plain postgresql:// URLs are sent to the psycopg 3 driver."""
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{data_dir / 'service.db'}"
    # SQLAlchemy's bare "postgresql" means psycopg2, which is not installed; psycopg 3 is.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(
            "DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// (or postgresql://) URL, "
            f"got scheme {url.split(':', 1)[0]!r}"
        )
    return url


def engine_options(url: str, connect_timeout: int) -> dict[str, object]:
    # pool_pre_ping: a connection the database dropped (restart, failover) is replaced, not handed out.
    options: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": connect_timeout}
    return options


class BaseConfig:
    """Values every environment shares; the subclasses change only what differs."""

    RUNTIME_ENV = "base"
    MAX_CONTENT_LENGTH = 64 * 1024  # API bodies are small JSON documents
    # Database connection attempts give up after this long, so /readyz answers 503 instead of hanging.
    DB_CONNECT_TIMEOUT_SECONDS = 5

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.DATA_DIR = Path(environ.get("DATA_DIR", "").strip() or "/app/data")
        self.SQLALCHEMY_DATABASE_URI = database_url(environ, self.DATA_DIR)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(
            self.SQLALCHEMY_DATABASE_URI, self.DB_CONNECT_TIMEOUT_SECONDS
        )
        self.SECRET_KEY = self.secret_key(environ)
        self.TOKEN_TTL_SECONDS = _positive_int(environ, "TOKEN_TTL_SECONDS", 3600)
        self.CORS_ORIGINS = [o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip()]

    def secret_key(self, environ: Mapping[str, str]) -> str:
        return environ.get("SECRET_KEY", "") or DEVELOPMENT_SECRET_KEY


class DevConfig(BaseConfig):
    RUNTIME_ENV = "dev"


class TestConfig(BaseConfig):
    """The `test` deploy stack (not the unit tests): production-like, but a default secret is allowed."""

    RUNTIME_ENV = "test"


class ProdConfig(BaseConfig):
    RUNTIME_ENV = "prod"

    def secret_key(self, environ: Mapping[str, str]) -> str:
        key = environ.get("SECRET_KEY", "")
        if not key:
            raise ConfigError("SECRET_KEY is required when RUNTIME_ENV=prod")
        if key == DEVELOPMENT_SECRET_KEY:
            raise ConfigError("SECRET_KEY must not be the development default when RUNTIME_ENV=prod")
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters when RUNTIME_ENV=prod "
                f"(got {len(key)})"
            )
        return key


CONFIG_CLASSES: dict[str, type[BaseConfig]] = {
    "dev": DevConfig,
    "test": TestConfig,
    "prod": ProdConfig,
}


def load_config(environ: Mapping[str, str]) -> BaseConfig:
    """The config object for RUNTIME_ENV (default dev), built from `environ`."""
    runtime_env = environ.get("RUNTIME_ENV", "").strip() or "dev"
    config_class = CONFIG_CLASSES.get(runtime_env)
    if config_class is None:
        allowed = ", ".join(ALLOWED_RUNTIME_ENVS)
        raise ConfigError(f"RUNTIME_ENV={runtime_env!r} is not allowed; use one of: {allowed}")
    return config_class(environ)
