"""Signing in (demo people in development, OpenID Connect in production), out, and language."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from echo_runtime.logging import get_logger
from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from echo_console.adapters.oidc import SignInFailed
from echo_console.adapters.platform_api import ApiError
from echo_console.domain.language import supported
from echo_console.entrypoints.web import (
    LANGUAGE_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    PageDep,
    cookie_options,
    error_page,
)
from echo_console.service_layer.sessions import (
    ConsoleSession,
    demo_people,
    sign_in_demo,
    sign_in_oidc,
)

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)


def _local(target: str | None) -> str:
    """Only a path on this site may follow a sign-in (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/")
async def home(page: PageDep) -> Response:
    return page.redirect("/programmes" if page.session else "/sign-in")


@router.get("/sign-in")
async def sign_in_page(
    page: PageDep, next: str | None = None, expired: int = 0, failed: str | None = None
) -> Response:
    settings = page.console.settings
    people = demo_people(settings.regions) if settings.demo_sign_in else []
    regions: dict[str, list[object]] = {}
    for person in people:
        regions.setdefault(person.region, []).append(person)
    return page.render(
        "sign_in.html",
        regions=regions,
        next=_local(next),
        expired=bool(expired),
        failed=failed,
        oidc=page.console.oidc is not None,
    )


async def _language_preference(page: PageDep, session: ConsoleSession) -> None:
    """A spoke's language preference from notifications (kept for the whole sign-in)."""
    if not session.person.presents:
        return
    try:
        prefs = await page.api.get(
            "notifications", f"/v1/participants/{session.person.subject}/preferences", session.token
        )
    except ApiError:
        return  # no preference recorded yet: the browser's language applies
    session.language = supported(prefs.get("language"))


def _signed_in(page: PageDep, session: ConsoleSession, target: str) -> Response:
    response = page.redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        max_age=max(60, int(session.expires_at - time.time())),
        **cookie_options(page.console.settings),
    )
    response.delete_cookie(LANGUAGE_COOKIE, path="/")
    log.info("signed_in", roles=sorted(session.person.roles))
    return response


@router.post("/sign-in/demo")
async def sign_in_as_demo(page: PageDep) -> Response:
    form = await page.form()
    if not page.console.settings.demo_sign_in:
        return error_page(page, 404, page.t("sign_in.no_demo"))
    try:
        session = sign_in_demo(page.console.store, page.console.settings, str(form.get("who")))
    except LookupError:
        return error_page(page, 422, page.t("sign_in.unknown_person"))
    await _language_preference(page, session)
    return _signed_in(page, session, _local(str(form.get("next") or "/")))


def _callback_url(page: PageDep) -> str:
    base = page.console.settings.public_url or str(page.request.base_url)
    return base.rstrip("/") + "/sign-in/callback"


@router.get("/sign-in/oidc")
async def sign_in_oidc_start(page: PageDep, next: str | None = None) -> Response:
    oidc = page.console.oidc
    if oidc is None:
        return error_page(page, 404, page.t("sign_in.no_oidc"))
    pending = oidc.start()
    page.console.store.remember(pending)
    try:
        url = await oidc.authorization_url(pending, _callback_url(page))
    except Exception as exc:  # the provider is down or misconfigured: say so, do not 500
        log.warning("oidc_discovery_failed", error=type(exc).__name__)
        return error_page(page, 502, page.t("sign_in.provider_down"))
    response = RedirectResponse(url, status_code=303)
    # Binds the callback to this browser: a code injected into someone else's browser fails.
    response.set_cookie(
        LOGIN_COOKIE,
        f"{pending.binding}:{_local(next)}",
        max_age=600,
        **cookie_options(page.console.settings),
    )
    return response


@router.get("/sign-in/callback")
async def sign_in_oidc_callback(
    page: PageDep, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    oidc = page.console.oidc
    if oidc is None:
        return error_page(page, 404, page.t("sign_in.no_oidc"))
    pending = page.console.store.take(state or "")
    binding, _, target = (page.request.cookies.get(LOGIN_COOKIE) or "").partition(":")
    if error or not code or pending is None or pending.binding != binding:
        log.info("oidc_sign_in_refused", provider_error=error, known_state=pending is not None)
        return error_page(page, 400, page.t("sign_in.callback_invalid"))
    try:
        tokens = await oidc.exchange(code, pending, _callback_url(page))
    except SignInFailed as exc:
        log.warning("oidc_sign_in_failed", reason=str(exc))
        return error_page(page, 400, page.t("sign_in.callback_invalid"))
    session = sign_in_oidc(page.console.store, page.console.settings, tokens)
    await _language_preference(page, session)
    response = _signed_in(page, session, _local(target))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/sign-out")
async def sign_out(page: PageDep) -> Response:
    await page.form()
    closed = page.console.store.close(page.request.cookies.get(SESSION_COOKIE))
    target = "/sign-in"
    oidc = page.console.oidc
    if closed is not None and closed.id_token and oidc is not None:
        base = page.console.settings.public_url or str(page.request.base_url)
        try:
            target = await oidc.end_session_url(closed.id_token, base.rstrip("/") + "/sign-in") or (
                target
            )
        except Exception:  # the provider is unreachable: the console session is gone anyway
            target = "/sign-in"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(page: PageDep) -> Response:
    form = await page.form()
    language = supported(str(form.get("lang") or ""))
    response = page.redirect(_local(str(form.get("back") or "/")))
    if language:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, **cookie_options(page.console.settings)
        )
        if page.session is not None:
            page.session.language = language
    return response
