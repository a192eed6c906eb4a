"""Ports for servers the tests and `echo-hub dev` start: free, in range, never handed out twice."""

from __future__ import annotations

import pytest
from echo_runtime.natsserver import free_port


def test_ports_come_from_the_configured_range_and_are_not_handed_out_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECHO_PORT_RANGE", "26000-26019")
    ports = [free_port() for _ in range(8)]
    assert len(set(ports)) == 8
    assert all(26000 <= port <= 26019 for port in ports)


def test_a_malformed_range_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_PORT_RANGE", "high-low")
    assert 20000 <= free_port() <= 32767
