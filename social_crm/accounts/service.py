"""Users and how they prove who they are: passwords, browser sessions, API tokens.

Passwords are kept as Argon2 hashes; session and API tokens are random and only their
SHA-256 is stored, so a copy of the database signs no one in. Failed sign-ins are counted
per name and per address: after ``MAX_FAILURES`` within ``FAILURE_WINDOW`` further
attempts are refused until the window has passed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from social_crm.accounts.enums import ROLE_PERMISSIONS, Permission, Role
from social_crm.accounts.models import ApiToken, LoginAttempt, User, WebSession
from social_crm.db.base import utcnow
from social_crm.errors import Conflict, InvalidInput, NotFound, TooManyAttempts

LOGGER = logging.getLogger(__name__)

HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name takes as long as a wrong password.
_UNKNOWN_USER_HASH = HASHER.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
ATTEMPTS_KEPT = timedelta(days=1)
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "scrm_"


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as lists show them."""

    name: str
    role: str
    created_at: datetime
    last_sign_in_at: datetime | None
    active_tokens: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the user, their role, and how they proved it."""

    name: str
    role: str
    via: str  # "session" or "token"
    csrf_token: str | None = None  # the session's form token; None for API tokens

    def can(self, permission: Permission) -> bool:
        """Whether the user's role allows ``permission``."""
        return permission in ROLE_PERMISSIONS[Role(self.role)]


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new browser session: the cookie's token (shown once) and who it signs in."""

    token: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A new API token, shown once."""

    token: str
    user: str
    label: str


def digest(token: str) -> str:
    """The stored form of a session or API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"user name {name!r} is not allowed: use 1 to 100 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
    return name


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"no role {role!r}; roles are {', '.join(r.value for r in Role)}"
        ) from None


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


# -- users ----------------------------------------------------------------------------------


def add_user(session: Session, name: str, *, password: str, role: Role | str) -> UserView:
    """A new user with an Argon2 hash of ``password``; Conflict if the name is taken."""
    role = _role(role)
    _check_name(name)
    _check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.name) == name.lower())):
        raise Conflict(f"a user named {name!r} already exists")
    user = User(name=name, password_hash=HASHER.hash(password), role=role)
    session.add(user)
    session.flush()
    LOGGER.info("user %s added with role %s", name, role)
    return _view(session, user)


def remove_user(session: Session, name: str) -> None:
    """Delete a user with their sessions and tokens; what they did keeps their name."""
    session.delete(_user(session, name))
    session.flush()
    LOGGER.info("user %s removed", name)


def set_password(session: Session, name: str, *, password: str) -> None:
    """Replace a user's password and sign out every browser they were signed in on."""
    user = _user(session, name)
    user.password_hash = HASHER.hash(_check_password(password))
    user.password_changed_at = utcnow()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    LOGGER.info("password of user %s changed", name)


def set_role(session: Session, name: str, *, role: Role | str) -> UserView:
    """Give a user another role."""
    user = _user(session, name)
    user.role = _role(role)
    session.flush()
    return _view(session, user)


def list_users(session: Session) -> list[UserView]:
    """Every user, by name."""
    return [_view(session, user) for user in session.scalars(select(User).order_by(User.name))]


