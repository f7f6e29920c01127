"""The shortcuts of the customer field rules answer exactly as the libraries behind them."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from patron.core.errors import InvalidInput
from patron.customers import validation

PIECES = ["a", "Z", "9", ".", "-", "_", "+", "..", "--", "xn--", "@", "é", "'", " ", "!", "#"]
TLDS = [
    "com",
    "co",
    "c",
    "test",
    "local",
    "LOCALHOST",
    "onion",
    "arpa",
    "invalid",
    "123",
    "c0m",
    "xn--p1ai",
    "museum",
    "a" * 64,
    "a" * 63,
    "io",
]


def _library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _addresses(count: int) -> list[str]:
    chance = random.Random(20261204)
    found = []
    for _ in range(count):
        local = "".join(chance.choice(PIECES) for _ in range(chance.randint(1, 6)))
        labels = [
            "".join(
                chance.choice(["a", "b", "-", "1", "--", "é", "_"])
                for _ in range(chance.randint(1, 5))
            )
            for _ in range(chance.randint(0, 3))
        ]
        found.append(f"{local}@{'.'.join([*labels, chance.choice(TLDS)])}")
    return [
        *found,
        "a" * 64 + "@example.com",
        "a" * 65 + "@example.com",
        "x@" + "a" * 63 + ".com",
        "x@" + "a" * 64 + ".com",
        "a@b.test",
        "a@b.co",
    ]


@pytest.mark.parametrize("address", _addresses(3000))
def test_the_plain_email_shortcut_accepts_only_what_email_validator_accepts(address: str) -> None:
    if validation.is_plain_email(address):
        assert _library_accepts(address)


def test_the_shortcut_takes_ordinary_addresses() -> None:
    assert validation.is_plain_email("jane.doe+news@mail.example.co.uk")
    assert not validation.is_plain_email("jane@example.test")


def _phone_error(number: str) -> str | None:
    try:
        validation.phone(number)
    except InvalidInput as error:
        return error.message
    return None


def _library_phone_error(number: str) -> str | None:
    if not validation._E164.match(number):
        return "form"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "unknown"
    if phonenumbers.region_code_for_country_code(parsed.country_code) == "ZZ":
        return "unknown"
    return None


def test_phone_answers_per_prefix_as_phonenumbers_does_for_every_length() -> None:
    chance = random.Random(7)
    for prefix in range(1, 1000):
        for length in range(7, 16):
            digits = str(prefix) + "".join(chance.choice("0123456789") for _ in range(20))
            number = "+" + digits[:length]
            ours, theirs = _phone_error(number), _library_phone_error(number)
            assert (ours is None) == (theirs is None), number
