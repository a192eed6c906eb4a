"""Look events up by type, build envelopes, and decode wire bodies into typed envelopes."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from pydantic import ValidationError

from echo_contracts.envelope import Envelope, Event
from echo_contracts.events import ALL_EVENTS

EVENT_TYPES: dict[str, type[Event]] = {cls.event_type(): cls for cls in ALL_EVENTS}


class InvalidEvent(ValueError):
    """A message that can never be handled: unknown type, bad JSON or a payload off its schema."""


def event_class(event_type: str) -> type[Event]:
    """The payload class of a CloudEvents `type`; InvalidEvent when nobody defined it."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise InvalidEvent(f"unknown event type {event_type!r}") from None


def new_envelope(
    data: Event,
    *,
    region: str,
    service: str,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> Envelope[Event]:
    """Wrap a payload in its envelope; a new correlation id starts a new conversation."""
    source_region = "network" if type(data).superhub else region
    envelope_cls: Any = Envelope[type(data)]  # type: ignore[misc]
    return envelope_cls(  # type: ignore[no-any-return]
        type=type(data).event_type(),
        source=f"{service}@{source_region}",
        region=source_region,
        subject=data.aggregate_id(),
        correlation_id=correlation_id or uuid.uuid4(),
        causation_id=causation_id,
        data=data,
    )


_TYPE = re.compile(rb'"type"\s*:\s*"([^"\\]+)"')
_ENVELOPE_MODELS: dict[type[Event], Any] = {}


def _envelope_model(cls: type[Event]) -> Any:
    """`Envelope[cls]`, looked up once: parametrising a generic model on every call costs."""
    model = _ENVELOPE_MODELS.get(cls)
    if model is None:
        model = _ENVELOPE_MODELS.setdefault(cls, Envelope[cls])  # type: ignore[valid-type]
    return model


def decode(body: bytes | str) -> Envelope[Event]:
    """Parse a wire body into an envelope whose `data` is the right payload class.

    The usual body (ours: the envelope's `type` before its `data`) is validated straight from
    the JSON in one pass; anything else, or anything invalid, takes the careful path, which
    says precisely what is wrong.
    """
    raw_body = body.encode() if isinstance(body, str) else body
    found = _TYPE.search(raw_body)
    guess = EVENT_TYPES.get(found.group(1).decode()) if found else None
    if guess is not None:
        try:
            envelope: Envelope[Event] = _envelope_model(guess).model_validate_json(raw_body)
        except ValidationError:
            pass
        else:
            if envelope.type == guess.event_type():
                return envelope
    try:
        raw: Any = json.loads(body)
    except ValueError as exc:
        raise InvalidEvent(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise InvalidEvent("body is not a CloudEvents envelope with a string `type`")
    cls = event_class(raw["type"])
    try:
        return _envelope_model(cls).model_validate(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise InvalidEvent(f"{raw['type']} does not match its schema: {exc}") from None
