"""Redemption code text: unguessable, easy to read aloud and type."""

from __future__ import annotations

import re
import secrets

# No look-alikes: no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 16  # 25**16 ≈ 2**74 possibilities
_GROUP = 4
_CLEAN = re.compile(r"[\s-]")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str:
    """What a customer typed, in stored form: upper case, no spaces or dashes."""
    return _CLEAN.sub("", text).upper()


def well_formed(code: str) -> bool:
    """Whether a normalised code could exist; anything else is simply not found."""
    return len(code) == LENGTH and all(char in ALPHABET for char in code)


def display(code: str) -> str:
    return "-".join(code[i : i + _GROUP] for i in range(0, len(code), _GROUP))
