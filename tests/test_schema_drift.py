"""The committed SDL under schema/ is the schema the server serves."""

from __future__ import annotations

import difflib
from pathlib import Path

from patron.api.app import printed_schema

COMMITTED = Path(__file__).resolve().parents[1] / "schema" / "native.graphql"


def test_the_committed_native_schema_matches_the_code() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")

    printed = printed_schema()

    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            printed.splitlines(keepends=True),
            fromfile="schema/native.graphql (committed)",
            tofile="printed by the code",
        )
    )
    assert printed == committed, (
        "The native GraphQL schema drifted from schema/native.graphql. If the change is "
        "intended, run `make schema` and commit the file.\n" + diff
    )


def test_the_committed_schema_has_every_seed_000_operation_root() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")

    for line in (
        "  account: Account!",
        "  createContact(contact: ContactInput!): CreateContactResponse!",
        "  deleteContact(uuid: String!): ContactOperationResponse!",
    ):
        assert line + "\n" in committed, line
