"""The token signing key: how strong a given one is, and the random one kept in DATA_DIR outside prod.

No key is ever written in the source: dev and test use a random key that the first process to start
writes to DATA_DIR/secret_key (mode 0600) and every later worker, restart and `flask` command reads.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import stat
from collections import Counter
from pathlib import Path

KEY_FILE_NAME = "secret_key"
MIN_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
# What the key's own character frequencies suggest it holds. `openssl rand -hex 16` (32 hex
# characters, 128 random bits) measures 96 at the lowest in 20,000 draws, about 110 typically.
MIN_ESTIMATED_BITS = 85
# SHA-256 of keys that were published in this repository's history (the old development default);
# kept as digests so the keys themselves are not in the source any more.
KNOWN_KEY_SHA256 = frozenset({"496d1a33671ac0813ba91710ecb67d649a86b426474303e3a5de420ae30af1db"})


class WeakKey(ValueError):
    """The key is short, repetitive or published; the message says which, never the key."""


def estimated_bits(key: str) -> float:
    """Shannon entropy of the key's characters times its length: a cheap upper bound of its randomness."""
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    return per_char * len(key)


def is_repetition(key: str) -> bool:
    """True for 'abcabcabc...': the key is one shorter piece repeated."""
    return (key + key).find(key, 1) < len(key)


def check_strength(key: str) -> None:
    """Raise WeakKey unless `key` looks like a random secret of at least 128 bits."""
    if hashlib.sha256(key.encode()).hexdigest() in KNOWN_KEY_SHA256:
        raise WeakKey("it is a key published in this project's source; generate a new one")
    if len(key) < MIN_LENGTH:
        raise WeakKey(f"it must be at least {MIN_LENGTH} characters (got {len(key)})")
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_CHARACTERS or is_repetition(key):
        repeated = ", one piece repeated" if is_repetition(key) else ""
        raise WeakKey(f"it is too repetitive ({distinct} distinct characters{repeated}): use a random value")
    bits = estimated_bits(key)
    if bits < MIN_ESTIMATED_BITS:
        raise WeakKey(f"it looks like {bits:.0f} bits of randomness, at least {MIN_ESTIMATED_BITS} needed")


def key_file_key(data_dir: Path) -> str:
    """The key in DATA_DIR/secret_key, made (random, 0600, atomically) by the first process that asks.

    The key is written to a private temporary file first and then hard-linked to its name: link()
    fails when the name exists, so of several workers starting at once exactly one key wins and
    no reader ever sees a half-written file.
    """
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process was first: use its key
        finally:
            temporary.unlink(missing_ok=True)
    return read_key_file(path)


def read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(
            f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); `chmod 600 {path}`, or delete it "
            "to have a new key made (every issued token then stops working)"
        )
    key = path.read_text().strip()
    check_strength(key)
    return key
