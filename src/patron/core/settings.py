"""Settings are data: read once from the environment (``PATRON_*``) and validated at start."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from patron.core.db import StoreUrlError, normalise_url

DEFAULT_DATABASE_URL = "sqlite:///./patron.db"
# Values copied from examples and tutorials: as good as no secret at all.
_PLACEHOLDER_SECRETS = frozenset({"", "secret", "changeme", "change-me", "jwt-secret", "patron"})
MIN_JWT_SECRET_LENGTH = 32
MIN_SECRET_KEY_LENGTH = 32
ENVIRONMENTS = ("development", "production")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATRON_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    environment: str = "development"
    # The GraphiQL page on GET /graphql: on in development, off in production unless set.
    graphiql: bool | None = None
    # One log line per request (method, path, status, duration, request id); `make run` sets it.
    access_log: bool = False
    # Log lines as JSON objects or text; unset: JSON in production, text in development.
    log_format: str | None = None
    # /metrics (Prometheus) on its own port, off unless set; on loopback unless told otherwise,
    # so that it is never public by accident. ``patron worker`` serves its own on
    # PATRON_WORKER_METRICS_PORT.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # GraphQL operation names counted under their own name (comma-separated), beside those of
    # the documented API; any other name is counted as ``other``.
    metrics_operations: str = ""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=5_000, ge=100)
    max_aliases: int = Field(default=50, ge=1)
    # Native read queries inside the hot subset (account, contacts, wallets, entries) are
    # answered from a compiled plan rather than field by field; off: always field by field.
    fast_reads: bool = True
    # Mutations the full pipeline has passed before are run from a compiled plan (the same
    # resolver, without the executor's per-request machinery); off: always the full pipeline.
    fast_writes: bool = True
    # A known read whose token was looked up in the last second is answered on the event
    # loop, without a hand-off to a worker thread; off: every request goes to a thread.
    reads_on_event_loop: bool = True
    # A known mutation on PostgreSQL runs on the event loop too, its command waiting there
    # for the worker's next group commit; off (and always on SQLite): on a worker thread.
    writes_on_event_loop: bool = True
    pool_size: int = Field(default=10, ge=1, le=200)
    # Server-side prepared statements (psycopg prepares a statement run 5 times on one
    # connection). Off behind a pooler in transaction mode (PgBouncer before 1.21, or
    # without max_prepared_statements): the next transaction may run on another server
    # connection, which never saw the statement.
    database_prepared_statements: bool = True
    # Requests one worker process runs at once. Each holds a transaction while it runs, and
    # Python threads share one interpreter lock: a few keep the store busy, many only make
    # every transaction (and the row locks it holds) last longer.
    threads: int = Field(default=6, ge=1, le=200)
    # Group commit: concurrent write commands of one worker process are written as one
    # transaction (a savepoint each) with one COMMIT, this many at most; 1 turns it off.
    group_commit: int = Field(default=64, ge=1, le=1000)
    # Batches (or lone commands) one worker process writes at once, each on its own
    # connection; commands arriving while all are busy wait to form the next batch.
    group_commit_lanes: int = Field(default=1, ge=1, le=64)
    token_touch_seconds: int = Field(default=60, ge=0)
    # How long a worker answers a fast read with the principal of a token it looked up
    # before: a revoked token or a changed account is seen at most this late by reads
    # (writes always look their token up). 0: every request looks its token up.
    principal_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    rate_limit_per_minute: int = Field(default=0, ge=0)
    # Signs consumer access tokens (the loyaltydish dialect). Left unset in development, each
    # account gets a random key generated once and kept in its database.
    jwt_secret: SecretStr | None = Field(default=None, validate_default=True)
    jwt_access_seconds: int = Field(default=300, ge=30, le=86_400)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # The outbox worker and webhooks. Private and loopback targets are refused unless allowed
    # (tests and a receiver on the same network do); plain http only in development.
    webhook_allow_private_addresses: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    outbox_max_attempts: int = Field(default=10, ge=1, le=100)
    outbox_retry_base_seconds: float = Field(default=5.0, ge=0)
    outbox_concurrency: int = Field(default=8, ge=1, le=256)
    # Seals the connectors' credentials (Shopify token, Klaviyo key) in the database.
    secret_key: SecretStr | None = None
    # The worker reads Shopify store credit again for wallets not read for this long (0: never).
    shopify_refresh_seconds: float = Field(default=3600.0, ge=0)
    shopify_refresh_batch: int = Field(default=100, ge=1, le=10_000)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def sealing_key(self) -> str | None:
        return self.secret_key.get_secret_value() if self.secret_key is not None else None

    @property
    def log_format_used(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "text"

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str | None) -> str | None:
        if value is not None and value not in ("json", "text"):
            raise ValueError("must be json or text")
        return value

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"must be {' or '.join(ENVIRONMENTS)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql://")
        try:
            make_url(normalise_url(value))
        except StoreUrlError as error:
            raise ValueError(f"is not a URL a store can be opened with: {error}") from None
        except (ArgumentError, ValueError):
            raise ValueError("is not a URL a store can be opened with") from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_jwt_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Outside development a real secret is required; a weak one is refused everywhere."""
        environment = info.data.get("environment", "development")
        if value is None and environment == "development":
            return value
        secret = value.get_secret_value() if value is not None else ""
        if secret.strip().lower() in _PLACEHOLDER_SECRETS or len(secret) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"PATRON_JWT_SECRET must be a random value of at least {MIN_JWT_SECRET_LENGTH} "
                f"characters (PATRON_ENVIRONMENT is '{environment}'); generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _problems(error: ValidationError) -> list[str]:
    """One line per problem, naming the variable and what it needs (never the value given:
    it may be a secret)."""
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        message = str(detail["msg"]).removeprefix("Value error, ")
        location = detail["loc"]
        if not location or message.startswith("PATRON_"):  # it names its variables itself
            problems.append(message)
            continue
        variable = f"PATRON_{str(location[0]).upper()}"
        problems.append(f"{variable}: {message[:1].lower()}{message[1:]}")
    return problems


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) taking precedence.

    Invalid settings raise ``SettingsError``, one line per problem.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_problems(error)) from None
