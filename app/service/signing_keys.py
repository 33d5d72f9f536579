"""The Ed25519 key pairs that sign tokens: made on first need, rotated by `flask keys rotate`, their
public halves served as a JWK Set (/.well-known/jwks.json) so other services verify tokens offline.

The private halves are stored encrypted (PKCS#8, with KEY_ENCRYPTION_KEY as the password, which
comes from the deploy's secrets), so a database dump alone signs nothing.

A rotated-in key is published at once but signs only from `activates_at` (by default
ROTATION_DELAY_SECONDS later, the key set's cache lifetime), so every verifier's cached key set
holds it before the first token it signs; PyJWKClient, for one, refetches for an unknown kid at most
every 30 s. The newest generation whose time has come signs; a retired key stays published for
TOKEN_TTL_SECONDS after its successor took over, which covers the last token it signed. Nothing
decides "which key signs" per process: every login reads it from the database, so every worker and
replica switches at the same moment.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import ServiceUnavailable

from .extensions import db
from .models import SigningKey

ALGORITHM = "EdDSA"  # RFC 8037: Ed25519 signatures in JOSE
# How long the key set may be cached (Cache-Control of /.well-known/jwks.json), and so how long a
# rotated-in key is published before it signs.
JWKS_MAX_AGE_SECONDS = 300
ROTATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS
_keys = SigningKey.__table__
log = logging.getLogger(__name__)


class KeyUnavailable(Exception):
    """A stored private key cannot be decrypted with the configured KEY_ENCRYPTION_KEY."""


class RotationRace(Exception):
    """Another process added a key at the same moment; the message says what to do."""


@dataclass(frozen=True)
class SigningKeyPair:
    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class KeyInfo:
    """What `flask keys list` shows: never the key material."""

    kid: str
    generation: int
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None
    published_until: datetime | None  # None: no newer key yet, published as long as it exists


# Per process. Both maps only grow by keys that exist: rows are never changed except retired_at,
# which neither depends on, so a cached entry is never stale. Private keys are cached under the
# key encryption key that opened them too: another one must open (or fail to open) the key itself.
_private_cache: dict[tuple[str, str], Ed25519PrivateKey] = {}
_public_cache: dict[str, Ed25519PublicKey] = {}
_cache_lock = threading.Lock()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone=True columns; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _new_row(generation: int, key_encryption_key: str, activates_at: datetime) -> dict[str, Any]:
    private_key = Ed25519PrivateKey.generate()
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(key_encryption_key.encode()),
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "kid": secrets.token_urlsafe(12),  # 16 characters, random: says nothing about the key
        "generation": generation,
        "algorithm": ALGORITHM,
        "public_key": public.decode(),
        "private_key": encrypted.decode(),
        "created_at": datetime.now(UTC),
        "activates_at": activates_at,
        "retired_at": None,
    }


def _decrypt(kid: str, encrypted: str, key_encryption_key: str) -> Ed25519PrivateKey:
    with _cache_lock:
        cached = _private_cache.get((kid, key_encryption_key))
    if cached is not None:
        return cached
    try:
        private_key = serialization.load_pem_private_key(encrypted.encode(), key_encryption_key.encode())
    except (ValueError, TypeError):
        raise KeyUnavailable(
            f"signing key {kid} cannot be decrypted with the configured KEY_ENCRYPTION_KEY "
            "(was it changed?); "
            "restore the previous KEY_ENCRYPTION_KEY, or run `flask keys rotate` to add a key encrypted "
            "with the current one"
        ) from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyUnavailable(f"signing key {kid} is not an Ed25519 key")
    with _cache_lock:
        _private_cache[(kid, key_encryption_key)] = private_key
    return private_key


def _signing(connection: Connection) -> Any:
    """The key that signs now: the newest generation whose activation time has come."""
    query = (
        select(_keys.c.kid, _keys.c.private_key)
        .where(_keys.c.activates_at <= datetime.now(UTC))
        .order_by(_keys.c.generation.desc())
        .limit(1)
    )
    return connection.execute(query).first()


def _create_first(key_encryption_key: str) -> None:
    """Insert generation 1 unless a key exists; a concurrent creator's win is not an error."""
    try:
        with db.engine.begin() as connection:
            row = _new_row(1, key_encryption_key, datetime.now(UTC))
            connection.execute(insert(_keys).values(**row))
        log.info("created the first token signing key")
    except IntegrityError:
        pass  # another worker or replica created it first: its key is the one to use


