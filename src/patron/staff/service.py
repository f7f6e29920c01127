"""Staff users and their console sessions: the one front door of ``patron.staff``.

A staff user acts as a ``Principal`` of their account whose scope is their role's
(viewer: read, agent: write, admin: admin) and whose actor is ``staff:<id>``: every command
they make goes through the same services as the API and is audited with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core import throttle
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import record_audit
from patron.core.unit import run_command
from patron.customers import validation
from patron.customers.consumers import passwords
from patron.staff import repository
from patron.staff.models import (
    ROLES,
    CreatedStaff,
    Login,
    Role,
    SessionPolicy,
    StaffSession,
    StaffUser,
)

CREDENTIALS_MESSAGE = "The email or the password is not right."
_SESSION_BYTES = 32
_MIN_PASSWORD = 10


class StaffEmailTaken(Conflict):
    code = "EMAIL_TAKEN"


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def parse_role(value: str) -> Role:
    text = value.strip().lower()
    if text not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    return Role(text)


def _clean_email(value: str) -> tuple[str, str]:
    text = validation.email(value)
    return text, validation.normalised_email(text)


def _one_time_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str, email: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise InvalidInput(
            f"a staff password must have at least {_MIN_PASSWORD} characters",
            field="password",
            code="PASSWORD_TOO_SHORT",
        )
    passwords.check_strength(password, personal=(email,), field="password")


# Staff users


def _insert(
    connection: Connection, account_id: str, email: str, role: Role, actor: str | None
) -> CreatedStaff:
    text, normalized = _clean_email(email)
    if repository.email_taken(connection, normalized):
        raise StaffEmailTaken("a staff user with this email exists already", field="email")
    password = _one_time_password()
    now = utcnow()
    staff = StaffUser(
        staff_id=str(uuid.uuid4()),
        account_uuid=account_id,
        email=text,
        role=role,
        password_temporary=True,
        created_at=now,
        disabled_at=None,
        last_login_at=None,
    )
    repository.insert_staff(
        connection,
        {
            "account_id": account_id,
            "staff_id": staff.staff_id,
            "email": text,
            "email_normalized": normalized,
            "role": role.value,
            "password_hash": passwords.hash_password(password),
            "password_temporary": True,
            "created_at": now,
        },
    )
    record_audit(
        connection,
        account_id,
        action="staff.created",
        subject_type="staff",
        subject_uuid=staff.staff_id,
        actor=actor,
        details={"role": role.value},
    )
    return CreatedStaff(staff=staff, password=password)


def create_staff(db: Database, *, account_uuid: str, email: str, role: str) -> CreatedStaff:
    """An operator's command: a staff user with a one-time password, shown only here."""
    wanted = parse_role(role)

    def write(connection: Connection) -> CreatedStaff:
        if accounts.principal_of_account(connection, account_uuid, scope="read") is None:
            raise NotFound(f"no account with uuid '{account_uuid}'", field="account")
        return _insert(connection, account_uuid, email, wanted, None)

    return run_command(db, write)


def add_staff(db: Database, principal: Principal, *, email: str, role: str) -> CreatedStaff:
    """An admin of the account adds a colleague."""
    principal.require("admin")
    wanted = parse_role(role)
    return run_command(
        db,
        lambda connection: _insert(
            connection, principal.account_id, email, wanted, principal.actor
        ),
    )


def list_staff(db: Database, *, account_uuid: str | None = None) -> list[StaffUser]:
    with db.read() as connection:
        return repository.list_staff(connection, account_uuid)


def staff_of_account(connection: Connection, principal: Principal) -> list[StaffUser]:
    principal.require("admin")
    return repository.list_staff(connection, principal.account_id)


def _disable(
    connection: Connection, account_id: str, staff_id: str, actor: str | None
) -> StaffUser:
    now = utcnow()
    if repository.get_staff(connection, account_id, staff_id) is None:
        raise NotFound(f"no staff user with id '{staff_id}'", field="staff")
    repository.disable_staff(connection, account_id, staff_id, now)
    ended = repository.revoke_sessions_of(connection, account_id, staff_id, now)
    record_audit(
        connection,
        account_id,
        action="staff.disabled",
        subject_type="staff",
        subject_uuid=staff_id,
        actor=actor,
        details={"sessions_ended": ended},
    )
    row = repository.get_staff(connection, account_id, staff_id)
    return repository.staff_from_row(row)


def disable_staff(db: Database, staff_id: str) -> StaffUser:
    """An operator's command: the staff user can no longer log in; their sessions end now."""

    def write(connection: Connection) -> StaffUser:
        row = repository.find_staff_anywhere(connection, staff_id) if _is_uuid(staff_id) else None
        if row is None:
            raise NotFound(f"no staff user with id '{staff_id}'", field="staff")
        return _disable(connection, row.account_id, staff_id, None)

    return run_command(db, write)


