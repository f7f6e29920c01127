"""What the contact person commands refuse, as typed domain errors."""

from __future__ import annotations

from patron.core.errors import NotFound


class ContactPersonNotFound(NotFound):
    code = "CONTACT_PERSON_NOT_FOUND"

    def __init__(self, ids: list[int], *, field: str = "id") -> None:
        listed = ", ".join(str(value) for value in ids)
        noun = "contact person" if len(ids) == 1 else "contact persons"
        super().__init__(f"{noun} {listed} does not exist", field=field)
        self.ids = ids


class CustomerNotFound(NotFound):
    code = "CUSTOMER_NOT_FOUND"

    def __init__(self, number: int, *, field: str = "customer") -> None:
        super().__init__(f"customer {number} does not exist", field=field)
        self.number = number
