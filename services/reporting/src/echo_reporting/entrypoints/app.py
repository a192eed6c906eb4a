"""ASGI entry point: `uvicorn echo_reporting.entrypoints.app:create_app --factory`."""

from __future__ import annotations

from starlette.types import ASGIApp

from echo_reporting.bootstrap import bootstrap


def create_app() -> ASGIApp:
    return bootstrap().asgi()