def _view(session: Session, user: User) -> UserView:
    active = session.scalar(
        select(func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    return UserView(user.name, user.role, user.created_at, user.last_sign_in_at, active or 0)


# -- signing in -----------------------------------------------------------------------------


def check_attempts(
    session: Session, name: str, *, address: str, now: datetime | None = None
) -> None:
    """TooManyAttempts if the name or the address failed too often lately."""
    now = now or utcnow()
    since = now - FAILURE_WINDOW
    key = name.strip().lower()
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.name == key, LoginAttempt.succeeded.is_(True)
        )
    )
    # A name's failures count from its last successful sign-in.
    by_name = select(LoginAttempt.at).where(
        LoginAttempt.name == key,
        LoginAttempt.succeeded.is_(False),
        LoginAttempt.at > (max(since, last_success) if last_success else since),
    )
    by_address = select(LoginAttempt.at).where(
        LoginAttempt.address == address,
        LoginAttempt.succeeded.is_(False),
        LoginAttempt.at > since,
    )
    for failures in (by_name, by_address):
        times = sorted(
            session.scalars(failures.order_by(LoginAttempt.at.desc()).limit(MAX_FAILURES))
        )
        if len(times) >= MAX_FAILURES:
            wait = times[0] + FAILURE_WINDOW - now
            minutes = max(1, int(wait.total_seconds() // 60) + 1)
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {minutes} minute"
                + ("s" if minutes > 1 else ""),
                retry_after_seconds=max(1, int(wait.total_seconds())),
            )


def sign_in(
    session: Session,
    name: str,
    password: str,
    *,
    address: str,
    lifetime: timedelta = SESSION_LIFETIME,
    now: datetime | None = None,
) -> SessionGrant | None:
    """A new browser session for the right name and password, else None; either way the
    attempt is recorded. TooManyAttempts, recording nothing, while sign-ins are held back."""
    now = now or utcnow()
    check_attempts(session, name, address=address, now=now)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))
    user = session.scalar(select(User).where(User.name == name.strip()))
    valid = _verify(user.password_hash if user else _UNKNOWN_USER_HASH, password)
    session.add(
        LoginAttempt(
            name=name.strip().lower(), address=address, at=now, succeeded=valid and user is not None
        )
    )
    if user is None or not valid:
        LOGGER.warning("failed sign-in for %r from %s", name[:100], address)
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    web_session = WebSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(web_session)
    session.flush()
    LOGGER.info("user %s signed in from %s", user.name, address)
    return SessionGrant(
        token,
        web_session.expires_at,
        Principal(user.name, user.role, "session", web_session.csrf_token),
    )


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def session_principal(
    session: Session, token: str, *, now: datetime | None = None
) -> Principal | None:
    """Who the browser session with cookie ``token`` signs in, or None if none or expired."""
    now = now or utcnow()
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == digest(token), WebSession.expires_at > now)
    ).first()
    if found is None:
        return None
    web_session, user = found
    return Principal(user.name, user.role, "session", web_session.csrf_token)


def sign_out(session: Session, token: str) -> None:
    """End the browser session with cookie ``token``, if there is one."""
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


def end_expired_sessions(session: Session, *, now: datetime | None = None) -> int:
    """Delete sessions past their time; how many."""
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


# -- API tokens -----------------------------------------------------------------------------


def create_token(session: Session, name: str, *, label: str = "api") -> TokenGrant:
    """A new API token acting as user ``name``; only its hash is kept, so it is shown once."""
    user = _user(session, name)
    label = label.strip()
    if not label or len(label) > 100:
        raise InvalidInput("a token's label must be 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=digest(token), user_id=user.id, label=label))
    session.flush()
    LOGGER.info("API token %r created for user %s", label, name)
    return TokenGrant(token, user.name, label)


def revoke_tokens(session: Session, name: str, *, label: str | None = None) -> int:
    """Revoke user ``name``'s API tokens (only those labelled ``label``, if given); how many.

    NotFound when there was none to revoke.
    """
    user = _user(session, name)
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if label is not None:
        query = query.where(ApiToken.label == label)
    tokens = list(session.scalars(query))
    if not tokens:
        labelled = f" labelled {label!r}" if label is not None else ""
        raise NotFound(f"user {name!r} has no active API token{labelled}")
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    LOGGER.info("%d API token(s) of user %s revoked", len(tokens), name)
    return len(tokens)


def token_principal(
    session: Session, token: str, *, now: datetime | None = None
) -> Principal | None:
    """Who the API token acts for, or None if it is unknown or revoked."""
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    api_token, user = found
    now = now or utcnow()
    # Written at most once a minute, so reads do not turn into writes.
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=1):
        api_token.last_used_at = now
    return Principal(user.name, user.role, "token")
