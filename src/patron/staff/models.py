"""Staff values: roles, users, and an open console session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from patron.accounts.principal import Principal


class Role(StrEnum):
    """What a staff user may do in the console; each maps onto an API scope."""

    VIEWER = "viewer"  # reads
    AGENT = "agent"  # also adjusts balances, reverses entries, issues codes, edits profiles
    ADMIN = "admin"  # also tokens, webhooks, settings, staff

    @property
    def scope(self) -> str:
        return _SCOPES[self]

    def at_least(self, other: Role) -> bool:
        return _RANK[self] >= _RANK[other]


_SCOPES = {Role.VIEWER: "read", Role.AGENT: "write", Role.ADMIN: "admin"}
_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2}
ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class StaffUser:
    staff_id: str
    account_uuid: str
    email: str
    role: Role
    password_temporary: bool
    created_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class CreatedStaff:
    """A new staff user and the one-time password it logs in with first (shown only here)."""

    staff: StaffUser
    password: str


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a console session lasts: ``idle`` without a request, ``absolute`` in all."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    # A session's last_seen_at is written at most this often (a page view need not write).
    touch_every: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A presented session that is still open: who it is, and the principal they act as."""

    session_hash: str
    staff: StaffUser
    principal: Principal
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Login:
    """A session just opened: ``session_id`` goes into the cookie and is never stored."""

    session_id: str
    staff: StaffUser
