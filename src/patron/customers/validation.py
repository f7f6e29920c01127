"""Field rules for customers: each failure names the field and the rule."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from patron.core import ids
from patron.core.documents import check_document
from patron.core.errors import InvalidInput
from patron.customers.models import ConnectedService, Gender, UserType

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SHOPIFY_GID = re.compile(r"^gid://shopify/Customer/(\d{1,20})$")
_DIGITS = re.compile(r"^\d{1,20}$")

is_uuid = ids.is_uuid

SERVICES = tuple(service.value for service in ConnectedService)
GENDERS = tuple(gender.value for gender in Gender)
USER_TYPES = tuple(user_type.value for user_type in UserType)


# The plain addresses nearly every request carries, which email-validator accepts as they
# are (a property test checks that it does): atext words joined by single dots, at most 64
# characters before the @, LDH labels (no "--", so no IDNA "xn--") and a TLD of letters
# that is not a special-use name. Anything else is for the library to judge.
_PLAIN_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9]|-(?!-)){0,61}(?<!-)\.)+([A-Za-z]{2,63})\Z"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def is_plain_email(text: str) -> bool:
    """True when ``text`` is an address of the plain form email-validator accepts as is."""
    found = _PLAIN_EMAIL.match(text)
    return found is not None and found.group(1).lower() not in _SPECIAL_USE


def email(value: str, *, field: str = "email") -> str:
    text = value.strip()
    if len(text) > 254:
        raise InvalidInput(f"{field} must be at most 254 characters", field=field)
    if is_plain_email(text):
        return text
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput(f"{field} '{value}' is not a valid email address", field=field) from None
    return text


def normalised_email(value: str) -> str:
    return value.strip().lower()


# Whether an E.164 number's country code is known depends on its first three digits only
# (a code has 1 to 3 digits and the rest is 4 to 14, within what the library accepts): each
# prefix is asked of phonenumbers once.
_KNOWN_PREFIXES: dict[str, bool] = {}


def phone(value: str, *, field: str = "phone") -> str:
    text = value.strip().replace(" ", "")
    if not _E164.match(text):
        raise InvalidInput(
            f"{field} '{value}' must be in E.164 form: '+', country code and number, 8-16 chars",
            field=field,
        )
    known = _KNOWN_PREFIXES.get(text[1:4])
    if known is None:
        known = _country_code_known(text)
        if len(_KNOWN_PREFIXES) < 10_000:
            _KNOWN_PREFIXES[text[1:4]] = known
    if not known:
        raise InvalidInput(f"{field} '{value}' has an unknown country code", field=field)
    return text


def _country_code_known(text: str) -> bool:
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return parsed.country_code is not None and (
        phonenumbers.region_code_for_country_code(parsed.country_code) != "ZZ"
    )


def text(value: str, *, field: str, max_length: int, min_length: int = 0) -> str:
    stripped = value.strip()
    if not min_length <= len(stripped) <= max_length:
        raise InvalidInput(
            f"{field} must be {min_length} to {max_length} characters, got {len(stripped)}",
            field=field,
        )
    # A printable text has no control character (the common case, checked in C).
    if not stripped.isprintable() and any(
        ord(char) < 32 and char not in "\t\n" for char in stripped
    ):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return stripped


def choice(value: str, options: tuple[str, ...], *, field: str) -> str:
    upper = value.strip().upper()
    if upper not in options:
        raise InvalidInput(f"{field} must be one of {', '.join(options)}", field=field)
    return upper


def country(value: str, *, field: str = "country") -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise InvalidInput(f"{field} must be an ISO 3166 two-letter code", field=field)
    return code


# A day known to be past: a birthday up to it needs no look at the clock (an import checks
# one a row, and ``date.today()`` cost a tenth of reading its row).
_PAST_DAY = date.today()


def birthday(value: date, *, field: str = "birthday") -> date:
    if value.year < 1900 or (value > _PAST_DAY and value > date.today()):
        raise InvalidInput(f"{field} must be between 1900-01-01 and today", field=field)
    return value


def extra_info(value: Any, *, field: str = "extraInfo") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object", field=field)
    checked: dict[str, Any] = check_document(value, field=field, max_characters=10_000)
    return checked


def external_id(service: str, value: str, *, field: str | None = None) -> str:
    """The stored form of an external id; Shopify GIDs and bare numbers are the same id."""
    raw = value.strip()
    field = field or f"identities.{service.lower()}Id"
    if service == "SHOPIFY":
        match = _SHOPIFY_GID.match(raw)
        if match:
            return match.group(1)
        if _DIGITS.match(raw):
            return raw
        raise InvalidInput(
            f"{field} must be a Shopify customer GID (gid://shopify/Customer/123) or number",
            field=field,
        )
    if not 1 <= len(raw) <= 200:
        raise InvalidInput(f"{field} must be 1 to 200 characters", field=field)
    if any(ord(char) < 32 for char in raw):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return raw


def display_external_id(service: str, stored: str) -> str:
    if service == "SHOPIFY":
        return f"gid://shopify/Customer/{stored}"
    return stored
