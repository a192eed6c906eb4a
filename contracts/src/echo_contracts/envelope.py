"""The CloudEvents 1.0 envelope that carries every event, and the base class of event payloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from echo_contracts.types import Code, Region


class Residency(StrEnum):
    """Where an event may travel."""

    #: May carry clinicians' personal data or clinical text; never leaves its region.
    REGIONAL = "regional"
    #: Ids, counts, codes and durations only; replicated to the superhub (or from it, downwards).
    NETWORK = "network"


class Event(BaseModel):
    """Base of every event payload: frozen, past tense.

    Closed when built (a producer cannot emit a field the contract does not define), tolerant
    when read: `decode` validates with `extra="ignore"`, so a field a newer `echo-contracts`
    added is dropped instead of failing an older subscriber.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Bounded context that publishes the event, e.g. `cases`.
    context: ClassVar[str]
    #: Snake-case event name, e.g. `case_submitted`; the last token of the subject.
    event_name: ClassVar[str]
    version: ClassVar[int] = 1
    residency: ClassVar[Residency]
    #: Published by the superhub on `echo.network.>` and sourced down into every region.
    superhub: ClassVar[bool] = False

    @classmethod
    def event_type(cls) -> str:
        """The CloudEvents `type`, e.g. `echo.cases.case_submitted.v1`."""
        return f"echo.{cls.context}.{cls.event_name}.v{cls.version}"

    def aggregate_id(self) -> str:
        """The CloudEvents `subject`: the id of the aggregate the event is about."""
        raise NotImplementedError


E = TypeVar("E", bound=Event)


class Envelope(BaseModel, Generic[E]):
    """CloudEvents 1.0 attributes plus the ECHO extensions, around a typed `data` payload.

    Closed when built, tolerant when read (`decode` ignores extension attributes it does not
    know, as CloudEvents asks of a consumer).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: Code
    source: str = Field(pattern=r"^[a-z][a-z0-9-]*@[a-z][a-z0-9-]*$", max_length=80)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    region: Region
    subject: str = Field(max_length=200)
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    datacontenttype: str = "application/json"
    data: E

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset")
        return value.astimezone(UTC)


def to_wire(envelope: Envelope[Any]) -> bytes:
    """Serialise an envelope to the JSON body published on NATS (structured CloudEvents)."""
    return envelope.model_dump_json().encode()
