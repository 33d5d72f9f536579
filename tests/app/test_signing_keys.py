"""Tokens other services verify themselves: Ed25519 under a kid, the JWK Set and discovery document,
rotation that logs nobody out, private keys encrypted at rest, and the first key made exactly once."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from service import ConfigError
from service.config import load_config
from service.extensions import db
from service.models import AuditEvent, SigningKey
from sqlalchemy import select, update

from tests.support.app import error_of, migrate, running_app, service_env

OTHER_KEK = "9f1c2e7a5b3d8c6e0a4f2b9d7c5e3a1f8b6d4c2e0a9f7b5d"


def login(client: FlaskClient, admin: dict[str, str]) -> str:
    response = client.post("/api/v1/auth/login", json=admin)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def published(client: FlaskClient) -> dict[str, dict[str, Any]]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {key["kid"]: key for key in response.get_json()["keys"]}


def rotate(app: Flask, *options: str) -> str:
    result = app.test_cli_runner().invoke(args=["keys", "rotate", *options])
    assert result.exit_code == 0, result.output
    return result.output


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_every_token_names_its_key_and_the_published_key_verifies_it(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    token = login(client, admin)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    jwk = published(client)[header["kid"]]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in jwk  # the private part is never published
    claims = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        issuer="microservice-model",
        audience="microservice-model",
    )
    assert set(claims) == {"sub", "ver", "jti", "iss", "aud", "iat", "exp"}
    assert claims["jti"] != jwt.decode(login(client, admin), options={"verify_signature": False})["jti"]


def test_the_key_set_may_be_cached_and_the_discovery_document_points_at_it(client: FlaskClient) -> None:
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == "public, max-age=300"
    response = client.get("/.well-known/openid-configuration", base_url="https://auth.example.test")
    assert response.status_code == 200
    assert response.get_json() == {
        "issuer": "microservice-model",
        "jwks_uri": "https://auth.example.test/.well-known/jwks.json",
        "token_endpoint": "https://auth.example.test/api/v1/auth/login",
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }
    assert response.headers["Cache-Control"] == "no-store"  # Host-derived: no shared cache keeps it


def test_with_public_url_the_discovery_document_ignores_the_host_header(
    migrated_database: tuple[Path, str],
) -> None:
    environ = service_env(*migrated_database, PUBLIC_URL="https://auth.example.com/")
    with running_app(environ) as service:
        response = service.test_client().get(
            "/.well-known/openid-configuration", headers={"Host": "attacker.example"}
        )
    body = response.get_json()
    assert body["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
    assert body["token_endpoint"] == "https://auth.example.com/api/v1/auth/login"
    assert "Cache-Control" not in response.headers


@pytest.mark.parametrize(
    "value",
    [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://auth.example.com/base",
        "https://u@h.example",
        "https://h.example?x=1",
        "https://",
        "https://h.example:99999",
    ],
)
def test_a_public_url_that_is_not_a_bare_http_origin_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"PUBLIC_URL: .* is not an http\(s\) URL with a host"):
        load_config({"PUBLIC_URL": value, "DATA_DIR": str(tmp_path)})


def test_a_rotated_in_key_is_published_for_the_cache_lifetime_before_it_signs(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    old_kid = kid_of(login(client, admin))
    output = rotate(app)
    new_kid = next(iter(published(client)))
    assert new_kid != old_kid
    assert f"new signing key {new_kid} is published now and signs from " in output
    assert kid_of(login(client, admin)) == old_kid  # verifiers' cached key sets may not hold it yet
    listing = app.test_cli_runner().invoke(args=["keys", "list"]).output.splitlines()
    assert listing[0].startswith(f"{new_kid}\t")
    assert "next: published, signs from" in listing[0]
    assert listing[1].startswith(f"{old_kid}\t")
    assert listing[1].endswith("current (signs)")
    with app.app_context():
        # Five minutes later (the key set's max-age): the new key signs.
        activation = db.session.scalar(select(SigningKey.activates_at).where(SigningKey.kid == new_kid))
        assert activation is not None
        activation = activation if activation.tzinfo else activation.replace(tzinfo=UTC)
        assert timedelta(seconds=290) < activation - datetime.now(UTC) <= timedelta(seconds=300)
        earlier = datetime.now(UTC) - timedelta(seconds=1)
        db.session.execute(update(SigningKey).where(SigningKey.kid == new_kid).values(activates_at=earlier))
        db.session.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=earlier))
        db.session.commit()
    assert kid_of(login(client, admin)) == new_kid


def test_rotation_logs_nobody_out_and_new_tokens_use_the_new_key(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    old_token = login(client, admin)
    output = rotate(app, "--delay", "0")
    new_token = login(client, admin)
    assert kid_of(new_token) != kid_of(old_token)
    assert kid_of(new_token) in output
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signing_key.rotate").order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None
    assert (event.outcome, event.actor_type) == ("success", "cli")
    assert (event.target_type, event.target_id) == ("signing_key", kid_of(new_token))
    assert (event.details or {}).get("delay_seconds") == 0
    for token in (old_token, new_token):
        assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
        response = client.post("/api/v1/authorize", json={"permission": "users:read"}, headers=bearer(token))
        assert response.status_code == 200
    keys = published(client)
    assert {kid_of(old_token), kid_of(new_token)} <= set(keys)
    assert next(iter(keys)) == kid_of(new_token)  # newest first


def test_a_retired_key_is_unpublished_once_its_last_token_has_expired(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    old_kid = kid_of(login(client, admin))
    rotate(app, "--delay", "0")
    ttl = app.config["TOKEN_TTL_SECONDS"]
    with app.app_context():
        # Retired TOKEN_TTL_SECONDS ago, less a minute: a token it signed may still be valid.
        almost = datetime.now(UTC) - timedelta(seconds=ttl - 60)
        db.session.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=almost))
        db.session.commit()
    assert old_kid in published(client)
    listing = app.test_cli_runner().invoke(args=["keys", "list"]).output
    assert f"{old_kid}\t" in listing
    assert "retired, published until" in listing
    with app.app_context():
        expired = datetime.now(UTC) - timedelta(seconds=ttl + 1)
        db.session.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=expired))
        db.session.commit()
    assert old_kid not in published(client)
    assert "retired, no longer published" in app.test_cli_runner().invoke(args=["keys", "list"]).output


def test_private_keys_are_stored_encrypted_with_the_key_encryption_key(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    kid = kid_of(login(client, admin))
    with app.app_context():
        stored = db.session.scalar(select(SigningKey.private_key).where(SigningKey.kid == kid))
    assert stored is not None
    assert stored.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError, match="Password was not given but private key is encrypted"):
        serialization.load_pem_private_key(stored.encode(), None)
    with pytest.raises(ValueError, match="Incorrect password"):
        serialization.load_pem_private_key(stored.encode(), OTHER_KEK.encode())
    # The service's secret (here SECRET_KEY: KEY_ENCRYPTION_KEY is unset) opens it.
    serialization.load_pem_private_key(stored.encode(), app.config["SECRET_KEY"].encode())


def test_another_key_encryption_key_refuses_to_sign_with_503_until_a_rotation(
    client: FlaskClient, admin: dict[str, str], migrated_database: tuple[Path, str]
) -> None:
    token = login(client, admin)
    with running_app(service_env(*migrated_database, KEY_ENCRYPTION_KEY=OTHER_KEK)) as other:
        other_client = other.test_client()
        error = error_of(other_client.post("/api/v1/auth/login", json=admin), 503)
        assert error["message"] == "token signing is unavailable: the signing key cannot be decrypted"
        # Verifying needs only public keys: tokens already issued keep working.
        assert other_client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
        rotate(other, "--delay", "0")  # the way out: a key encrypted with the configured one
        assert kid_of(login(other_client, admin)) != kid_of(token)
    # Processes still on the old KEY_ENCRYPTION_KEY cannot open the new key either.
    error_of(client.post("/api/v1/auth/login", json=admin), 503)


def test_a_weak_key_encryption_key_is_refused_at_start(migrated_database: tuple[Path, str]) -> None:
    from service import ConfigError, create_app

    with pytest.raises(
        ConfigError, match="KEY_ENCRYPTION_KEY is too weak: it must be at least 32 characters"
    ):
        create_app(service_env(*migrated_database, KEY_ENCRYPTION_KEY="short"))


# --- the first key, made by several processes at once --------------------------------------------


def _first_key_in_child(environ: dict[str, str], barrier: Any, results: Any) -> None:
    """One 'replica': its own process, app and connection pool; all ask for a key at the same moment."""
    from service import create_app
    from service.signing_keys import current_signing_key

    app = create_app(environ)
    with app.app_context():
        barrier.wait(timeout=60)
        results.put(current_signing_key().kid)
        db.engine.dispose()


def test_processes_starting_at_once_on_a_new_database_agree_on_one_first_key(
    empty_db: tuple[Path, str],
) -> None:
    migrate(empty_db)
    environ = service_env(*empty_db)
    context = multiprocessing.get_context("spawn")
    count = 6
    barrier, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=_first_key_in_child, args=(environ, barrier, results)) for _ in range(count)
    ]
    for process in processes:
        process.start()
    try:
        kids = [results.get(timeout=120) for _ in range(count)]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0] * count
    with running_app(environ) as app, app.app_context():
        stored = db.session.scalars(select(SigningKey.kid)).all()
    assert len(stored) == 1
    assert set(kids) == set(stored)


def test_no_key_until_first_needed_then_the_key_set_publishes_the_one_that_will_sign(
    empty_db: tuple[Path, str],
) -> None:
    migrate(empty_db)
    with running_app(service_env(*empty_db)) as app:
        listing = app.test_cli_runner().invoke(args=["keys", "list"]).output
        assert listing.startswith("no signing key yet")
        keys = app.test_client().get("/.well-known/jwks.json").get_json()["keys"]
        assert len(keys) == 1
        with app.app_context():
            assert db.session.scalars(select(SigningKey.kid)).all() == [keys[0]["kid"]]


def test_the_key_encryption_key_may_come_from_a_file(
    tmp_path: Path, migrated_database: tuple[Path, str]
) -> None:
    """As the deploy mounts it on both targets: KEY_ENCRYPTION_KEY_FILE names a read-only file."""
    secret_file = tmp_path / "key_encryption_key"
    secret_file.write_text(OTHER_KEK + "\n")
    with running_app(service_env(*migrated_database, KEY_ENCRYPTION_KEY_FILE=str(secret_file))) as app:
        assert app.config["KEY_ENCRYPTION_KEY"] == OTHER_KEK
        assert app.config["KEY_ENCRYPTION_KEY"] != app.config["SECRET_KEY"]
