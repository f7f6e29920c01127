"""Consumer passwords: a minimum strength, argon2id hashes, verification in constant work."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from patron.core.errors import DomainError, InvalidInput, ValidationErrors

# Six characters, as the original's clients assume (its documented example password has six),
# and none of the guessable kinds below.
MIN_LENGTH = 6
MAX_LENGTH = 256

# The most used passwords of public breach corpora that pass the length rule.
_COMMON_TEXT = """
    qwerty qwerty1 abc123 abc1234 abcdef monkey dragon letmein secret iloveu 123abc
    passwd pass123 admin1 welcome master shadow sunshine1 azerty qazwsx 1q2w3e
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
    12345678 123456789 1234567890 0123456789 87654321 11111111 00000000 12341234 11223344
    qwertyui qwertyuiop qwerty123 qwerty12 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx q1w2e3r4
    asdfghjk asdfghjkl zxcvbnm1 iloveyou iloveyou1 sunshine sunshine1 princess princess1
    football baseball superman batman123 starwars trustno1 letmein1 welcome1 welcome123
    abc12345 abcd1234 abcdefgh aa123456 access14 admin123 administrator changeme
    dragon12 master12 monkey12 shadow12 whatever computer internet michelle jennifer
    jordan23 liverpool chelsea1 arsenal1 loveyou1 charlie1 freedom1 secret12 mustang1
"""
_COMMON = frozenset(_COMMON_TEXT.split())

# argon2id with the library's defaults (RFC 9106's second recommended profile).
_hasher = PasswordHasher()


def check_strength(
    password: str,
    *,
    confirmation: str | None = None,
    personal: tuple[str | None, ...] = (),
    field: str = "password2",
) -> None:
    """Refuse a mismatched confirmation or a guessable password; every problem is named."""
    if confirmation is not None and password != confirmation:
        raise InvalidInput(
            "The two password fields didn't match.", field=field, code="PASSWORD_MISMATCH"
        )
    problems: list[DomainError] = []
    if len(password) < MIN_LENGTH:
        problems.append(
            InvalidInput(
                f"This password is too short. It must contain at least {MIN_LENGTH} characters.",
                field=field,
                code="PASSWORD_TOO_SHORT",
            )
        )
    if len(password) > MAX_LENGTH:
        problems.append(
            InvalidInput(
                f"This password is too long. It must contain at most {MAX_LENGTH} characters.",
                field=field,
                code="PASSWORD_TOO_LONG",
            )
        )
    lowered = password.lower()
    if lowered in _COMMON:
        problems.append(
            InvalidInput("This password is too common.", field=field, code="PASSWORD_TOO_COMMON")
        )
    if password.isdigit():
        problems.append(
            InvalidInput(
                "This password is entirely numeric.", field=field, code="PASSWORD_ENTIRELY_NUMERIC"
            )
        )
    for value in personal:
        part = (value or "").split("@")[0].strip().lower()
        if len(part) >= 3 and (part in lowered or lowered in part):
            problems.append(
                InvalidInput(
                    "The password is too similar to your name or email.",
                    field=field,
                    code="PASSWORD_TOO_SIMILAR",
                )
            )
            break
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationErrors(problems)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; without a stored hash a decoy is checked, so that an
    unknown email takes as long to refuse as a wrong password."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True
