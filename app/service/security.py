"""Password hashing (argon2-cffi) and bearer tokens (PyJWT, HS256)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
_hasher = PasswordHasher()  # argon2id with the library's recommended (RFC 9106) parameters


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so a login costs the same whether or not the user exists."""
    return _hasher.hash("timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True only for a real hash matching `password`; None (no such user) still costs one verification."""
    try:
        matched = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed or expired; the message says which."""


def issue_token(user_id: int, secret_key: str, ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(seconds=ttl_seconds)}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def user_id_from_token(token: str, secret_key: str) -> int:
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidTokenError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    try:
        return int(claims["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("invalid token: subject is not a user id") from None
