"""The real server with its secrets in files (SECRET_KEY_FILE, DATABASE_URL_FILE), as both deploy targets
mount them: it serves, and the file's key encrypts its signing key; a bad file stops it, naming the file,
not the secret."""

from __future__ import annotations

from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import create_engine, text

from tests.support.gunicorn import ADMIN, StartServer, migrate_and_add_admin

FILE_KEY = "c81f0e5a27d94b36a0e1f7c25b98d4e3a6f10c7b"


def write_secret(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(0o400)
    return path


def test_gunicorn_serves_with_secrets_from_files(start_server: StartServer, tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    # A database of its own: its first signing key is made (and encrypted) under the file's key.
    url = f"sqlite:///{migrate_and_add_admin(tmp_path / 'data')}/service.db"
    server = start_server(
        SECRET_KEY_FILE=str(write_secret(secrets_dir, "secret_key", FILE_KEY)),
        DATABASE_URL_FILE=str(write_secret(secrets_dir, "database_url", url)),
    )
    login = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=60)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    # The signing key is stored encrypted with the key from the file (SECRET_KEY is the key-encryption
    # key when KEY_ENCRYPTION_KEY is unset), not with the DATA_DIR key file's.
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT private_key FROM signing_keys")).scalar_one()
    engine.dispose()
    load_pem_private_key(stored.encode(), FILE_KEY.encode())
    jwks = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_aud": False})
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
