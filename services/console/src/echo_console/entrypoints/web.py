"""The console's web plumbing: sessions from cookies, CSRF, language, rendering, refusals."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from echo_console.adapters.oidc import OidcClient
from echo_console.adapters.platform_api import ApiError, PlatformApi
from echo_console.domain.language import (
    LANGUAGES,
    NATIVE_NAMES,
    format_date,
    format_datetime,
    negotiate,
    translate,
)
from echo_console.domain.people import Person, menu_for
from echo_console.service_layer.sessions import ConsoleSession, SessionStore
from echo_console.settings import ConsoleSettings

HERE = Path(__file__).parent
SESSION_COOKIE = "echo_console_session"
ANON_CSRF_COOKIE = "echo_console_csrf"
LANGUAGE_COOKIE = "echo_console_lang"
LOGIN_COOKIE = "echo_console_login"


@dataclass
class Console:
    """What every page needs; built once by bootstrap."""

    settings: ConsoleSettings
    api: PlatformApi
    store: SessionStore
    oidc: OidcClient | None
    templates: Jinja2Templates


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    return templates


class NotSignedIn(Exception):
    """The page needs a signed-in person."""


class Refused(Exception):
    """The console itself will not show this page to this person (it never widens access)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class BadForm(Exception):
    """A form failed the CSRF check."""


async def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


def cookie_options(settings: ConsoleSettings) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": settings.secure_cookies, "path": "/"}


class Page:
    """One request's view of the console: who, which language, and how to answer."""

    def __init__(self, request: Request, console: Console) -> None:
        self.request = request
        self.console = console
        self.session: ConsoleSession | None = console.store.get(request.cookies.get(SESSION_COOKIE))
        chosen = request.cookies.get(LANGUAGE_COOKIE)
        preference = chosen or (self.session.language if self.session else None)
        self.language = negotiate(preference, request.headers.get("accept-language"))
        self._anon_csrf = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(32)

    # ------------------------------------------------------------------ who

    @property
    def person(self) -> Person:
        if self.session is None:
            raise NotSignedIn()
        return self.session.person

    @property
    def token(self) -> str:
        if self.session is None:
            raise NotSignedIn()
        return self.session.token

    @property
    def api(self) -> PlatformApi:
        return self.console.api

    def t(self, key: str, **values: object) -> str:
        return translate(self.language, key, **values)

    # ------------------------------------------------------------------ forms

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else self._anon_csrf

    async def form(self) -> Mapping[str, Any]:
        """The submitted form, once its CSRF token matched this session's (else `BadForm`)."""
        form = await self.request.form()
        sent = str(form.get("csrf") or "")
        if not sent or not hmac.compare_digest(sent.encode(), self.csrf.encode()):
            raise BadForm()
        return form

    # ------------------------------------------------------------------ answers

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session = self.session
        response = self.console.templates.TemplateResponse(
            self.request,
            name,
            {
                "t": self.t,
                "lang": self.language,
                "languages": [(code, NATIVE_NAMES[code]) for code in LANGUAGES],
                "person": session.person if session else None,
                "menu": menu_for(session.person) if session else [],
                "csrf": self.csrf,
                "path": self.request.url.path,
                "fmt_date": lambda d: format_date(self.language, _as_date(d)),
                "fmt_dt": lambda d: format_datetime(self.language, _as_datetime(d)),
                **context,
            },
            status_code=status_code,
        )
        if session is None and ANON_CSRF_COOKIE not in self.request.cookies:
            response.set_cookie(
                ANON_CSRF_COOKIE, self._anon_csrf, **cookie_options(self.console.settings)
            )
        response.headers["cache-control"] = "no-store"
        return response

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)


async def get_page(request: Request, console: ConsoleDep) -> Page:
    return Page(request, console)


PageDep = Annotated[Page, Depends(get_page)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# ---------------------------------------------------------------------- refusals as pages

ERROR_KEYS = {
    400: "error.400",
    401: "error.401",
    403: "error.403",
    404: "error.404",
    409: "error.409",
    413: "error.413",
    422: "error.422",
    429: "error.429",
    502: "error.502",
}


def error_page(
    page: Page, status: int, detail: str, key: str | None = None, *, by_service: bool = False
) -> HTMLResponse:
    heading = page.t(key or ERROR_KEYS.get(status, "error.other"))
    return page.render(
        "error.html",
        status_code=status if 400 <= status < 600 else 502,
        heading=heading,
        explanation=page.t(f"{key or ERROR_KEYS.get(status, 'error.other')}.help"),
        detail=detail,
        status=status,
        by_service=by_service,
    )


def install_error_pages(app: Any) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        page = Page(request, request.app.state.console)
        if exc.status == 401:  # the token expired or was revoked: sign in again
            page.console.store.close(request.cookies.get(SESSION_COOKIE))
            return RedirectResponse("/sign-in?expired=1", status_code=303)
        return error_page(page, exc.status, exc.detail, by_service=True)

    async def on_not_signed_in(request: Request, exc: Exception) -> Response:
        target = request.url.path
        expired = "&expired=1" if request.cookies.get(SESSION_COOKIE) else ""
        return RedirectResponse(f"/sign-in?next={quote(target)}{expired}", status_code=303)

    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        page = Page(request, request.app.state.console)
        return error_page(page, 403, page.t(exc.key), key="error.403")

    async def on_bad_form(request: Request, exc: Exception) -> Response:
        page = Page(request, request.app.state.console)
        return error_page(page, 403, page.t("error.csrf"), key="error.403")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(NotSignedIn, on_not_signed_in)
    app.add_exception_handler(Refused, on_refused)
    app.add_exception_handler(BadForm, on_bad_form)


# ---------------------------------------------------------------------- security headers


class SecurityHeaders:
    """CSP without inline scripts or styles, no framing, no sniffing, no referrer leaks."""

    def __init__(self, app: ASGIApp, form_targets: str = "") -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self'{form_targets}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.csp))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
