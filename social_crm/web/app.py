"""The web dashboard and JSON API: the FastAPI app, its security headers, its one error
handler, and serving it with uvicorn (in the foreground, or in a thread beside the daemon).
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from social_crm.config import Settings
from social_crm.db import Database
from social_crm.errors import ConfigError, NotAuthenticated, SocialCrmError, TooManyAttempts
from social_crm.web import alerts, ambassadors, customers, links, login, mentions, overview, replies
from social_crm.web.api import router as api_router
from social_crm.web.templating import STATIC, render

LOGGER = logging.getLogger(__name__)

# Every page router, in navigation order. A new area adds its module here.
PAGE_ROUTERS = (
    login.router,
    alerts.router,
    replies.router,
    mentions.router,
    overview.router,
    ambassadors.router,
    links.router,
    customers.router,
)

# Scripts, styles and everything else only from this site; no inline script, no plugins,
# never framed. Inline SVG presentation attributes are not styles, so charts still draw.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds the security headers to every response, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in SECURITY_HEADERS if name not in names),
                ]
                if not scope["path"].startswith("/static/"):  # pages and API answers hold data
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, with_headers)


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (errors as JSON) rather than a page."""
    return request.url.path.startswith("/api/")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one shape of every JSON API error."""
    return {"error": {"code": code, "message": message}}


def _error_response(request: Request, status: int, code: str, message: str) -> Response:
    """An error as JSON for the API, as a page (or a fragment for htmx) otherwise."""
    if is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(code, message), status_code=status, headers=headers)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


async def domain_error(request: Request, exc: Exception) -> Response:
    """Every SocialCrmError, mapped to HTTP by its class's ``http_status``: the one place."""
    assert isinstance(exc, SocialCrmError)
    if isinstance(exc, NotAuthenticated) and not is_api(request):
        target = "/login"
        if request.headers.get("hx-request"):
            # A fragment's page asked for it: come back to that page, not the fragment.
            page = urlsplit(request.headers.get("hx-current-url", ""))
            if page.path.startswith("/") and page.path != "/":
                back = page.path + (f"?{page.query}" if page.query else "")
                target += "?next=" + quote(back, safe="")
            return Response(status_code=401, headers={"HX-Redirect": target})
        if request.method == "GET" and request.url.path != "/":
            query = f"?{request.url.query}" if request.url.query else ""
            target += "?next=" + quote(request.url.path + query, safe="")
        return RedirectResponse(target, status_code=303)
    if exc.http_status >= 500:
        LOGGER.error("%s %s failed: %s", request.method, request.url.path, exc)
    response = _error_response(request, exc.http_status, exc.code, str(exc))
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    """Bad input (a query or body the route cannot take): 422, naming the first problem."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(
            f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", "")
        )
    return _error_response(request, 422, "invalid_input", "; ".join(problems) or "invalid input")


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes, wrong methods and the like, in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = {404: "no such page", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    response = _error_response(
        request, exc.status_code, codes.get(exc.status_code, "error"), message
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback, answered without one."""
    LOGGER.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "internal_error", "something went wrong on our side")


def create_app(
    settings: Settings, *, database: Database | None = None, refresh_seconds: float = 10.0
) -> FastAPI:
    """The dashboard and API on ``database`` (default: the configured one, migrated); lists
    such as the alerts inbox fetch what is new every ``refresh_seconds``."""
    if database is None:
        database = Database(settings.database_url)
        database.ping()
        database.upgrade()
    app = FastAPI(
        title="social-crm API",
        openapi_tags=[
            {"name": "alerts"},
            {"name": "ambassadors"},
            {"name": "customers"},
            {"name": "link suggestions"},
            {"name": "mentions"},
            {"name": "overview"},
            {"name": "replies"},
        ],
        version="1",
        summary="Alerts, ambassadors, customers, link suggestions, mentions, the overview "
        "and replies of social-crm.",
        docs_url=None,  # Swagger UI loads from a CDN: the API document is at /api/v1/openapi.json
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.refresh_seconds = refresh_seconds
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(SocialCrmError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.include_router(api_router)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/alerts", status_code=303)

    return app


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database: Database | None = None,
) -> None:
    """Serve the dashboard in the foreground until interrupted."""
    app = create_app(settings, database=database)
    LOGGER.info("web dashboard on http://%s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


class WebServer:
    """The dashboard served from a background thread (beside the daemon, or for tests)."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 10.0) -> WebServer:
        """Start serving; return once it accepts connections (ConfigError if it cannot)."""
        self.thread.start()
        pause = threading.Event()
        for _ in range(int(timeout * 20)):
            if self.server.started:
                LOGGER.info("web dashboard on %s", self.url)
                return self
            if not self.thread.is_alive():
                break
            pause.wait(0.05)
        self.stop()
        raise ConfigError(
            f"the web dashboard cannot listen on {self.host}:{self.port}; is the port in use?"
        )

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