def disable_colleague(db: Database, principal: Principal, staff_id: str) -> StaffUser:
    principal.require("admin")
    if principal.staff_id == staff_id:
        raise InvalidInput("you cannot disable yourself", field="staff")
    if not _is_uuid(staff_id):
        raise NotFound(f"no staff user with id '{staff_id}'", field="staff")
    return run_command(
        db, lambda connection: _disable(connection, principal.account_id, staff_id, principal.actor)
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


# Logging in and out


def log_in(
    db: Database,
    email: str,
    password: str,
    *,
    client_address: str | None = None,
    policy: SessionPolicy | None = None,
) -> Login:
    """A session for the right email and password of an active staff user. Wrong credentials
    get one answer whether the email exists or not; repeated failures block the email and the
    client address a while (the consumer login's rules)."""
    policy = policy or SessionPolicy()
    wanted = validation.normalised_email(email)[:254]
    if any(ord(char) < 32 for char in wanted):
        wanted = ""
    subjects = throttle.subjects(wanted, client_address)
    now = utcnow()
    with db.read() as connection:
        until = repository.blocked_until(connection, subjects, now)
        found = repository.staff_by_email(connection, wanted) if wanted else None
    throttle.refuse_if_blocked(until, now)
    matches = passwords.verify_password(found.password_hash if found else None, password)
    if found is None or not matches or found.disabled_at is not None:

        def fail(connection: Connection) -> None:
            for subject in subjects:
                repository.record_failure(connection, subject, throttle.rule_for(subject), now)

        run_command(db, fail)
        raise throttle.InvalidCredentials(CREDENTIALS_MESSAGE)
    session_id = secrets.token_urlsafe(_SESSION_BYTES)

    def succeed(connection: Connection) -> Login:
        moment = utcnow()
        row = repository.get_staff(connection, found.account_id, found.staff_id)
        if row is None or row.disabled_at is not None:
            raise throttle.InvalidCredentials(CREDENTIALS_MESSAGE)
        repository.clear_failures(connection, subjects[0])
        repository.record_login(connection, found.account_id, found.staff_id, moment)
        repository.delete_sessions_ended_before(connection, moment)
        repository.insert_session(
            connection,
            {
                "session_hash": hash_session(session_id),
                "account_id": found.account_id,
                "staff_id": found.staff_id,
                "created_at": moment,
                "last_seen_at": moment,
                "expires_at": moment + policy.absolute,
            },
        )
        return Login(session_id=session_id, staff=repository.staff_from_row(row))

    return run_command(db, succeed)


def resume(
    db: Database, session_id: str, policy: SessionPolicy | None = None
) -> StaffSession | None:
    """The open session behind a presented session id, or None: unknown, logged out, idle too
    long, past its absolute end, or its staff user disabled. One read; a write at most once
    per ``policy.touch_every``."""
    policy = policy or SessionPolicy()
    if not session_id or len(session_id) > 100:
        return None
    session_hash = hash_session(session_id)
    now = utcnow()
    with db.read() as connection:
        row = repository.session_with_staff(connection, session_hash)
        if row is None or row.revoked_at is not None or row.disabled_at is not None:
            return None
        last_seen = as_utc(row.last_seen_at)
        expires_at = as_utc(row.expires_at)
        if now >= expires_at or now - last_seen >= policy.idle:
            return None
        staff = repository.staff_from_row(row)
        principal = accounts.principal_of_account(
            connection, staff.account_uuid, scope=staff.role.scope
        )
    if principal is None:
        return None
    if now - last_seen >= policy.touch_every:
        with db.write() as writer:
            repository.touch_session(writer, session_hash, now)
    return StaffSession(
        session_hash=session_hash,
        staff=staff,
        principal=dataclasses.replace(principal, staff_id=staff.staff_id),
        expires_at=expires_at,
    )


def log_out(db: Database, session_id: str) -> None:
    if not session_id or len(session_id) > 100:
        return
    with db.write() as connection:
        repository.revoke_session(connection, hash_session(session_id), utcnow())


def change_password(db: Database, session: StaffSession, current: str, new: str) -> None:
    """The staff user replaces their password (the one-time one at first login)."""
    staff = session.staff
    _check_password(new, staff.email)
    with db.read() as connection:
        row = repository.get_staff(connection, staff.account_uuid, staff.staff_id)
    if row is None or not passwords.verify_password(row.password_hash, current):
        raise InvalidInput("the current password is not right", field="current_password")
    if current == new:
        raise InvalidInput("choose a password other than the current one", field="password")
    hashed = passwords.hash_password(new)

    def write(connection: Connection) -> None:
        repository.set_password(
            connection, staff.account_uuid, staff.staff_id, hashed, temporary=False
        )
        record_audit(
            connection,
            staff.account_uuid,
            action="staff.password_changed",
            subject_type="staff",
            subject_uuid=staff.staff_id,
            actor=session.principal.actor,
        )

    run_command(db, write)
