"""structlog JSON logs carrying service, region, event, trace and span ids; never case text.

Every line, structlog's and the standard library's (uvicorn's included), goes through one JSON
formatter. `service` and the process's `regions` are on every line; `region` and `event_id` are
bound per event (consumer) or per request (the first event a request stages), through
contextvars, so a line says which region it is about, not every region the process serves.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog
from opentelemetry import trace

#: Keys a request or an event binds for its log lines (unbound when the request ends).
EVENT_KEYS = ("region", "event_id", "event_type")
#: Set while an HTTP request is handled: only then does staging an event bind its ids
#: (a background job's task lives on; its lines must not keep an old event's id).
IN_REQUEST: ContextVar[bool] = ContextVar("echo_in_request", default=False)


def _add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


class _ProcessFields:
    """Adds the process's service and regions to every line (not through contextvars: a
    binding made in the lifespan task never reaches the request tasks)."""

    def __init__(self, service: str, regions: list[str]) -> None:
        self.service = service
        self.regions = ",".join(regions)
        self.only_region = regions[0] if len(regions) == 1 else None

    def __call__(self, _: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", self.service)
        event_dict.setdefault("regions", self.regions)
        if self.only_region is not None:
            event_dict.setdefault("region", self.only_region)
        return event_dict


def configure_logging(service: str, regions: list[str], level: str = "INFO") -> None:
    """Route structlog and stdlib logging (uvicorn included) to one JSON line per record."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ProcessFields(service, regions),
        _add_trace_ids,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's loggers carry their own plain-text handlers unless told otherwise: send them
    # through ours. Its access log is replaced by the runtime's `http_request` line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
        # a dictConfig/fileConfig run earlier in the process (Alembic's env, uvicorn's default
        # config) disables or levels loggers it does not name: undo that for uvicorn's
        uvicorn_logger.disabled = False
        uvicorn_logger.setLevel(logging.NOTSET)
    # FastStream logs a line per message: costly and noisy, keep it for warnings.
    for noisy in ("faststream", "faststream.access", "uvicorn.access", "aiosqlite", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind_event(region: str, event_id: str) -> None:
    """Name the region and event of what follows on the request path (the first one wins).

    Outside a request (consumers, background jobs) nothing is bound here: a consumer binds
    the event it handles itself.
    """
    if not IN_REQUEST.get():
        return
    bound = structlog.contextvars.get_contextvars()
    if "event_id" not in bound:
        structlog.contextvars.bind_contextvars(region=region, event_id=event_id)


def unbind_event() -> None:
    """Forget what `bind_event` bound (at the end of a request)."""
    structlog.contextvars.unbind_contextvars(*EVENT_KEYS)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; pass ids and counts, never personal data or case text."""
    return structlog.stdlib.get_logger(name)
