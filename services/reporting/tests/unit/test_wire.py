"""Decoding replayed messages: the one-pass path agrees with the contract's decoder."""

from __future__ import annotations

import pytest
from echo_contracts import InvalidEvent, decode, to_wire
from echo_reporting.service_layer.rebuild import fast_decode

from ..scenario import seeded_scenario


def test_fast_decode_reads_every_event_exactly_like_the_contract_decoder() -> None:
    for env in seeded_scenario().envelopes:
        body = to_wire(env)
        assert fast_decode(body) == decode(body) == env


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"type":"echo.nobody.nothing.v1"}',
        b'{"specversion":"1.0","type":"echo.scheduling.session_cancelled.v1","data":{}}',
    ],
)
def test_bodies_that_can_never_be_applied_are_invalid_events(body: bytes) -> None:
    with pytest.raises(InvalidEvent):
        fast_decode(body)
