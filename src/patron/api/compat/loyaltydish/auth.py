"""Signup and tokens, as the original's auth library names them: ``register``,
``obtainToken`` (and its ``signIn`` alias), ``refreshToken``, ``verifyToken``, ``revokeToken``.

Each parses its arguments, calls one consumers service function and shapes
``{success, errors, ...}``; a refusal is ``success: false``, never a GraphQL error.
"""

from __future__ import annotations

import strawberry

from patron.api.compat.loyaltydish.errors import expected_errors
from patron.api.compat.loyaltydish.types import Context, ExpectedErrorType, GenericScalar
from patron.core.clock import utcnow
from patron.core.errors import DomainError
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import Registration

# Core names of the signup's fields, as this dialect's arguments call them.
REGISTER_FIELDS = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "phone": "phoneNumber",
    "birthday": "birthday",
    "country": "country",
    "city": "city",
    "address_line1": "street",
    "postal_code": "zipCode",
    "gender": "gender",
    "user_type": "userType",
    "merchant_type": "merchantType",
    "password": "password2",
}


@strawberry.type
class Register:
    success: bool
    errors: ExpectedErrorType | None = None
    token: str | None = None
    refresh_token: str | None = None


@strawberry.type
class ObtainJSONWebToken:
    token: str | None = None
    refresh_token: str | None = None
    success: bool = False
    errors: ExpectedErrorType | None = None


@strawberry.type
class RefreshToken:
    token: str | None = None
    payload: GenericScalar | None = None
    refresh_token: str | None = None
    success: bool = False
    errors: ExpectedErrorType | None = None


@strawberry.type
class VerifyToken:
    payload: GenericScalar | None = None
    success: bool = False
    errors: ExpectedErrorType | None = None


@strawberry.type
class RevokeToken:
    revoked: int | None = strawberry.field(default=None, description="When, in Unix time.")
    success: bool = False
    errors: ExpectedErrorType | None = None


def _errors(error: DomainError) -> ExpectedErrorType:
    return ExpectedErrorType(expected_errors(error))


def register(
    info: Context,
    email: str,
    password1: str,
    password2: str,
    firstname: str,
    lastname: str,
    user_type: str,
    merchant_type: str | None = None,
    phone_number: str | None = None,
    birthday: str | None = None,
    country: str | None = None,
    city: str | None = None,
    street: str | None = None,
    zip_code: str | None = None,
    gender: str | None = None,
) -> Register:
    """Sign a consumer up and log it in (a MERCHANT user needs a merchant's admin token)."""
    context = info.context
    context.close()  # the signup is its own transaction
    registration = Registration(
        email=email,
        password=password1,
        password_confirmation=password2,
        first_name=firstname,
        last_name=lastname,
        user_type=user_type,
        merchant_type=merchant_type,
        phone=phone_number,
        birthday=birthday,
        country=country,
        city=city,
        street=street,
        postal_code=zip_code,
        gender=gender,
    )
    try:
        session = consumers.register(
            context.db,
            context.policy,
            context.account_id,
            registration,
            caller=context.caller_principal(),
            field_names=REGISTER_FIELDS,
        )
    except DomainError as error:
        return Register(success=False, errors=_errors(error))
    return Register(success=True, token=session.access_token, refresh_token=session.refresh_token)


def obtain_token(info: Context, email: str, password: str) -> ObtainJSONWebToken:
    """Log in: an access token (JWT) and a refresh token."""
    context = info.context
    context.close()
    try:
        session = consumers.obtain_token(
            context.db,
            context.policy,
            context.account_id,
            email,
            password,
            client_address=context.client_address,
        )
    except DomainError as error:
        return ObtainJSONWebToken(success=False, errors=_errors(error))
    return ObtainJSONWebToken(
        token=session.access_token, refresh_token=session.refresh_token, success=True
    )


def refresh_token(info: Context, refresh_token: str) -> RefreshToken:
    """A new access token and a new refresh token; the one given is used up."""
    context = info.context
    context.close()
    try:
        session = consumers.refresh_session(
            context.db, context.policy, refresh_token, account_id=context.account_id
        )
    except DomainError as error:
        return RefreshToken(success=False, errors=_errors(error))
    return RefreshToken(
        token=session.access_token,
        payload=GenericScalar(session.claims.payload()),
        refresh_token=session.refresh_token,
        success=True,
    )


def verify_token(info: Context, token: str) -> VerifyToken:
    """Whether an access token is valid now, and what it says."""
    context = info.context
    try:
        claims = consumers.verify_access_token(
            context.db, context.policy, token, account_id=context.account_id
        )
    except DomainError as error:
        return VerifyToken(success=False, errors=_errors(error))
    return VerifyToken(payload=GenericScalar(claims.payload()), success=True)


def revoke_token(info: Context, refresh_token: str) -> RevokeToken:
    """Log out: the refresh token, and every one renewed from the same login, stop working."""
    context = info.context
    context.close()
    try:
        consumers.revoke_refresh_token(context.db, refresh_token, account_id=context.account_id)
    except DomainError as error:
        return RevokeToken(success=False, errors=_errors(error))
    return RevokeToken(revoked=int(utcnow().timestamp()), success=True)
