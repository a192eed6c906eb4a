"""Look events up by type, build envelopes, and decode wire bodies into typed envelopes."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, ClassVar

from pydantic import ConfigDict, ValidationError

from echo_contracts.envelope import Envelope, Event, Residency
from echo_contracts.events import ALL_EVENTS

EVENT_TYPES: dict[str, type[Event]] = {cls.event_type(): cls for cls in ALL_EVENTS}
_VERSIONED = re.compile(r"^(?P<base>.+)\.v(?P<version>[0-9]+)$")


class InvalidEvent(ValueError):
    """A message that can never be handled: bad JSON, no envelope, or a payload off its schema."""


class UnknownEvent(Event):
    """The payload of an event whose `type` this `echo-contracts` does not define.

    A newer publisher's new type, or a newer version (`...v2`) of a type known here as `...v1`.
    `decode` returns it instead of raising, so a subscriber built on an older `echo-contracts`
    can skip it (ack) or dead-letter it deliberately; the raw `data` is kept in `payload`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    context: ClassVar[str] = "unknown"
    event_name: ClassVar[str] = "unknown"
    #: Nothing is known about it, so it is treated as the stricter residency.
    residency: ClassVar[Residency] = Residency.REGIONAL

    #: The CloudEvents `type` as received, e.g. `echo.cases.case_submitted.v2`.
    cloudevents_type: str
    #: The `data` member as received (parsed JSON, not validated).
    payload: Any = None

    def aggregate_id(self) -> str:
        raise InvalidEvent(f"no aggregate id is known for {self.cloudevents_type!r}")

    def newer_version_of(self) -> type[Event] | None:
        """The older version of this type that is known here (`...v1` for a `...v2`), if any."""
        found = _VERSIONED.match(self.cloudevents_type)
        if found is None:
            return None
        older = [
            cls
            for event_type, cls in EVENT_TYPES.items()
            if (known := _VERSIONED.match(event_type)) is not None
            and known["base"] == found["base"]
            and int(known["version"]) < int(found["version"])
        ]
        return max(older, key=lambda cls: cls.version, default=None)


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

    A tolerant reader: fields and CloudEvents extension attributes this version does not know
    are ignored, and a `type` it does not know comes back as `Envelope[UnknownEvent]` (skip it
    or dead-letter it). `InvalidEvent` means the body can never be read: not JSON, not an
    envelope, or a known type whose payload breaks its schema (a required field missing).

    The usual body (ours: the envelope's `type` before its `data`) is validated straight from
    the JSON in one pass; anything else, or anything invalid, takes the careful path, which
    says precisely what is wrong.
    """
    raw_body = body.encode() if isinstance(body, str) else body
    found = _TYPE.search(raw_body)
    guess = EVENT_TYPES.get(found.group(1).decode()) if found else None
    if guess is not None:
        try:
            envelope: Envelope[Event] = _envelope_model(guess).model_validate_json(
                raw_body, extra="ignore"
            )
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
    cls = EVENT_TYPES.get(raw["type"])
    if cls is None:
        unknown = {**raw, "data": {"cloudevents_type": raw["type"], "payload": raw.get("data")}}
        try:
            return _envelope_model(UnknownEvent).model_validate(  # type: ignore[no-any-return]
                unknown, extra="ignore"
            )
        except ValidationError as exc:
            raise InvalidEvent(f"{raw['type']}: not a CloudEvents envelope: {exc}") from None
    try:
        return _envelope_model(cls).model_validate(raw, extra="ignore")  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise InvalidEvent(f"{raw['type']} does not match its schema: {exc}") from None
