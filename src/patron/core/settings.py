"""Settings are data: read once from the environment (``PATRON_*``) and validated at start."""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./patron.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATRON_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    environment: str = "development"
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=5_000, ge=100)
    max_aliases: int = Field(default=50, ge=1)
    pool_size: int = Field(default=10, ge=1, le=200)
    token_touch_seconds: int = Field(default=60, ge=0)
    rate_limit_per_minute: int = Field(default=0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("PATRON_DATABASE_URL must start with sqlite:// or postgresql://")
        return value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) taking precedence."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
