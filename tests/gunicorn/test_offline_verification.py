"""The offline-verification example in docs/contract.md, run as written against a real gunicorn on
127.0.0.1: another service verifies the auth service's tokens with PyJWT's PyJWKClient alone, across
a key rotation; and two workers starting on a database without a key agree on one."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from service.extensions import db
from service.models import SigningKey
from sqlalchemy import update

from tests.support.app import running_app, sign
from tests.support.gunicorn import ADMIN, REPO_ROOT, Server, migrate_and_add_admin, start_gunicorn, stop

CONTRACT = REPO_ROOT / "docs" / "contract.md"
EXAMPLE = re.compile(r"<!-- example: verify-offline -->\n```python\n(.*?)```", re.DOTALL)
DOCUMENTED_URL = "http://127.0.0.1:8083"
PYJWKCLIENT_COOLDOWN_SECONDS = 30 + 1  # PyJWKClient's default cooldown_duration, and a margin


def documented_example() -> str:
    match = EXAMPLE.search(CONTRACT.read_text())
    assert match, "docs/contract.md lost its '<!-- example: verify-offline -->' python block"
    return match.group(1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """gunicorn (2 workers) on a migrated SQLite database that has an admin and no signing key yet."""
    data_dir = migrate_and_add_admin(tmp_path / "data")
    (tmp_path / "server").mkdir()
    server = start_gunicorn(tmp_path / "server", data_dir)
    try:
        server.wait_until_serving()
        yield server
    finally:
        stop(server)


def login(server: Server) -> str:
    response = requests.post(f"{server.url}/api/v1/auth/login", json=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def run_example(server: Server) -> Any:
    """The documented block, executed as written but for the address of this test's server."""
    code = documented_example()
    assert DOCUMENTED_URL in code
    namespace: dict[str, Any] = {}
    exec(compile(code.replace(DOCUMENTED_URL, server.url), str(CONTRACT), "exec"), namespace)  # noqa: S102
    return namespace["verify"]


def test_the_documented_example_verifies_tokens_offline_across_a_rotation(server: Server) -> None:
    # Both workers asked at once on a database without a key: every answer names the same one key.
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: requests.get(f"{server.url}/.well-known/jwks.json", timeout=30), range(16))
        )
    assert {tuple(key["kid"] for key in answer.json()["keys"]) for answer in answers} == {
        (answers[0].json()["keys"][0]["kid"],)
    }

    verify = run_example(server)
    token = login(server)
    fetched_at = time.monotonic()  # the verifier's first fetch of the key set is the next line
    me = requests.get(
        f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert verify(token)["sub"] == str(me.json()["user"]["id"])

    # A token under the service's kid but signed by someone else's key is refused.
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged)

    # The operator rotates: the new key is published at once, and the old one keeps signing.
    with running_app({**server.env, "DATABASE_URL": ""}) as app:
        result = app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert jwt.get_unverified_header(login(server))["kid"] == kid
        # A token the service signed but that has expired is refused too.
        with pytest.raises(jwt.ExpiredSignatureError):
            verify(sign(app, {**claims, "exp": datetime.now(UTC) - timedelta(seconds=1)}))
        new_kid = requests.get(f"{server.url}/.well-known/jwks.json", timeout=30).json()["keys"][0]["kid"]
        assert new_kid != kid
        # Stand-in for the five minutes it is published before it signs: it signs from now.
        with app.app_context():
            now = datetime.now(UTC)
            db.session.execute(update(SigningKey).where(SigningKey.kid == new_kid).values(activates_at=now))
            db.session.commit()
    new_token = login(server)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    # The verifier still holds the key set it fetched before the rotation; PyJWKClient fetches again
    # for an unknown kid, but at most every 30 s (its cooldown): five minutes in, that has passed.
    time.sleep(max(0.0, fetched_at + PYJWKCLIENT_COOLDOWN_SECONDS - time.monotonic()))
    assert verify(new_token)["sub"] == claims["sub"]
    assert verify(token)["jti"] == claims["jti"]  # the old key's tokens still verify
