"""Settings per RUNTIME_ENV, read from environment variables once, at app creation.

Every bad value fails here, before the app serves, with a message naming the variable and what is allowed.
Each secret (SECRET_VARIABLES) may come from a file instead: `VAR_FILE=/path` (the convention of official
images), which is how the deploy mounts them on both targets, so no secret sits in the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .secret_key import KEY_FILE_NAME, WeakKey, check_strength, key_file_key

ALLOWED_RUNTIME_ENVS = ("dev", "test", "prod")
# prod refuses longer-lived tokens: a stolen token is good for this long (revocation aside).
PROD_MAX_TOKEN_TTL_SECONDS = 24 * 3600
# Audit records are kept this many days (service/audit.py); the ceiling keeps the cutoff a real date.
AUDIT_RETENTION_DAYS_DEFAULT = 90
AUDIT_RETENTION_DAYS_MAX = 3650


# The variables that hold secrets. Each may be given as VAR (the value) or VAR_FILE (a file holding the
# value, e.g. a Docker or Kubernetes secret mounted read-only), never both. A new secret: add it here.
SECRET_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "KEY_ENCRYPTION_KEY")
FILE_SUFFIX = "_FILE"
MAX_SECRET_FILE_BYTES = 64 * 1024  # a secret, not a document: a bigger file is a wrong path


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and what is allowed."""


def read_secret_file(name: str, path: str) -> str:
    """The value in `path` for the secret `name` (trailing newlines dropped); never echoes the content.

    Every failure names the variable, the path and what is expected, and nothing of what the file holds.
    """
    variable = f"{name}{FILE_SUFFIX}={path!r}"
    expected = f"expected the path of a readable, non-empty file holding {name}"
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_SECRET_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{variable}: no such file; {expected}") from None
    except IsADirectoryError:
        raise ConfigError(f"{variable} is a directory; {expected}") from None
    except PermissionError:
        raise ConfigError(
            f"{variable} cannot be read by this process (uid {os.getuid()}, gid {os.getgid()}): permission "
            f"denied; {expected}, e.g. owned by or group-readable for that uid/gid"
        ) from None
    except OSError as error:
        raise ConfigError(f"{variable} cannot be read: {error.strerror}; {expected}") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(
            f"{variable} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB; {expected}, not a document"
        )
    try:
        value = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ConfigError(f"{variable} is not UTF-8 text; {expected}") from None
    if not value.strip():
        raise ConfigError(f"{variable} is empty; {expected}")
    return value


def with_secret_files(
    environ: Mapping[str, str], names: tuple[str, ...] = SECRET_VARIABLES
) -> dict[str, str]:
    """`environ` with each secret VAR set from VAR_FILE where that is given (both at once is an error)."""
    resolved = dict(environ)
    for name in names:
        path = environ.get(name + FILE_SUFFIX, "")
        if not path:
            continue
        if environ.get(name, ""):
            raise ConfigError(
                f"{name} and {name}{FILE_SUFFIX} are both set: set only one, {name} to the value or "
                f"{name}{FILE_SUFFIX} to the path of a file holding it"
            )
        resolved[name] = read_secret_file(name, path)
    return resolved


def _positive_int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set an integer >= {minimum}") from None
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name}={raw!r} must be {what}")
    return value


def audit_retention_days(environ: Mapping[str, str]) -> int:
    days = _positive_int(environ, "AUDIT_RETENTION_DAYS", AUDIT_RETENTION_DAYS_DEFAULT)
    if days > AUDIT_RETENTION_DAYS_MAX:
        raise ConfigError(
            f"AUDIT_RETENTION_DAYS={days} is over the ceiling of {AUDIT_RETENTION_DAYS_MAX} days (ten years)"
        )
    return days


