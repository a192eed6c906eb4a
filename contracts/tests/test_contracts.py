"""The contract: schemas checked in, residency rules, subjects, versioning."""

from __future__ import annotations

import json
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from echo_contracts import (
    ALL_EVENTS,
    EVENT_TYPES,
    CaseRejected,
    Envelope,
    InvalidEvent,
    Residency,
    SessionScheduled,
    UnknownEvent,
    decode,
    new_envelope,
    parse_subject,
    subject_for,
    to_wire,
)
from echo_contracts.export import event_schema, render
from echo_contracts.topology import CONSUMERS, network_subjects, region_stream, stream_name

CONTRACTS = Path(__file__).resolve().parents[1]


def _compatible(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why `new` is not a backwards-compatible evolution of `old` (empty when it is)."""
    problems = []
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} was removed")
        elif name != "data" and schema != new_props[name]:
            problems.append(f"field {name!r} changed its schema")
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    if added_required:
        problems.append(f"new required fields {sorted(added_required)}")
    return problems


def test_checked_in_schemas_match_the_code() -> None:
    """A drift between code and checked-in files fails: re-export (additive) or bump the version."""
    drift = []
    for rel, text in render().items():
        path = CONTRACTS / rel
        if not path.exists():
            drift.append(f"{rel}: missing (new event type? run `make contracts`)")
        elif path.read_text() != text:
            if rel.startswith("schemas/"):
                old = json.loads(path.read_text())
                new = json.loads(text)
                old_data = old["$defs"][old["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
                new_data = new["$defs"][new["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
                why = _compatible(old_data, new_data)
                hint = (
                    f"BREAKING ({'; '.join(why)}): publish a v{{N+1}} type instead"
                    if why
                    else "compatible change: run `make contracts` and commit"
                )
                drift.append(f"{rel}: differs from the code; {hint}")
            else:
                drift.append(f"{rel}: differs from the code; run `make contracts` and commit")
    stale = {
        p.relative_to(CONTRACTS).as_posix() for p in (CONTRACTS / "schemas").glob("*.json")
    } - set(render())
    drift += [f"{rel}: no event type defines it any more" for rel in sorted(stale)]
    assert drift == []


def test_compatibility_check_catches_breaking_changes() -> None:
    old = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert (
        _compatible(old, {"properties": {"a": {"type": "string"}, "b": {}}, "required": ["a"]})
        == []
    )
    assert _compatible(old, {"properties": {}, "required": []}) == ["field 'a' was removed"]
    assert _compatible(
        old, {"properties": {"a": {"type": "string"}, "b": {}}, "required": ["a", "b"]}
    )


FREE_TEXT_FORMATS = {"uuid", "date-time", "date", "duration"}


def _string_leaks(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    """Paths of string fields that could hold free text or contact data."""
    if "$ref" in schema:
        return _string_leaks(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    leaks: list[str] = []
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            leaks += _string_leaks(sub, defs, path)
    kind = schema.get("type")
    if kind == "string":
        constrained = (
            "enum" in schema
            or "const" in schema
            or schema.get("format") in FREE_TEXT_FORMATS
            or (
                "pattern" in schema
                and schema.get("maxLength", 10**6) <= 64
                and "@" not in schema["pattern"]
            )
        )
        if not constrained:
            leaks.append(path)
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            leaks += _string_leaks(sub, defs, f"{path}.{name}")
    elif kind == "array":
        leaks += _string_leaks(schema.get("items", {}), defs, f"{path}[]")
    return leaks


@pytest.mark.parametrize(
    "cls",
    [c for c in ALL_EVENTS if c.residency is Residency.NETWORK and not c.superhub],
    ids=lambda c: c.__name__,
)
def test_network_events_carry_no_free_text_or_contact_data(cls: type) -> None:
    schema = event_schema(cls)
    data = schema["$defs"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert _string_leaks(data, schema.get("$defs", {}), cls.__name__) == []


def test_the_free_text_check_catches_a_name_field() -> None:
    """Negative control: a regional event with free text would be caught by the check."""
    schema = event_schema(CaseRejected)
    data = schema["$defs"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert "CaseRejected.reason" in _string_leaks(data, schema.get("$defs", {}), "CaseRejected")


def test_every_event_type_is_unique_and_versioned() -> None:
    assert len(EVENT_TYPES) == len(ALL_EVENTS)
    for event_type in EVENT_TYPES:
        assert event_type.startswith("echo.") and event_type.rsplit(".", 1)[1].startswith("v")


def _scheduled() -> SessionScheduled:
    return SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at=datetime(2027, 3, 1, 17, tzinfo=UTC),
        ends_at=datetime(2027, 3, 1, 18, 30, tzinfo=UTC),
        timezone="America/Toronto",
    )


def test_envelope_round_trips_on_the_wire() -> None:
    data = _scheduled()
    env = new_envelope(data, region="ontario", service="scheduling")
    back = decode(to_wire(env))
    assert isinstance(back, Envelope)
    assert back == env
    assert back.type == "echo.scheduling.session_scheduled.v1"
    assert back.source == "scheduling@ontario"
    assert back.subject == str(data.session_id)


def test_a_body_in_another_field_order_or_text_decodes_the_same() -> None:
    """The one-pass path guesses the type from the first `"type"` key; a misleading first key
    (a producer that writes `data` first) or a str body must give the same envelope."""
    data = _scheduled()
    env = new_envelope(data, region="ontario", service="scheduling")
    fields = json.loads(to_wire(env))
    decoy = {"note": {"type": "echo.cases.case_rejected.v1"}, **fields}
    # guessed as CaseRejected, then read as what it is; the unknown `note` attribute is ignored
    assert decode(json.dumps(decoy).encode()) == env
    body = json.dumps({"data": fields["data"], **fields})
    assert decode(body) == env
    assert decode(body.encode()) == env


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "echo.nope.v1"}',
        b'{"type": "echo.scheduling.session_scheduled.v1"}',
    ],
)
def test_undecodable_bodies_are_invalid_events(body: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode(body)


def test_readers_ignore_unknown_fields_and_extension_attributes() -> None:
    """A newer producer's optional field and a CloudEvents extension do not break a reader."""
    env = new_envelope(_scheduled(), region="ontario", service="scheduling")
    fields = json.loads(to_wire(env))
    fields["data"]["room"] = "B"  # an optional field a later v1 added
    fields["traceparentx"] = "00-abc"  # an extension attribute this version does not know
    assert decode(json.dumps(fields).encode()) == env
    assert decode(json.dumps({"data": fields.pop("data"), **fields})) == env  # careful path


def test_unknown_types_and_newer_versions_come_back_as_unknown_events() -> None:
    env = new_envelope(_scheduled(), region="ontario", service="scheduling")
    fields = json.loads(to_wire(env))
    newer = decode(json.dumps({**fields, "type": "echo.scheduling.session_scheduled.v2"}))
    assert isinstance(newer.data, UnknownEvent)
    assert newer.type == "echo.scheduling.session_scheduled.v2"
    assert newer.data.newer_version_of() is SessionScheduled
    assert newer.data.payload == fields["data"]
    assert (newer.id, newer.region) == (env.id, "ontario")
    other = decode(json.dumps({**fields, "type": "echo.billing.invoice_sent.v1"}))
    assert isinstance(other.data, UnknownEvent) and other.data.newer_version_of() is None
    # a known type whose required field is missing can never be read: that is still an error
    del fields["data"]["session_id"]
    with pytest.raises(InvalidEvent, match="session_id"):
        decode(json.dumps(fields))


def test_published_schemas_allow_what_a_newer_version_may_add() -> None:
    text = json.dumps(event_schema(SessionScheduled))
    assert '"additionalProperties": false' not in text
    assert '"additionalProperties": false' not in (CONTRACTS / "asyncapi.json").read_text()


def test_events_are_frozen_and_closed() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        SessionScheduled.model_validate(
            {
                "session_id": str(uuid.uuid4()),
                "programme_id": str(uuid.uuid4()),
                "starts_at": "2027-03-01T17:00:00Z",
                "ends_at": "2027-03-01T18:00:00Z",
                "timezone": "America/Toronto",
                "patient_name": "x",
            }
        )


def test_subjects_put_the_region_second() -> None:
    assert subject_for("northern-ireland", SessionScheduled) == (
        "echo.northern-ireland.scheduling.session_scheduled"
    )
    parts = parse_subject("echo.ontario.cases.case_submitted")
    assert (parts.region, parts.context, parts.event_name) == ("ontario", "cases", "case_submitted")
    with pytest.raises(ValueError, match=r"echo\.<region>"):
        parse_subject("ontario.cases.case_submitted")
    with pytest.raises(ValueError, match="region"):
        subject_for("Not A Region", SessionScheduled)


def test_streams_and_consumers() -> None:
    assert stream_name("northern-ireland") == "ECHO_NORTHERN_IRELAND"
    stream = region_stream("ontario")
    assert stream.subjects == ("echo.ontario.>",)
    assert stream.duplicate_window_seconds >= 600
    assert all("case_rejected" not in s for s in network_subjects("ontario"))
    durables = [c.durable for c in CONSUMERS]
    assert len(durables) == len(set(durables))
    for consumer in CONSUMERS:
        assert consumer.filter_subjects("ontario")


def test_contracts_install_with_pydantic_only() -> None:
    project = tomllib.loads((CONTRACTS / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0].split("=")[0].split("<")[0] for d in project["dependencies"]] == [
        "pydantic"
    ]
