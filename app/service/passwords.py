"""The password policy (NIST SP 800-63B-4, section 3.1.1.2): length over composition, a blocklist,
no rules about character classes, no forced periodic change.

- At least PASSWORD_MIN = 15 characters: the guidance's minimum for a password that is the only
  factor, as it is here. At most PASSWORD_MAX = 128 (the guidance asks for at least 64 allowed);
  every character counts, spaces and any Unicode included.
- Not one of the most common passwords: common_passwords.txt, shipped with the service. It is the
  list Django ships (django/contrib/auth/common-passwords.txt.gz, Royce Williams' top 20,000 from
  breach corpora, BSD-licensed with Django) cut to the entries this length rule still lets through,
  so the image carries no entry that could never match. Compared without case.
- Not a single character or a short piece repeated ("aaaaaaaaaaaaaaa", "abcabcabcabc"): the
  guidance's "repetitive" words. A new password must differ from the current one.
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from pydantic_core import PydanticCustomError
from werkzeug.exceptions import BadRequest, Forbidden

PASSWORD_MIN = 15
PASSWORD_MAX = 128  # argon2 hashes anything, but an unbounded input is a cheap way to burn CPU
DISTINCT_CHARACTERS_MIN = 5
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist, lower-cased; read once per process."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


def check_common(password: str) -> str:
    """A pydantic after-validator: the password unless it is common or repetitive."""
    if password.lower() in common_passwords():
        raise PydanticCustomError(
            "common_password", "is one of the most commonly used passwords; choose another"
        )
    if len(set(password)) < DISTINCT_CHARACTERS_MIN:
        raise PydanticCustomError(
            "repetitive_password",
            "must use at least {minimum} different characters (not one short piece repeated)",
            {"minimum": DISTINCT_CHARACTERS_MIN},
        )
    return password


def check_new_password(current: str, new: str) -> None:
    """400 for a new password equal to the current one (which the caller has verified)."""
    if new == current:
        raise BadRequest("'new_password': must differ from the current password")


class PasswordChangeRequired(Forbidden):
    """403 with code `password_change_required`: the password is right, but it was set by someone
    else (an admin reset, `flask create-admin`); POST /api/v1/auth/password-change replaces it."""

    name = "Password Change Required"


def temporary_password() -> str:
    """A random password for an admin reset: 20 URL-safe characters (120 bits), shown once."""
    return secrets.token_urlsafe(15)
