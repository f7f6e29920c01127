"""The profile fields of a customer and the rule each one follows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from patron.core.errors import DomainError, InvalidInput, ValidationErrors
from patron.customers import validation


def _text(max_length: int) -> Callable[[Any, str], Any]:
    def check(value: Any, field: str) -> Any:
        if not isinstance(value, str):
            raise InvalidInput(f"{field} must be a string", field=field)
        return validation.text(value, field=field, max_length=max_length) or None

    return check


def _email(value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    return validation.email(value, field=field)


def _phone(value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    return validation.phone(value, field=field)


def _bool(value: Any, field: str) -> Any:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def _birthday(value: Any, field: str) -> Any:
    if not isinstance(value, date):
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field)
    return validation.birthday(value, field=field)


def _gender(value: Any, field: str) -> Any:
    return validation.choice(str(value), validation.GENDERS, field=field)


def _user_type(value: Any, field: str) -> Any:
    return validation.choice(str(value), validation.USER_TYPES, field=field)


def _country(value: Any, field: str) -> Any:
    return validation.country(str(value), field=field)


def _extra(value: Any, field: str) -> Any:
    return validation.extra_info(value, field=field)


def _picture(value: Any, field: str) -> Any:
    checked = _text(2000)(value, field)
    if checked and not checked.startswith(("https://", "http://")):
        raise InvalidInput(f"{field} must be an http(s) URL", field=field)
    return checked


# core name -> (API field name used in messages, rule)
PROFILE_FIELDS: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "name": ("name", _text(200)),
    "first_name": ("firstName", _text(100)),
    "last_name": ("lastName", _text(100)),
    "email": ("email", _email),
    "secondary_email": ("secondaryEmail", _email),
    "phone": ("phone", _phone),
    "birthday": ("birthday", _birthday),
    "gender": ("gender", _gender),
    "address_line1": ("addressLine1", _text(200)),
    "address_line2": ("addressLine2", _text(200)),
    "city": ("city", _text(100)),
    "region": ("region", _text(100)),
    "postal_code": ("postalCode", _text(20)),
    "country": ("country", _country),
    "loyalty_id": ("loyaltyId", _text(100)),
    "picture": ("picture", _picture),
    "extra_info": ("extraInfo", _extra),
    "source": ("source", _text(100)),
    "source_id": ("sourceId", _text(200)),
    "notes": ("notes", _text(2000)),
    "accepts_marketing": ("acceptsMarketing", _bool),
    "verified": ("verified", _bool),
    "archived": ("archived", _bool),
    "user_type": ("userType", _user_type),
}

_NOT_NULL = {"accepts_marketing", "verified", "archived", "user_type"}


def clean_profile(
    values: dict[str, Any], *, field_names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Validate every given field; all failures are reported together."""
    cleaned: dict[str, Any] = {}
    errors: list[DomainError] = []
    for key, value in values.items():
        if key not in PROFILE_FIELDS:
            raise InvalidInput(f"unknown customer field '{key}'", field=key)
        api_name, rule = PROFILE_FIELDS[key]
        if field_names and key in field_names:
            api_name = field_names[key]
        if value is None:
            if key in _NOT_NULL:
                errors.append(InvalidInput(f"{api_name} must not be null", field=api_name))
            else:
                cleaned[key] = None
            continue
        try:
            cleaned[key] = rule(value, api_name)
        except DomainError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ValidationErrors(errors)
    if "birthday" in cleaned:
        cleaned["birthday_month"] = cleaned["birthday"].month if cleaned["birthday"] else None
    if "email" in cleaned:
        cleaned["email_normalized"] = (
            validation.normalised_email(cleaned["email"]) if cleaned["email"] else None
        )
    return cleaned
