"""Password hashing (argon2-cffi, bounded per process) and bearer tokens (PyJWT, EdDSA with a kid)."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from . import signing_keys
from .metrics import HASHES_IN_PROGRESS
from .models import JTI_MAX, KID_MAX
from .signing_keys import SigningKeyPair

SIGNING_ALGORITHM = signing_keys.ALGORITHM
# argon2id, RFC 9106's low-memory profile (the library's defaults, spelled out so a library upgrade
# cannot change them unnoticed): 3 passes over 64 MiB in 4 lanes; ~260 ms of CPU per hash here.
# Each hash running at once holds its 64 MiB: docs/operations.md sizes PASSWORD_HASH_CONCURRENCY by it.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16)
HASH_MEMORY_MIB = 64
# The largest id the database's integer primary keys hold (PostgreSQL `integer`).
MAX_ID = 2**31 - 1
log = logging.getLogger(__name__)
T = TypeVar("T")


# --- bounded hashing ---------------------------------------------------------------------------


# Hashing threads run at this nice value: when a login flood fills the CPU, the kernel still gives
# the request threads (health, readiness, authorize, refusing logins) ten times their share.
HASH_NICENESS = 10


class HashSlots:
    """At most `concurrency` hashes at once in this process and `queue` more waiting for one.

    Anything beyond that is refused at once (503): a login flood then costs the worker a few
    milliseconds per refused request instead of a queue of 260 ms hashes in front of /readyz.
    The hashes run on their own low-priority native threads (argon2 releases the GIL meanwhile).
    """

    def __init__(self, concurrency: int, queue: int) -> None:
        self._limit = concurrency + queue
        self._admitted = 0
        self._running = threading.BoundedSemaphore(concurrency)
        self._concurrency = concurrency
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def refuse_if_full(self) -> None:
        """503 now when every slot is taken: lets a login flood be refused before any database work."""
        if self._admitted >= self._limit:
            raise _busy()

    def run(self, function: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._admitted >= self._limit:
                raise _busy()
            self._admitted += 1
        try:
            with self._running:  # at most `queue` callers wait here, for about one hash each
                with HASHES_IN_PROGRESS.track_inprogress():
                    return self._run_on_hash_thread(function, *args)
        finally:
            with self._lock:
                self._admitted -= 1

    def _run_on_hash_thread(self, function: Callable[..., T], *args: Any) -> T:
        if "gevent" in sys.modules:
            from gevent import get_hub
            from gevent.monkey import is_module_patched

            if is_module_patched("threading"):
                # Patched threading makes greenlets, not threads: use the hub's native pool. The
                # greenlet waits there without blocking the worker's others.
                return get_hub().threadpool.apply(_niced, (function, *args))
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="argon2")
        return self._executor.submit(_niced, function, *args).result()


def _busy() -> ServiceUnavailable:
    log.warning("password hash slots full: login refused with 503")
    return ServiceUnavailable("too many logins at once; retry in a second", retry_after=1)


def _niced(function: Callable[..., T], *args: Any) -> T:
    """Call `function` on this thread at HASH_NICENESS (Linux nice values are per thread, and the
    threads argon2 starts for its lanes inherit it). Raising one's own nice needs no privilege."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < HASH_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, HASH_NICENESS)
    except OSError:
        pass
    return function(*args)


def _slots() -> HashSlots:
    slots: HashSlots = current_app.extensions["password_hash_slots"]
    return slots


def refuse_if_busy() -> None:
    _slots().refuse_if_full()


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so a login costs the same whether or not the user exists."""
    return _hasher.hash("timing-equaliser")


def hash_password(password: str) -> str:
    return _slots().run(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """True only for a real hash matching `password`; None (no such user) still costs one verification."""
    matched = _slots().run(_verify, password_hash or _dummy_hash(), password)
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


# --- tokens ------------------------------------------------------------------------------------


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed or expired; the message says which."""


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str

    @classmethod
    def from_app(cls) -> TokenSettings:
        config = current_app.config
        return cls(config["TOKEN_ISSUER"], config["TOKEN_AUDIENCE"])


@dataclass(frozen=True)
class TokenSubject:
    user_id: int
    token_version: str
    jti: str
    expires_at: datetime


def issue_token(
    user_id: int, token_version: str, settings: TokenSettings, ttl_seconds: int, key: SigningKeyPair
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        # The user's current token version: bumping it (password change, disable, revoke) voids
        # every token issued before, and a new user never shares it with an old token.
        "ver": token_version,
        # This token's own id: logout revokes just this one (service/tokens.py).
        "jti": secrets.token_urlsafe(16),
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    # kid: which published key verifies it (/.well-known/jwks.json), so keys can rotate.
    return jwt.encode(claims, key.private_key, algorithm=SIGNING_ALGORITHM, headers={"kid": key.kid})


def _verifying_key(token: str) -> Any:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    kid = header.get("kid")
    if header.get("alg") != SIGNING_ALGORITHM:
        raise InvalidToken(
            f"invalid token: algorithm {header.get('alg')!r} is not allowed, only {SIGNING_ALGORITHM}"
        )
    if not isinstance(kid, str) or not kid or len(kid) > KID_MAX:
        raise InvalidToken("invalid token: no key id (kid) in its header")
    key = signing_keys.public_key(kid)
    if key is None:
        raise InvalidToken("invalid token: signed by an unknown key")
    return key


def subject_from_token(token: str, settings: TokenSettings) -> TokenSubject:
    """The verified subject of `token`; InvalidToken naming what is wrong.

    A token's signature and claims never change, so each worker remembers the tokens it verified
    (the last VERIFIED_TOKENS_MAX, only good ones) and checks only the expiry again: verifying is
    ~10% of an authorize request's CPU (issue 15). Nothing that can revoke a token is remembered:
    logout, password change, disabling and deletion are read from the database on every request.
    """
    subject = _verified_subject(token, settings.issuer, settings.audience)
    if datetime.now(UTC) >= subject.expires_at:  # as PyJWT decides: expired once now reaches exp
        raise InvalidToken("token expired")
    return subject


VERIFIED_TOKENS_MAX = 4096  # ~2 MB per worker at most; a failed verification is never kept


@lru_cache(maxsize=VERIFIED_TOKENS_MAX)
def _verified_subject(token: str, issuer: str, audience: str) -> TokenSubject:
    key = _verifying_key(token)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[SIGNING_ALGORITHM],
            issuer=issuer,
            audience=audience,
            # iss and aud are required through issuer= and audience=; exp is checked before them.
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidTokenError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    sub, version, jti = claims.get("sub"), claims.get("ver"), claims.get("jti")
    if not isinstance(sub, str) or parse_id(sub) is None:
        raise InvalidToken("invalid token: subject is not a user id")
    if not isinstance(version, str) or not version:
        raise InvalidToken("invalid token: no token version (log in again)")
    if not isinstance(jti, str) or not 1 <= len(jti) <= JTI_MAX:
        raise InvalidToken(f"invalid token: its id (jti) must be a string of 1 to {JTI_MAX} characters")
    return TokenSubject(int(sub), version, jti, datetime.fromtimestamp(claims["exp"], UTC))


def parse_id(text: str) -> int | None:
    """The id `text` names, or None for anything that is not 1..MAX_ID (huge numbers included)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
