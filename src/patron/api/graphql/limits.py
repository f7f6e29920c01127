"""The extensions every GraphQL surface runs: parse and validation caches, and the limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import ArgumentNode, GraphQLError, ObjectFieldNode, StringValueNode, ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from patron.core.settings import Settings
from patron.core.text import NUL, NUL_MESSAGE


class NoNulInStrings(ValidationRule):
    """A string literal of the document holds no NUL: variables are checked with the body."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        if NUL not in node.value:
            return
        named = [
            item.name.value
            for item in [*ancestors, parent]
            if isinstance(item, ArgumentNode | ObjectFieldNode)
        ]
        where = ".".join(named) or "a string"
        self.report_error(GraphQLError(f"{where} {NUL_MESSAGE}", node))


def standard_extensions(
    settings: Settings, cache_size: int = 512
) -> list[Callable[[], SchemaExtension]]:
    # The limiters' rule classes are made once: the validation cache is keyed by them, and a
    # limiter made per request would make a new class, and a cache miss, every time.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        NoNulInStrings,
    ]
    return [
        lambda: ParserCache(maxsize=cache_size),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
    ]