def public_url(environ: Mapping[str, str]) -> str:
    """PUBLIC_URL: the scheme and host clients reach the service at (e.g. https://auth.example.com), so
    the discovery document never builds its URLs from a request's Host header. Empty: from the Host.

    The deploy's stack setting `publicUrl` checks the same rule (components/settings/rules.py, which
    cannot import this); tests/program/test_public_url_setting.py keeps the two in step."""
    raw = environ.get("PUBLIC_URL", "").strip()
    if not raw:
        return ""
    allowed = "an http(s) URL with a host and no path, query, user or fragment, e.g. https://auth.example.com"
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ConfigError(f"PUBLIC_URL: {raw!r} is not {allowed}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigError(f"PUBLIC_URL: {raw!r} is not {allowed}")
    return f"{parts.scheme}://{parts.netloc}"


def trusted_proxies(environ: Mapping[str, str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """TRUSTED_PROXIES: addresses or networks whose X-Request-ID and X-Forwarded-For the logs believe."""
    networks = []
    for item in environ.get("TRUSTED_PROXIES", "").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"TRUSTED_PROXIES: {item.strip()!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
    return networks


def _checked_key(key: str, name: str = "SECRET_KEY") -> str:
    try:
        check_strength(key)
    except WeakKey as error:
        raise ConfigError(f"{name} is too weak: {error}") from None
    return key


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
    options: dict[str, object] = {}
    if url.startswith("postgresql"):
        # No pool_pre_ping: service/extensions.py pings only connections that sat idle (issue 15).
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
        # Encrypts the token signing keys stored in the database (service/signing_keys.py); SECRET_KEY
        # unless set, so every deploy that has a SECRET_KEY already has one.
        kek = environ.get("KEY_ENCRYPTION_KEY", "")
        self.KEY_ENCRYPTION_KEY = _checked_key(kek, "KEY_ENCRYPTION_KEY") if kek else self.SECRET_KEY
        self.TOKEN_TTL_SECONDS = self.token_ttl(environ)
        self.TOKEN_ISSUER = environ.get("TOKEN_ISSUER", "").strip() or "microservice-model"
        self.TOKEN_AUDIENCE = environ.get("TOKEN_AUDIENCE", "").strip() or "microservice-model"
        self.PUBLIC_URL = public_url(environ)
        # Only for logs (request id, client address); login throttling always uses the TCP peer.
        self.TRUSTED_PROXIES = trusted_proxies(environ)
        self.CORS_ORIGINS = [o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
        # Login throttling (service/throttle.py): failures allowed before a lock, per account and
        # per client address, and the longest lock the doubling backoff reaches.
        self.LOGIN_FAILURES_PER_ACCOUNT = _positive_int(environ, "LOGIN_FAILURES_PER_ACCOUNT", 5)
        self.LOGIN_FAILURES_PER_ADDRESS = _positive_int(environ, "LOGIN_FAILURES_PER_ADDRESS", 20)
        self.LOGIN_LOCK_MAX_SECONDS = _positive_int(environ, "LOGIN_LOCK_MAX_SECONDS", 300)
        # Password hashes (argon2id, 64 MiB each) running at once per process, and logins that may
        # wait for one; more are refused with 503 at once (service/security.py, docs/operations.md).
        self.PASSWORD_HASH_CONCURRENCY = _positive_int(environ, "PASSWORD_HASH_CONCURRENCY", 1)
        self.PASSWORD_HASH_QUEUE = _positive_int(environ, "PASSWORD_HASH_QUEUE", 1, minimum=0)
        # Days audit records are kept before a purge deletes them (service/audit.py).
        self.AUDIT_RETENTION_DAYS = audit_retention_days(environ)

    def secret_key(self, environ: Mapping[str, str]) -> str:
        """SECRET_KEY when given (checked), else the random key in DATA_DIR (made on first start)."""
        key = environ.get("SECRET_KEY", "")
        if key:
            return _checked_key(key)
        try:
            return key_file_key(self.DATA_DIR)
        except (OSError, WeakKey) as error:
            raise ConfigError(
                f"SECRET_KEY is not set and the key file {self.DATA_DIR / KEY_FILE_NAME} cannot be used: "
                f"{error}"
            ) from None

    def token_ttl(self, environ: Mapping[str, str]) -> int:
        return _positive_int(environ, "TOKEN_TTL_SECONDS", 3600)


class DevConfig(BaseConfig):
    """A developer's machine (no stack): README's "running the service locally"."""

    RUNTIME_ENV = "dev"


class TestStackConfig(BaseConfig):
    """The `test` deploy stack (not the unit tests): production-like, but the key may come from DATA_DIR."""

    RUNTIME_ENV = "test"
    __test__ = False  # a deploy stack's config, not a pytest class


class ProdStackConfig(BaseConfig):
    """The `prod` deploy stack."""

    RUNTIME_ENV = "prod"

    def secret_key(self, environ: Mapping[str, str]) -> str:
        # Never a key file on prod: pods share no disk, so every pod would sign with its own key.
        key = environ.get("SECRET_KEY", "")
        if not key:
            raise ConfigError(
                "SECRET_KEY is required when RUNTIME_ENV=prod: set SECRET_KEY or SECRET_KEY_FILE"
            )
        return _checked_key(key)

    def token_ttl(self, environ: Mapping[str, str]) -> int:
        ttl = super().token_ttl(environ)
        if ttl > PROD_MAX_TOKEN_TTL_SECONDS:
            raise ConfigError(
                f"TOKEN_TTL_SECONDS={ttl} is over the prod ceiling of {PROD_MAX_TOKEN_TTL_SECONDS} (one day)"
            )
        return ttl


CONFIG_CLASSES: dict[str, type[BaseConfig]] = {
    "dev": DevConfig,
    "test": TestStackConfig,
    "prod": ProdStackConfig,
}


def load_config(environ: Mapping[str, str]) -> BaseConfig:
    """The config object for RUNTIME_ENV (default dev), built from `environ` (secrets: VAR or VAR_FILE)."""
    environ = with_secret_files(environ)
    runtime_env = environ.get("RUNTIME_ENV", "").strip() or "dev"
    config_class = CONFIG_CLASSES.get(runtime_env)
    if config_class is None:
        allowed = ", ".join(ALLOWED_RUNTIME_ENVS)
        raise ConfigError(f"RUNTIME_ENV={runtime_env!r} is not allowed; use one of: {allowed}")
    return config_class(environ)
