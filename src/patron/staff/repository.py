"""SQL for staff users, sessions and login failures. Everything is scoped by the account,
except the two lookups made before it is known: a login's email, a presented session's hash."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from patron.core.clock import as_utc
from patron.core.throttle import Rule, failures_of
from patron.staff.models import Role, StaffUser
from patron.staff.tables import staff_login_failures, staff_sessions, staff_users

_u = staff_users.c
_s = staff_sessions.c
_f = staff_login_failures.c


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def staff_from_row(row: Any) -> StaffUser:
    return StaffUser(
        staff_id=row.staff_id,
        account_uuid=row.account_id,
        email=row.email,
        role=Role(row.role),
        password_temporary=bool(row.password_temporary),
        created_at=as_utc(row.created_at),
        disabled_at=_utc(row.disabled_at),
        last_login_at=_utc(row.last_login_at),
    )


# Staff users


def insert_staff(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(staff_users).values(**values))


def email_taken(connection: Connection, email_normalized: str) -> bool:
    found = connection.execute(
        select(_u.staff_id).where(_u.email_normalized == email_normalized)
    ).first()
    return found is not None


def staff_by_email(connection: Connection, email_normalized: str) -> Any | None:
    """The staff row (password hash included) with this email, in whichever account."""
    return connection.execute(
        select(staff_users).where(_u.email_normalized == email_normalized)
    ).first()


def get_staff(connection: Connection, account_id: str, staff_id: str) -> Any | None:
    return connection.execute(
        select(staff_users).where(_u.account_id == account_id, _u.staff_id == staff_id)
    ).first()


def list_staff(connection: Connection, account_id: str | None) -> list[StaffUser]:
    query = select(staff_users).order_by(_u.created_at, _u.email_normalized)
    if account_id is not None:
        query = query.where(_u.account_id == account_id)
    return [staff_from_row(row) for row in connection.execute(query)]


def find_staff_anywhere(connection: Connection, staff_id: str) -> Any | None:
    """For the operator's command line, which names a staff user by id alone."""
    return connection.execute(select(staff_users).where(_u.staff_id == staff_id)).first()


def disable_staff(connection: Connection, account_id: str, staff_id: str, now: datetime) -> bool:
    changed = connection.execute(
        update(staff_users)
        .where(_u.account_id == account_id, _u.staff_id == staff_id, _u.disabled_at.is_(None))
        .values(disabled_at=now)
    ).rowcount
    return bool(changed)


def set_password(
    connection: Connection,
    account_id: str,
    staff_id: str,
    password_hash: str,
    *,
    temporary: bool,
) -> None:
    connection.execute(
        update(staff_users)
        .where(_u.account_id == account_id, _u.staff_id == staff_id)
        .values(password_hash=password_hash, password_temporary=temporary)
    )


def record_login(connection: Connection, account_id: str, staff_id: str, now: datetime) -> None:
    connection.execute(
        update(staff_users)
        .where(_u.account_id == account_id, _u.staff_id == staff_id)
        .values(last_login_at=now)
    )


# Sessions


def insert_session(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(staff_sessions).values(**values))


def session_with_staff(connection: Connection, session_hash: str) -> Any | None:
    """The session row and its staff user's row, in one statement."""
    return connection.execute(
        select(
            _s.session_hash,
            _s.last_seen_at,
            _s.expires_at,
            _s.revoked_at,
            *[column for column in staff_users.c if column.name != "password_hash"],
        )
        .join(staff_users, (_u.account_id == _s.account_id) & (_u.staff_id == _s.staff_id))
        .where(_s.session_hash == session_hash)
    ).first()


def touch_session(connection: Connection, session_hash: str, now: datetime) -> None:
    connection.execute(
        update(staff_sessions)
        .where(_s.session_hash == session_hash, _s.revoked_at.is_(None))
        .values(last_seen_at=now)
    )


def revoke_session(connection: Connection, session_hash: str, now: datetime) -> None:
    connection.execute(
        update(staff_sessions)
        .where(_s.session_hash == session_hash, _s.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_sessions_of(
    connection: Connection, account_id: str, staff_id: str, now: datetime
) -> int:
    return int(
        connection.execute(
            update(staff_sessions)
            .where(_s.account_id == account_id, _s.staff_id == staff_id, _s.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    )


def delete_sessions_ended_before(connection: Connection, before: datetime) -> None:
    connection.execute(delete(staff_sessions).where(_s.expires_at < before))


# Login failures


def blocked_until(
    connection: Connection, subjects: Sequence[str], now: datetime
) -> datetime | None:
    until = connection.execute(
        select(func.max(_f.blocked_until)).where(
            _f.subject.in_(list(subjects)), _f.blocked_until > now
        )
    ).scalar_one_or_none()
    return _utc(until)


def record_failure(connection: Connection, subject: str, rule: Rule, now: datetime) -> None:
    """Count one more failed login against ``subject`` (its row locked while it is read)."""
    row = connection.execute(
        select(staff_login_failures).where(_f.subject == subject).with_for_update()
    ).first()
    after = dataclasses.asdict(rule.after_failure(failures_of(row), now))
    if row is None:
        connection.execute(insert(staff_login_failures).values(subject=subject, **after))
        return
    connection.execute(update(staff_login_failures).where(_f.subject == subject).values(**after))


def clear_failures(connection: Connection, subject: str) -> None:
    connection.execute(delete(staff_login_failures).where(_f.subject == subject))
