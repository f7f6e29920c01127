"""Staff users of an account, their console sessions, and failed staff logins."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
)

from patron.core.db import metadata

# One person of the merchant with a role in the console. The email logs in, so it is unique
# in the store: the login page is asked for an email and a password, not for an account.
staff_users = Table(
    "staff_users",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id"), primary_key=True),
    Column("staff_id", String(36), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("email_normalized", String(254), nullable=False),
    Column("role", String(10), nullable=False),
    Column("password_hash", String(200), nullable=False),
    # A password printed by `patron staff create` or set by an admin: changed at first login.
    Column("password_temporary", Boolean, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("role IN ('viewer', 'agent', 'admin')", name="role"),
    Index("ix_staff_users_email_normalized", "email_normalized", unique=True),
)

# A console login. Only the SHA-256 of the session id (the cookie) is stored, so a copy of
# the table opens no session. Ended by logout, by disabling the staff user, by ``idle`` or
# by ``expires_at`` (absolute), whichever comes first.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("staff_id", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    ForeignKeyConstraint(
        ["account_id", "staff_id"],
        ["staff_users.account_id", "staff_users.staff_id"],
        ondelete="CASCADE",
    ),
    Index("ix_staff_sessions_account_id_staff_id", "account_id", "staff_id"),
)

# Failed staff logins per subject ("email:<sha256>" or "address:<client address>").
staff_login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("subject", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("blocked_until", DateTime(timezone=True), nullable=True),
    CheckConstraint("failures >= 0", name="failures"),
)
