"""ASGI entry point: `uvicorn echo_scheduling.entrypoints.app:create_app --factory`."""

from __future__ import annotations

from starlette.types import ASGIApp

from echo_scheduling.bootstrap import bootstrap


def create_app() -> ASGIApp:
    return bootstrap().asgi()
