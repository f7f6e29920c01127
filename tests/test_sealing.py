"""Connector credentials sealed with the operator's key: opened only with that key."""

from __future__ import annotations

import pytest

from patron.core.sealing import CannotUnseal, is_sealed, seal, unseal

KEY = "a-long-random-operator-secret-0123456789"


def test_a_sealed_value_opens_with_its_key_and_hides_the_secret() -> None:
    sealed = seal("shpat_secret", KEY)

    assert is_sealed(sealed)
    assert "shpat_secret" not in sealed
    assert unseal(sealed, KEY) == "shpat_secret"
    assert seal("shpat_secret", KEY) != sealed  # a fresh IV every time


def test_without_a_key_values_are_kept_and_read_as_given() -> None:
    assert seal("shpat_plain", None) == "shpat_plain"
    assert unseal("shpat_plain", None) == "shpat_plain"
    assert unseal("shpat_plain", KEY) == "shpat_plain"  # stored before a key was set


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "a stored secret is sealed, and PATRON_SECRET_KEY is not set"),
        (KEY + "x", "a stored secret was sealed with another PATRON_SECRET_KEY than this one"),
    ],
)
def test_a_sealed_value_refuses_a_missing_or_other_key(key: str | None, message: str) -> None:
    with pytest.raises(CannotUnseal) as refused:
        unseal(seal("shpat_secret", KEY), key)

    assert refused.value.message == message


def test_a_tampered_sealed_value_is_refused() -> None:
    sealed = seal("shpat_secret", KEY)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    with pytest.raises(CannotUnseal):
        unseal(tampered, KEY)
