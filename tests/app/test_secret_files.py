"""Secrets as files: SECRET_KEY_FILE / DATABASE_URL_FILE (the official images' `VAR_FILE` convention).

Real files on disk; every refusal names the variable, the path and what is allowed, never the secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from service import ConfigError, create_app
from service.config import MAX_SECRET_FILE_BYTES, SECRET_VARIABLES, load_config
from service.health import MIGRATIONS_DIR

STRONG_KEY = "9b2e7c4f1a8d3065e2b94c7a1f5d8e30b6c2a9f4"
UNPRIVILEGED_UID = 65534  # nobody: owns the file the process may not read


def secret_file(directory: Path, name: str, content: str | bytes, mode: int = 0o400) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)
    return path


def test_every_secret_variable_the_config_reads_is_listed() -> None:
    assert SECRET_VARIABLES == ("SECRET_KEY", "DATABASE_URL", "KEY_ENCRYPTION_KEY")


def test_prod_reads_the_key_and_database_url_from_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    key_file = secret_file(tmp_path, "secret_key", STRONG_KEY + "\n")  # `echo` and editors add one
    url_file = secret_file(tmp_path, "database_url", url)
    app = create_app(
        {
            "RUNTIME_ENV": "prod",
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY_FILE": str(key_file),
            "DATABASE_URL_FILE": str(url_file),
        }
    )
    assert app.config["SECRET_KEY"] == STRONG_KEY
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert not (tmp_path / "data" / "secret_key").exists()  # prod never makes a key file


def test_a_postgresql_url_from_a_file_gets_the_psycopg_driver(tmp_path: Path) -> None:
    url_file = secret_file(tmp_path, "database_url", "postgresql://u:p@db.internal:5432/model\r\n")
    config = load_config(
        {"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path), "DATABASE_URL_FILE": str(url_file)}
    )
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db.internal:5432/model"


def test_an_empty_file_variable_means_unset(tmp_path: Path) -> None:
    config = load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path), "SECRET_KEY_FILE": ""})
    assert config.SECRET_KEY == (tmp_path / "secret_key").read_text().strip()


@pytest.mark.parametrize("name", SECRET_VARIABLES)
def test_both_the_value_and_the_file_are_refused_without_echoing_either(name: str, tmp_path: Path) -> None:
    path = secret_file(tmp_path, "secret", STRONG_KEY)
    value = "postgresql://user:hunter2-value@db/model" if name == "DATABASE_URL" else STRONG_KEY[::-1]
    with pytest.raises(ConfigError) as raised:
        load_config({"RUNTIME_ENV": "prod", name: value, f"{name}_FILE": str(path)})
    message = str(raised.value)
    assert message.startswith(f"{name} and {name}_FILE are both set: set only one")
    assert value not in message
    assert STRONG_KEY not in message


def test_a_missing_file_is_named_with_what_is_expected(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    with pytest.raises(ConfigError) as raised:
        load_config({"RUNTIME_ENV": "prod", "SECRET_KEY_FILE": str(missing)})
    assert str(raised.value) == (
        f"SECRET_KEY_FILE={str(missing)!r}: no such file; "
        "expected the path of a readable, non-empty file holding SECRET_KEY"
    )


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"DATABASE_URL_FILE='.*' is a directory; expected the path of a"):
        load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path), "DATABASE_URL_FILE": str(tmp_path)})


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"], ids=["empty", "newline", "blank"])
def test_an_empty_file_is_refused(content: str, tmp_path: Path) -> None:
    path = secret_file(tmp_path, "secret_key", content)
    with pytest.raises(ConfigError, match=r"SECRET_KEY_FILE='.*' is empty; expected the path of a readable"):
        load_config({"RUNTIME_ENV": "prod", "SECRET_KEY_FILE": str(path)})


def test_a_file_the_process_cannot_read_names_its_uid(tmp_path: Path) -> None:
    """A 0400 file of another user. Root reads any file, so as root the process runs without the
    capabilities that let it (setpriv, util-linux), as the image's unprivileged user would."""
    path = secret_file(tmp_path, "secret_key", STRONG_KEY, mode=0o400)
    if os.getuid() == 0:
        os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    else:
        path.chmod(0)
    prefix: list[str] = []
    if os.getuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv is missing: install util-linux (apt-get install util-linux)"
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    code = (
        "import sys; from service.config import load_config, ConfigError\n"
        "try:\n"
        f"    load_config({{'RUNTIME_ENV': 'prod', 'SECRET_KEY_FILE': {str(path)!r}}})\n"
        "except ConfigError as error:\n"
        "    print(error); sys.exit(3)\n"
    )
    result = subprocess.run(
        [*prefix, sys.executable, "-c", code],
        cwd=MIGRATIONS_DIR.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert (
        f"SECRET_KEY_FILE={str(path)!r} cannot be read by this process (uid {os.getuid()}," in result.stdout
    )
    assert "permission denied" in result.stdout
    assert STRONG_KEY not in result.stdout + result.stderr


def test_a_file_larger_than_a_secret_is_refused_without_its_content(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "secret_key", STRONG_KEY * (MAX_SECRET_FILE_BYTES // len(STRONG_KEY) + 1))
    with pytest.raises(ConfigError) as raised:
        load_config({"RUNTIME_ENV": "prod", "SECRET_KEY_FILE": str(path)})
    assert "is larger than 64 KiB" in str(raised.value)
    assert STRONG_KEY not in str(raised.value)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "secret_key", b"\xff\xfe" + os.urandom(30))
    with pytest.raises(ConfigError, match=r"SECRET_KEY_FILE='.*' is not UTF-8 text"):
        load_config({"RUNTIME_ENV": "prod", "SECRET_KEY_FILE": str(path)})


def test_a_weak_key_from_a_file_is_refused_like_one_from_the_environment(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "secret_key", "short-but-secret")
    with pytest.raises(ConfigError) as raised:
        load_config({"RUNTIME_ENV": "prod", "SECRET_KEY_FILE": str(path)})
    assert str(raised.value) == "SECRET_KEY is too weak: it must be at least 32 characters (got 16)"


def test_a_bad_database_url_from_a_file_names_the_scheme_only(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "database_url", "mysql://root:very-secret-pw@db/model")
    with pytest.raises(ConfigError) as raised:
        load_config({"RUNTIME_ENV": "test", "DATA_DIR": str(tmp_path), "DATABASE_URL_FILE": str(path)})
    assert "got scheme 'mysql'" in str(raised.value)
    assert "very-secret-pw" not in str(raised.value)


def test_flask_commands_read_the_files_too(tmp_path: Path) -> None:
    """The migration runs `flask db upgrade` with the same VAR_FILE variables as the server."""
    key_file = secret_file(tmp_path, "secret_key", STRONG_KEY)
    url_file = secret_file(tmp_path, "database_url", f"sqlite:///{tmp_path / 'files.db'}\n")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")},
        "FLASK_APP": "service",
        "RUNTIME_ENV": "prod",
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY_FILE": str(key_file),
        "DATABASE_URL_FILE": str(url_file),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "db", "upgrade"],
        cwd=MIGRATIONS_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "files.db").stat().st_size > 0
