"""Access tokens (JWT, HS256, one key per account) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

import jwt

from patron.core.errors import Unauthenticated
from patron.customers.consumers.models import AccessClaims

ALGORITHM = "HS256"
ISSUER = "patron"
_KEY_CONTEXT = b"patron/consumer-access-token/v1\x00"
_REFRESH_BYTES = 20  # 160 bits, written as 40 hex characters like the original's tokens
_MAX_TOKEN_LENGTH = 4096


class TokenExpired(Unauthenticated):
    code = "TOKEN_EXPIRED"


class InvalidToken(Unauthenticated):
    code = "INVALID_TOKEN"


def derived_key(secret: bytes, account_id: str) -> bytes:
    """The account's signing key from the configured secret: a token of one account can
    never pass for another's, and the secret itself never signs anything."""
    return hmac.new(secret, _KEY_CONTEXT + account_id.encode(), hashlib.sha256).digest()


def new_stored_key() -> str:
    return secrets.token_urlsafe(48)


def encode_access(
    key: bytes,
    *,
    account_id: str,
    customer_uuid: str,
    number: int,
    email: str | None,
    now: datetime,
    lifetime_seconds: int,
    original_issued_at: int | None = None,
) -> tuple[str, AccessClaims]:
    issued = int(now.timestamp())
    claims = AccessClaims(
        account_id=account_id,
        customer_uuid=customer_uuid,
        number=number,
        email=email,
        issued_at=issued,
        expires_at=issued + lifetime_seconds,
        original_issued_at=original_issued_at or issued,
    )
    payload = {
        "iss": ISSUER,
        "typ": "access",
        "acc": account_id,
        "sub": customer_uuid,
        "pk": number,
        "email": email,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "origIat": claims.original_issued_at,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def unverified_account(token: str) -> str:
    """The account a token claims to belong to, to pick the key that must have signed it."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidToken("the token is not a valid access token")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidToken("the token is not a valid access token") from None
    account = claims.get("acc")
    if header.get("alg") != ALGORITHM or not isinstance(account, str) or len(account) != 36:
        raise InvalidToken("the token is not a valid access token")
    return account


def decode_access(token: str, key: bytes, *, leeway_seconds: int = 0) -> AccessClaims:
    """The claims of a token signed with ``key``, unexpired; anything else is refused."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=leeway_seconds,
            options={"require": ["exp", "iat", "iss", "sub", "acc", "typ", "pk", "origIat"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("the access token has expired; renew it with refreshToken") from None
    except jwt.PyJWTError:
        raise InvalidToken("the token is not a valid access token") from None
    number = payload.get("pk")
    if (
        payload.get("typ") != "access"
        or not isinstance(payload.get("sub"), str)
        or isinstance(number, bool)
        or not isinstance(number, int)
        or not isinstance(payload.get("origIat"), int)
        or not isinstance(payload.get("iat"), int)
        or not isinstance(payload.get("exp"), int)
    ):
        raise InvalidToken("the token is not a valid access token")
    email = payload.get("email")
    return AccessClaims(
        account_id=str(payload["acc"]),
        customer_uuid=str(payload["sub"]),
        number=number,
        email=email if isinstance(email, str) else None,
        issued_at=payload["iat"],
        expires_at=payload["exp"],
        original_issued_at=payload["origIat"],
    )


def new_refresh_token() -> str:
    return secrets.token_hex(_REFRESH_BYTES)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_refresh_token(token: str) -> bool:
    return len(token) == 2 * _REFRESH_BYTES and all(c in "0123456789abcdef" for c in token)
