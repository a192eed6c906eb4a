"""Log lines and resource attributes say which service, deployment and region they are about."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from echo_runtime.logging import IN_REQUEST, bind_event, configure_logging, get_logger, unbind_event
from echo_runtime.tracing import resource_attributes


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()


def test_uvicorn_lines_are_json_with_the_service_and_its_regions(json_lines: Any) -> None:
    configure_logging("cases", ["ontario", "shanghai"])
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    [line] = json_lines()
    assert line["event"] == "Started server process [42]"
    assert line["logger"] == "uvicorn.error"
    assert line["service"] == "cases" and line["regions"] == "ontario,shanghai"
    assert "region" not in line  # two regions: the line is about neither in particular


def test_a_request_line_names_the_region_and_event_it_staged(json_lines: Any) -> None:
    configure_logging("cases", ["ontario", "shanghai"])
    log = get_logger("test")
    bind_event("shanghai", "e-0")  # outside a request (a background job): binds nothing
    log.info("janitor_ran")
    token = IN_REQUEST.set(True)
    try:
        bind_event("shanghai", "e-1")
        bind_event("ontario", "e-2")  # the first event staged names the request
        log.info("case_submitted", case_id="c-1")
    finally:
        unbind_event()
        IN_REQUEST.reset(token)
    log.info("after_the_request")
    janitor, submitted, after = json_lines()
    assert "event_id" not in janitor and "region" not in janitor
    assert submitted["region"] == "shanghai" and submitted["event_id"] == "e-1"
    assert submitted["service"] == "cases"
    assert "event_id" not in after and "region" not in after


def test_a_process_of_one_region_names_it_on_every_line(json_lines: Any) -> None:
    configure_logging("reporting", ["ontario"])
    get_logger("test").info("service_started")
    [line] = json_lines()
    assert line["region"] == "ontario" and line["service"] == "reporting"


def test_resource_attributes_default_and_environment_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert resource_attributes("cases", regions=["ontario", "shanghai"], environment="test") == {
        "service.name": "echo-cases",
        "service.namespace": "echo",
        "deployment.environment": "test",
        "echo.regions": "ontario,shanghai",
    }
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment=production,k8s.pod.name=cases-7f,note=a%2Cb",
    )
    monkeypatch.setenv("OTEL_SERVICE_NAME", "echo-cases-ontario")
    attributes = resource_attributes("cases", regions=["ontario"])
    assert attributes["service.name"] == "echo-cases-ontario"
    assert attributes["deployment.environment"] == "production"
    assert attributes["k8s.pod.name"] == "cases-7f" and attributes["note"] == "a,b"
    assert attributes["echo.regions"] == "ontario"
