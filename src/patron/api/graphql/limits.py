"""The extensions every GraphQL surface runs: parse and validation caches, and the limits."""

from __future__ import annotations

from collections.abc import Callable

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


def standard_extensions(
    settings: Settings, cache_size: int = 512
) -> list[Callable[[], SchemaExtension]]:
    # The limiters' rule classes are made once: the validation cache is keyed by them, and a
    # limiter made per request would make a new class, and a cache miss, every time.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    return [
        lambda: ParserCache(maxsize=cache_size),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
    ]
