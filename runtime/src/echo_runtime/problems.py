"""RFC 9457 problem details for every error, with messages a person can act on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from echo_runtime.logging import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error to answer with a problem-details body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def validation_problem(errors: list[dict[str, Any]]) -> Problem:
    """A 422 naming every invalid field, from pydantic/FastAPI error dicts."""
    items = [
        {"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
        for e in errors
    ]
    fields = ", ".join(sorted({i["field"] for i in items}))
    return Problem(
        422,
        "Unprocessable Content",
        f"invalid value for: {fields}. "
        + "; ".join(f"{i['field']}: {i['message']}" for i in items[:10]),
        errors=items,
    )


#: Maps a domain error class to (status, title); the error's message is the detail.
DomainErrorMap = Mapping[type[Exception], tuple[int, str]]


def install_problem_handlers(app: FastAPI, domain_errors: DomainErrorMap | None = None) -> None:
    """Answer every error as problem details; map domain errors to their status."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(list(exc.errors())), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        title = {404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large"}.get(
            exc.status_code, "Error"
        )
        return problem_response(
            Problem(exc.status_code, title, detail, headers=exc.headers), request
        )

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc  # a bug, not an outage: the server's 500
        log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
        return problem_response(
            Problem(
                503,
                "Service Unavailable",
                "the database cannot take this request now (unreachable, restarting or out of"
                " connections); nothing was saved, retry after a moment",
                headers={"Retry-After": "1"},
            ),
            request,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware calls this for any exception no other handler
        # took (also from middleware), then re-raises it for the server's log.
        log.error("unhandled_error", error=type(exc).__name__, path=request.url.path)
        return problem_response(
            Problem(
                500,
                "Internal Server Error",
                "the server failed to answer this request; nothing was reported back to you"
                " about why (the operators' logs hold it, with this request's trace id)",
            ),
            request,
        )

    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(sa_exc.DBAPIError, on_database_error)
    app.add_exception_handler(sa_exc.TimeoutError, on_database_error)
    for error_cls, (status, title) in (domain_errors or {}).items():
        app.add_exception_handler(error_cls, _domain_handler(status, title))


def database_unavailable(exc: Exception) -> bool:
    """True for errors of reaching the database (no connection, a connection lost, the pool
    waiting too long), not for errors of a statement (constraints, SQL): those are bugs."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's checkout timeout
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.OperationalError):
        # SQLite says "no such table/column" with the same class as "database is locked"
        return "no such " not in str(exc.orig)
    # asyncpg's errors while connecting (e.g. "too many clients") come without a statement
    return bool(exc.connection_invalidated or exc.statement is None)


def _domain_handler(status: int, title: str) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        extra = getattr(exc, "problem_extra", None)
        fields: dict[str, Any] = extra() if callable(extra) else {}
        field = getattr(exc, "field", None)
        if field and "errors" not in fields:
            fields["errors"] = [{"field": field, "message": str(exc)}]
        return problem_response(Problem(status, title, str(exc), **fields), request)

    return handler
