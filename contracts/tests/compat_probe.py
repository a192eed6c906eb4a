"""Run under one version of `echo_contracts` (PYTHONPATH picks which): produce or decode events.

`python compat_probe.py produce` prints, as JSON, a wire body of every event type twice: with
only its required fields and with every field. `python compat_probe.py decode` reads such a
list on stdin and prints, per body, `ok`, `unknown` (a type this version does not define) or
the error. The same file serves every version, so it uses only what 1.0.0 already had.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
import types
import typing
import uuid
from typing import Any

import echo_contracts
from echo_contracts import decode, new_envelope, to_wire
from echo_contracts.events import ALL_EVENTS
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

CANDIDATES: dict[type, list[Any]] = {
    str: ["ontario", "America/Toronto", "en", "clinician@example.org", "17:30", "A sample text"],
    int: [1, 30, 60, 0],
    float: [1.0, 30.0, 0.0],
    bool: [True],
    uuid.UUID: [str(uuid.UUID(int=7))],
    dt.datetime: ["2027-03-01T17:00:00Z"],
    dt.date: ["2027-03-01"],
    dt.timedelta: ["PT1H"],
}


def _pick(annotation: Any, metadata: list[Any], full: bool) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _pick(args[0], [*args[1:], *metadata], full)
    if origin in (typing.Union, types.UnionType):
        return _pick(next(a for a in args if a is not type(None)), metadata, full)
    if origin is list:
        return [_pick(args[0], [], full)]
    if origin is dict:
        return {}
    if origin is typing.Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _instance(annotation, full)
    adapter: TypeAdapter[Any] = TypeAdapter(
        typing.Annotated[annotation, *metadata] if metadata else annotation
    )
    for candidate in CANDIDATES[annotation]:
        try:
            adapter.validate_python(candidate)
        except ValidationError:
            continue
        return candidate
    raise TypeError(f"no sample value for {annotation} {metadata}")


def _instance(model: type[BaseModel], full: bool) -> dict[str, Any]:
    fields: dict[str, FieldInfo] = model.model_fields
    return {
        name: _pick(info.annotation, list(info.metadata), full)
        for name, info in fields.items()
        if full or info.is_required()
    }


def produce() -> list[str]:
    bodies = []
    for cls in ALL_EVENTS:
        for full in (False, True):
            data = cls.model_validate(_instance(cls, full))
            bodies.append(to_wire(new_envelope(data, region="ontario", service="probe")).decode())
    return bodies


def decode_all(bodies: list[str]) -> list[str]:
    known = {cls.event_type() for cls in ALL_EVENTS}
    out = []
    for body in bodies:
        if json.loads(body)["type"] not in known:
            out.append("unknown")
            continue
        try:
            decode(body)
        except ValueError as exc:
            out.append(f"error: {str(exc)[:400]}")
        else:
            out.append("ok")
    return out


if __name__ == "__main__":
    print(f"# echo_contracts from {echo_contracts.__file__}", file=sys.stderr)
    if sys.argv[1] == "produce":
        print(json.dumps(produce()))
    else:
        print(json.dumps(decode_all(json.load(sys.stdin))))
