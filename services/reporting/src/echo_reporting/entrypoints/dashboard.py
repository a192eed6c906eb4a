"""`GET /dashboard`: an HTML page with charts drawn server-side as SVG, no internet asset."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dashboard"])
