"""Bounded input, checked once for every service: request bodies derive from `InputModel`.

* Every string anywhere in a body (nested models, lists, dict values) is refused with a 422
  when it holds a control character (NUL, escape, DEL, C1 controls, ...); newline, carriage
  return and tab are allowed, since most free text is multi-line.
* A field typed `Line` (titles, names) is a single line: newline and tab are refused there too.
* Integers that reach a database column are bounded: `Version`, `MAX_INT32` (the offset in
  `pagination`), so an out-of-range number is a 422, never an overflow in the driver (a 500).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: PostgreSQL's INTEGER: the widest column the services put these numbers in.
MAX_INT32 = 2**31 - 1

Version = Annotated[int, Field(ge=1, le=MAX_INT32)]

#: C0 controls except tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r\u2028\u2029]")
#: The same rules as JSON Schema patterns, so the OpenAPI says what is refused.
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"


class _SingleLine:
    """Marks a string field that must be one line (see `Line`)."""


Line = Annotated[str, _SingleLine()]


def _marked(annotation: Any) -> bool:
    """Whether a type (`Line | None`, `list[Line]`...) holds the single-line marker."""
    if isinstance(annotation, _SingleLine):
        return True
    return any(_marked(arg) for arg in get_args(annotation))


def _control_in(value: Any, single_line: bool) -> str | None:
    """A description of the first forbidden character in `value` (searched recursively)."""
    if isinstance(value, str):
        found = _CONTROL.search(value) or (_LINE_BREAKS.search(value) if single_line else None)
        if found:
            return f"U+{ord(found.group()):04X} at position {found.start()}"
        return None
    if isinstance(value, BaseModel):
        return None  # its own validators checked it
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        return None
    for item in items:
        hit = _control_in(item, single_line)
        if hit:
            return hit
    return None


def check_line(value: str) -> str:
    """`value` when it is one line without control characters (for query parameters)."""
    hit = _control_in(value, True)
    if hit:
        raise ValueError(f"must be one line without control characters ({hit})")
    return value


def _document(schema: dict[str, Any], pattern: str) -> None:
    """Add `pattern` to every string schema under `schema` that has none (nested models are
    documented by their own classes, through `$ref`)."""
    plain = "pattern" not in schema and "enum" not in schema and "format" not in schema
    if schema.get("type") == "string" and plain:
        schema["pattern"] = pattern
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _document(schema[key], pattern)
    if "additionalProperties" in schema and "propertyNames" not in schema:
        schema["propertyNames"] = {"pattern": pattern}
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            _document(option, pattern)


def _document_properties(schema: dict[str, Any], model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        prop = schema.get("properties", {}).get(field.alias or name)
        if isinstance(prop, dict):
            single = any(isinstance(m, _SingleLine) for m in field.metadata) or _marked(
                field.annotation
            )
            _document(prop, LINE_PATTERN if single else TEXT_PATTERN)


class InputModel(BaseModel):
    """The base of request bodies: no control characters in their strings."""

    model_config = ConfigDict(json_schema_extra=_document_properties)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        single = field is not None and (
            any(isinstance(m, _SingleLine) for m in field.metadata) or _marked(field.annotation)
        )
        hit = _control_in(value, single)
        if hit:
            if single:
                check_line(value)
            raise ValueError(
                f"text holds a control character ({hit}); remove it"
                " (newline and tab are allowed here)"
            )
        return value
