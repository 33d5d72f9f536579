"""The test stack with its secrets set, on the real engine: secrets reach the service and the migration as
files (the provider's `uploads`, `docker cp` for the migration), never as environment variables."""

from __future__ import annotations

import docker
import jwt
import requests

from components.contract import API_COMPONENT, APP_UID, COMPONENT_LABEL, SECRETS_DIR
from tests.support.docker_engine.deployer import BASE_URL, StackDeployer
from tests.support.docker_engine.probing import wait_for_http
from tests.support.resource_types import COMMAND, CONTAINER
from tests.support.stack_config import TEST_SECRET_KEY

DATABASE_URL = "sqlite:////app/data/from-a-secret-file.db"
ADMIN_PASSWORD = "secret-files-admin-pw-1"
# Run inside the container: open the stored signing key with the SECRET_KEY file's content.
OPENS_WITH_THE_FILE_KEY = "\n".join(
    [
        "import sqlite3",
        "from cryptography.hazmat.primitives.serialization import load_pem_private_key",
        'database = sqlite3.connect("/app/data/from-a-secret-file.db")',
        '[(pem,)] = database.execute("SELECT private_key FROM signing_keys")',
        f'password = open("{SECRETS_DIR}/secret_key").read().rstrip("\\r\\n").encode()',
        "load_pem_private_key(pem.encode(), password)",
        'print("opened")',
    ]
)


def test_secrets_are_files_of_the_app_user_in_the_service_and_the_migration(deployer: StackDeployer) -> None:
    run = deployer.up(secrets={"secretKey": TEST_SECRET_KEY, "databaseUrl": DATABASE_URL})
    assert run.error is None, run.error
    # The app's container (the test stack may also declare a front proxy container, which has no secrets).
    declared = next(
        r["inputs"]
        for r in run.resources.values()
        if r["type"] == CONTAINER
        and {"label": COMPONENT_LABEL, "value": API_COMPONENT} in r["inputs"].get("labels", [])
    )
    container = docker.from_env().containers.get(declared["name"])
    env = container.attrs["Config"]["Env"]
    assert f"SECRET_KEY_FILE={SECRETS_DIR}/secret_key" in env
    assert f"DATABASE_URL_FILE={SECRETS_DIR}/database_url" in env
    assert not [e for e in env if e.startswith(("SECRET_KEY=", "DATABASE_URL="))]
    assert not [e for e in env if TEST_SECRET_KEY in e or DATABASE_URL in e]

    for name, value in (("secret_key", TEST_SECRET_KEY), ("database_url", DATABASE_URL)):
        code, out = container.exec_run(["stat", "-c", "%u:%g %a", f"{SECRETS_DIR}/{name}"])
        assert (code, out.decode().strip()) == (0, f"{APP_UID}:{APP_UID} 400")
        code, out = container.exec_run(["cat", f"{SECRETS_DIR}/{name}"])
        assert (code, out.decode()) == (0, value)

    # The migration read DATABASE_URL_FILE: the database it made is the one in the secret, at the head.
    code, out = container.exec_run(["stat", "-c", "%s", "/app/data/from-a-secret-file.db"])
    assert code == 0, out
    assert int(out.decode()) > 0
    wait_for_http(f"{BASE_URL}/readyz", timeout=60)
    migration = next(
        r["inputs"]
        for r in run.resources.values()
        if r["type"] == COMMAND and "flask" in r["inputs"]["create"]
    )
    assert TEST_SECRET_KEY not in migration["create"]
    assert "from-a-secret-file" not in migration["create"]
    assert (
        docker.from_env().containers.list(
            all=True, filters={"ancestor": declared["image"], "status": "exited"}
        )
        == []
    )

    # Tokens are signed under the key from the file, by a `flask` command and by the server alike.
    code, out = container.exec_run(
        ["flask", "create-admin", "admin", "--keep-password"], environment={"ADMIN_PASSWORD": ADMIN_PASSWORD}
    )
    assert code == 0, out.decode()
    login = requests.post(
        f"{BASE_URL}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    key = jwt.PyJWKClient(f"{BASE_URL}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_aud": False})
    assert claims["sub"]
    # The key that signed it is stored encrypted with the SECRET_KEY from the file (the key-encryption
    # key when keyEncryptionKey is unset).
    code, out = container.exec_run(["python", "-c", OPENS_WITH_THE_FILE_KEY])
    assert (code, out.decode().strip()) == (0, "opened"), out.decode()
