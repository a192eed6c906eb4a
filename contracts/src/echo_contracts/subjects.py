"""Subjects are `echo.<region>.<context>.<event>`: region second, so permissions pin per region."""

from __future__ import annotations

from dataclasses import dataclass

from echo_contracts.envelope import Event
from echo_contracts.types import _REGION_RE, NETWORK_REGION

PREFIX = "echo"


@dataclass(frozen=True, slots=True)
class SubjectParts:
    region: str
    context: str
    event_name: str


def subject_for(region: str, event: type[Event] | Event) -> str:
    """The subject of this event type in `region` (superhub events: `network`)."""
    cls = event if isinstance(event, type) else type(event)
    where = NETWORK_REGION if cls.superhub else region
    if where != NETWORK_REGION and not _REGION_RE.match(where):
        raise ValueError(f"invalid region slug {where!r}")
    return f"{PREFIX}.{where}.{cls.context}.{cls.event_name}"


def region_wildcard(region: str) -> str:
    """Every subject of one region: what its stream captures."""
    return f"{PREFIX}.{region}.>"


def parse_subject(subject: str) -> SubjectParts:
    """Split a subject into its parts; raises ValueError naming the expected shape."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not all(parts):
        raise ValueError(f"subject {subject!r} is not of the form echo.<region>.<context>.<event>")
    return SubjectParts(region=parts[1], context=parts[2], event_name=parts[3])
