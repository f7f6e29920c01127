"""Secrets Patron must keep to call other systems (a Shopify access token, a Klaviyo key),
sealed in the database with the operator's ``PATRON_SECRET_KEY``.

Sealed values read ``sealed:v1:<Fernet token>`` (AES-128-CBC + HMAC-SHA256); the Fernet key
is derived from the secret key with SHA-256, so any long random string will do. Without a
secret key values are stored as given (and ``patron … connect`` says so); a sealed value can
only be opened with the key that sealed it.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from patron.core.errors import DomainError

PREFIX = "sealed:v1:"
MIN_KEY_LENGTH = 32


class CannotUnseal(DomainError):
    code = "CANNOT_UNSEAL"


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"patron-sealing\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal(value: str, secret_key: str | None) -> str:
    """``value`` sealed with the key; as it is when there is no key."""
    if secret_key is None:
        return value
    return PREFIX + _fernet(secret_key).encrypt(value.encode()).decode()


def unseal(value: str, secret_key: str | None) -> str:
    """The value a sealed string holds (a plain one is returned as it is), or CannotUnseal."""
    if not is_sealed(value):
        return value
    if secret_key is None:
        raise CannotUnseal("a stored secret is sealed, and PATRON_SECRET_KEY is not set")
    try:
        return _fernet(secret_key).decrypt(value.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise CannotUnseal(
            "a stored secret was sealed with another PATRON_SECRET_KEY than this one"
        ) from None
