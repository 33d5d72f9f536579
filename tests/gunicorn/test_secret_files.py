"""The real server with its secrets in files (SECRET_KEY_FILE, DATABASE_URL_FILE), as both deploy targets
mount them: it serves and signs with the file's key; a bad file stops it, naming the file, not the secret."""

from __future__ import annotations

from pathlib import Path

import jwt
import requests

from tests.support.gunicorn import ADMIN, StartServer

FILE_KEY = "c81f0e5a27d94b36a0e1f7c25b98d4e3a6f10c7b"


def write_secret(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(0o400)
    return path


def test_gunicorn_serves_with_secrets_from_files(
    start_server: StartServer, seeded_data_dir: Path, tmp_path: Path
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    server = start_server(
        SECRET_KEY_FILE=str(write_secret(secrets_dir, "secret_key", FILE_KEY)),
        DATABASE_URL_FILE=str(
            write_secret(secrets_dir, "database_url", f"sqlite:///{seeded_data_dir}/service.db")
        ),
    )
    login = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    # Signed with the key from the file (not the DATA_DIR key file of the seeded database).
    claims = jwt.decode(token, FILE_KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["sub"]
    me = requests.get(
        f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert me.status_code == 200
    assert FILE_KEY not in server.output()


def test_gunicorn_stops_naming_a_missing_secret_file(start_server: StartServer, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "secret_key"
    server = start_server(wait=False, RUNTIME_ENV="prod", SECRET_KEY_FILE=str(missing))
    assert server.process.wait(timeout=120) != 0
    assert f"SECRET_KEY_FILE={str(missing)!r}: no such file" in server.output()


def test_gunicorn_stops_when_a_secret_is_given_twice_and_echoes_neither(
    start_server: StartServer, tmp_path: Path
) -> None:
    path = write_secret(tmp_path, "secret_key", FILE_KEY)
    env_key = FILE_KEY[::-1]
    server = start_server(wait=False, RUNTIME_ENV="prod", SECRET_KEY=env_key, SECRET_KEY_FILE=str(path))
    assert server.process.wait(timeout=120) != 0
    output = server.output()
    assert "SECRET_KEY and SECRET_KEY_FILE are both set: set only one" in output
    assert FILE_KEY not in output
    assert env_key not in output
