"""Who a request acts for, and whether they may: sign-in cookies, API tokens, roles, CSRF.

Pages are signed in with a session cookie; every state-changing request made with it must
carry the session's form token (``csrf_token`` field, or the ``X-CSRF-Token`` header htmx
sends). The JSON API also takes ``Authorization: Bearer <token>``, which needs no form
token: a browser never sends it on its own.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal, session_principal, token_principal
from social_crm.config import Settings
from social_crm.db import Database
from social_crm.errors import NotAuthenticated, PermissionDenied

LOGGER = logging.getLogger(__name__)

SESSION_COOKIE = "social_crm_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def database(request: Request) -> Database:
    """The app's database."""
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    """The app's settings."""
    configured: Settings = request.app.state.settings
    return configured


async def principal(request: Request) -> Principal:
    """The signed-in user or API token's user; NotAuthenticated when there is none.

    A state-changing request signed in by cookie without the session's form token is
    refused (PermissionDenied), whatever its route.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    db = database(request)
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        found = await run_in_threadpool(_lookup, db, token_principal, credential.strip())
        if found is None:
            raise NotAuthenticated("the API token is not valid or was revoked")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = await run_in_threadpool(_lookup, db, session_principal, cookie) if cookie else None
        if found is None:
            raise NotAuthenticated("sign in first")
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, found)
    request.state.principal = found
    return found


def _lookup(
    db: Database, find: Callable[..., Principal | None], credential: str
) -> Principal | None:
    with db.transaction() as session:
        return find(session, credential)


async def _check_csrf(request: Request, found: Principal) -> None:
    """PermissionDenied unless the request carries the session's form token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = found.csrf_token or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise PermissionDenied(
            "this form has expired or did not come from this site; reload the page and try again"
        )


def allowed(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the request's user, if their role allows ``permission``."""

    async def check(user: Annotated[Principal, Depends(principal)]) -> Principal:
        if not user.can(permission):
            raise PermissionDenied(
                f"your role ({user.role}) cannot do this; ask an admin for the right role"
            )
        return user

    check.__name__ = f"allowed_{permission.value}"
    return check


reader = allowed(Permission.READ)

# Route parameters: the database, and the user (signed in; allowed to read).
DatabaseDep = Annotated[Database, Depends(database)]
SignedIn = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(reader)]


def secure_cookies(request: Request) -> bool:
    """Whether cookies are marked Secure: as configured, else when the request was https."""
    configured = settings(request).web.secure_cookies
    return request.url.scheme == "https" if configured is None else configured


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """Put the sign-in cookie on ``response``: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Remove the sign-in cookie."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )
