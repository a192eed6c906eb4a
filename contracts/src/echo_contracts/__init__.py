"""Typed CloudEvents, subjects and streams of the ECHO network platform.

A regional hub's own code can depend on this package alone (pydantic only) to read the streams.
"""

from echo_contracts.envelope import Envelope, Event, Residency, to_wire
from echo_contracts.events import *  # noqa: F403
from echo_contracts.events import ALL_EVENTS
from echo_contracts.registry import (
    EVENT_TYPES,
    InvalidEvent,
    UnknownEvent,
    decode,
    event_class,
    new_envelope,
)
from echo_contracts.subjects import parse_subject, subject_for
from echo_contracts.topology import CONSUMERS, consumer_for, stream_name

__all__ = [
    "ALL_EVENTS",
    "CONSUMERS",
    "EVENT_TYPES",
    "Envelope",
    "Event",
    "InvalidEvent",
    "Residency",
    "UnknownEvent",
    "consumer_for",
    "decode",
    "event_class",
    "new_envelope",
    "parse_subject",
    "stream_name",
    "subject_for",
    "to_wire",
]
