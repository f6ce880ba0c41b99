"""Signing in and out of the dashboard."""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from social_crm.accounts import service
from social_crm.errors import TooManyAttempts
from social_crm.web.auth import (
    SESSION_COOKIE,
    SignedIn,
    clear_session_cookie,
    database,
    secure_cookies,
    set_session_cookie,
    settings,
)
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The sign-in form's own CSRF token: a cookie the form must repeat (no session exists yet).
LOGIN_COOKIE = "social_crm_login"
HOME = "/alerts"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    return target


def client_address(request: Request) -> str:
    """The client's IP address (as uvicorn saw it, behind a local proxy too)."""
    return request.client.host if request.client else "unknown"


def _form(
    request: Request, *, next_url: str, message: str | None = None, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"form_token": token, "next_url": next_url, "message": message},
        status_code=status_code,
        principal=None,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    return _form(request, next_url=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,  # noqa: A002
) -> Response:
    """Check the name and password; on success set the sign-in cookie and go on."""
    next_url = safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not form_token or not expected or not hmac.compare_digest(form_token, expected):
        return _form(
            request,
            next_url=next_url,
            message="The sign-in form expired. Please try again.",
            status_code=403,
        )
    hours = settings(request).web.session_hours
    try:
        with database(request).transaction() as session:
            grant = service.sign_in(
                session,
                name,
                password,
                address=client_address(request),
                lifetime=timedelta(hours=hours),
            )
    except TooManyAttempts as exc:
        response = _form(
            request,
            next_url=next_url,
            message=f"Too many failed sign-ins: {exc}.",
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    if grant is None:
        return _form(request, next_url=next_url, message="Wrong name or password.", status_code=401)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, grant.token, int(hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, user: SignedIn) -> Response:
    """End this browser's session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with database(request).transaction() as session:
            service.sign_out(session, token)
    LOGGER.info("user %s signed out", user.name)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response
