"""ASGI entry point: `uvicorn echo_notifications.entrypoints.app:create_app --factory`."""

from __future__ import annotations

from starlette.types import ASGIApp

from echo_notifications.bootstrap import bootstrap


def create_app() -> ASGIApp:
    return bootstrap().asgi()
