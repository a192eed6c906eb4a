"""The OpenAPI of a service documents its errors as they are answered (problem+json)."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from echo_runtime.service import LOCAL_TIME, document_problems
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel


class Slot(BaseModel):
    starts: time


def app() -> FastAPI:
    api = FastAPI()

    @api.post("/v1/slots")
    async def post_slot(slot: Slot) -> Slot:
        return slot

    @api.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    document_problems(api)
    return api


def test_errors_are_documented_as_problem_details() -> None:
    spec: dict[str, Any] = app().openapi()
    responses = spec["paths"]["/v1/slots"]["post"]["responses"]
    ref = {"$ref": "#/components/schemas/Problem"}
    assert responses["422"]["content"] == {"application/problem+json": {"schema": ref}}
    assert responses["default"]["content"] == {"application/problem+json": {"schema": ref}}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]


def test_a_page_may_answer_its_errors_as_a_page() -> None:
    responses = app().openapi()["paths"]["/page"]["get"]["responses"]
    assert set(responses["default"]["content"]) == {"application/problem+json", "text/html"}


def test_local_times_are_documented_without_an_offset() -> None:
    spec = app().openapi()
    starts = spec["components"]["schemas"]["Slot"]["properties"]["starts"]
    assert "format" not in starts and starts["pattern"] == LOCAL_TIME
    assert re.match(LOCAL_TIME, "18:30:00") and re.match(LOCAL_TIME, "18:30")
    assert not re.match(LOCAL_TIME, "24:00") and not re.match(LOCAL_TIME, "18:30:00Z")
