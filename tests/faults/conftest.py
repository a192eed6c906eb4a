"""Fault-injection tests (issue 9): the `faults` marker and a summary of the figures they print."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault injection under load (real processes; part of the default run)"
    )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a one-line summary of a fault test (the root conftest shows it at the end)."""

    def record(line: str) -> None:
        text = f"{request.node.name}: {line}"
        print(text, flush=True)

    return record