def current_signing_key() -> SigningKeyPair:
    """The key pair that signs now, created on first need (race-safe across workers and replicas)."""
    key_encryption_key = current_app.config["KEY_ENCRYPTION_KEY"]
    with db.engine.connect() as connection:
        row = _signing(connection)
    if row is None:
        _create_first(key_encryption_key)
        with db.engine.connect() as connection:
            row = _signing(connection)
    if row is None:  # only a key that is not active yet: the first one is always active at once
        raise KeyUnavailable("no signing key is active yet (`flask keys list` shows when one signs)")
    return SigningKeyPair(row.kid, _decrypt(row.kid, row.private_key, key_encryption_key))


def signing_key_or_503() -> SigningKeyPair:
    try:
        return current_signing_key()
    except KeyUnavailable as error:
        log.error("cannot sign tokens: %s", error)
        raise ServiceUnavailable(
            "token signing is unavailable: the signing key cannot be decrypted"
        ) from None


def public_key(kid: str) -> Ed25519PublicKey | None:
    """The public key named `kid`, or None when no such key exists."""
    with _cache_lock:
        cached = _public_cache.get(kid)
    if cached is not None:
        return cached
    with db.engine.connect() as connection:
        pem = connection.execute(select(_keys.c.public_key).where(_keys.c.kid == kid)).scalar()
    if pem is None:
        return None
    key = _load_public(pem)
    if key is None:
        return None
    with _cache_lock:
        _public_cache[kid] = key
    return key


def _load_public(pem: str) -> Ed25519PublicKey | None:
    key = serialization.load_pem_public_key(pem.encode())
    return key if isinstance(key, Ed25519PublicKey) else None


def _published_since(now: datetime, ttl_seconds: int) -> datetime:
    """Keys retired at or after this moment may still have signed a token that has not expired."""
    return now - timedelta(seconds=ttl_seconds)


def jwks(ttl_seconds: int) -> dict[str, list[dict[str, Any]]]:
    """The JWK Set: the current key and every retired key whose last token may still be valid."""
    now = datetime.now(UTC)
    if not _has_any_key():  # first start: publish the key the first login will use
        _create_first(current_app.config["KEY_ENCRYPTION_KEY"])
    query = (
        select(_keys.c.kid, _keys.c.public_key)
        .where(or_(_keys.c.retired_at.is_(None), _keys.c.retired_at > _published_since(now, ttl_seconds)))
        .order_by(_keys.c.generation.desc())
    )
    with db.engine.connect() as connection:
        rows = connection.execute(query).all()
    keys = []
    for row in rows:
        key = _load_public(row.public_key)
        if key is None:
            continue
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
        keys.append({**jwk, "kid": row.kid, "alg": ALGORITHM, "use": "sig"})
    return {"keys": keys}


def _has_any_key() -> bool:
    with db.engine.connect() as connection:
        return connection.execute(select(_keys.c.kid).limit(1)).first() is not None


def rotate(key_encryption_key: str, delay_seconds: int = ROTATION_DELAY_SECONDS) -> tuple[str, datetime]:
    """Add a key that signs `delay_seconds` from now (published at once); the key before it signs
    until then and stays published until its last token expires. The new kid and its start.

    One transaction: the retirement and the new key appear together. Two rotations at once both
    pick the same next generation; the unique constraint lets one win and the other raises.
    """
    try:
        with db.engine.begin() as connection:
            newest = connection.execute(select(func.max(_keys.c.generation))).scalar()
            now = datetime.now(UTC)
            # The very first key signs at once: no verifier can hold an older key set.
            activates_at = now + timedelta(seconds=delay_seconds) if newest else now
            row = _new_row((newest or 0) + 1, key_encryption_key, activates_at)
            retire = update(_keys).where(_keys.c.retired_at.is_(None)).values(retired_at=activates_at)
            connection.execute(retire)
            connection.execute(insert(_keys).values(**row))
    except IntegrityError:
        raise RotationRace(
            "another key was added at the same moment (a concurrent rotation or first start); "
            "`flask keys list` shows the keys; rotate again only if you need yet another"
        ) from None
    log.info("token signing key rotated: new key %s signs from %s", row["kid"], activates_at.isoformat())
    return str(row["kid"]), activates_at


def key_infos(ttl_seconds: int) -> list[KeyInfo]:
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                _keys.c.kid, _keys.c.generation, _keys.c.created_at, _keys.c.activates_at, _keys.c.retired_at
            ).order_by(_keys.c.generation.desc())
        ).all()
    infos = []
    for row in rows:
        retired = _aware(row.retired_at) if row.retired_at else None
        until = retired + timedelta(seconds=ttl_seconds) if retired else None
        created, activates = _aware(row.created_at), _aware(row.activates_at)
        infos.append(KeyInfo(row.kid, row.generation, created, activates, retired, until))
    return infos
