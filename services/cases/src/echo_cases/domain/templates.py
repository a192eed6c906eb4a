"""Versioned case templates: which fields a case form has, which are required, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from echo_cases.domain.model import InvalidCaseForm

MAX_FIELD_CHARS = 4000


class FieldKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"


@dataclass(frozen=True)
class Condition:
    """The field is required when `field` has one of `values`."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class TemplateField:
    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    required_when: Condition | None = None
    max_chars: int = MAX_FIELD_CHARS
    help: str = ""


@dataclass(frozen=True)
class CaseTemplate:
    id: str
    version: int
    title: str
    fields: tuple[TemplateField, ...] = field(default_factory=tuple)

    def field_named(self, name: str) -> TemplateField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def text_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.kind is FieldKind.TEXT)

    def validate(self, values: dict[str, str]) -> dict[str, str]:
        """The form's values, trimmed, or InvalidCaseForm naming every field that is wrong."""
        problems: list[tuple[str, str]] = []
        clean: dict[str, str] = {}
        for name in values:
            if self.field_named(name) is None:
                problems.append((f"fields.{name}", f"template {self.id} has no such field"))
        for spec in self.fields:
            value = (values.get(spec.name) or "").strip()
            required = spec.required or (
                spec.required_when is not None
                and (values.get(spec.required_when.field) or "").strip()
                in spec.required_when.values
            )
            if not value:
                if required:
                    problems.append((f"fields.{spec.name}", f"{spec.label} is required"))
                continue
            if len(value) > spec.max_chars:
                problems.append(
                    (f"fields.{spec.name}", f"at most {spec.max_chars} characters ({len(value)})")
                )
            if spec.kind is FieldKind.CHOICE and value not in spec.choices:
                problems.append((f"fields.{spec.name}", f"choose one of {list(spec.choices)}"))
            clean[spec.name] = value
        if problems:
            raise InvalidCaseForm(problems)
        return clean


AGE_BANDS = ("0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+")

_COMMON: tuple[TemplateField, ...] = (
    TemplateField(
        "presenting_question",
        "Presenting question for the hub",
        required=True,
        max_chars=500,
        help="What you want the hub to help with, in one or two sentences.",
    ),
    TemplateField(
        "age_band",
        "Age band",
        FieldKind.CHOICE,
        required=True,
        choices=AGE_BANDS,
        help="Ages over 89 are one band (90+), as HIPAA Safe Harbor requires.",
    ),
    TemplateField(
        "sex",
        "Sex",
        FieldKind.CHOICE,
        required=True,
        choices=("female", "male", "intersex", "undisclosed"),
    ),
    TemplateField(
        "pregnancy_status",
        "Pregnancy status",
        FieldKind.CHOICE,
        choices=("pregnant", "not_pregnant", "postpartum", "unknown"),
        required_when=Condition("sex", ("female", "intersex")),
    ),
    TemplateField("relevant_history", "Relevant history", required=True),
    TemplateField("medications", "Current medications"),
    TemplateField("investigations", "Investigations and results"),
    TemplateField("what_was_tried", "What has been tried", required=True),
    TemplateField("specific_question", "The specific question", required=True, max_chars=1000),
)

DEFAULT_TEMPLATE = CaseTemplate(
    id="echo-default", version=1, title="ECHO case presentation", fields=_COMMON
)

MENTAL_HEALTH_TEMPLATE = CaseTemplate(
    id="echo-mental-health",
    version=1,
    title="ECHO mental health and addictions case",
    fields=(
        *_COMMON,
        TemplateField(
            "substance_use",
            "Substance use",
            FieldKind.CHOICE,
            required=True,
            choices=("none", "alcohol", "opioids", "stimulants", "cannabis", "multiple"),
        ),
        TemplateField(
            "substance_details",
            "Substance use details",
            required_when=Condition("substance_use", ("opioids", "stimulants", "multiple")),
        ),
        TemplateField("safety_risk", "Current safety risk", required=True),
    ),
)

TEMPLATES: tuple[CaseTemplate, ...] = (DEFAULT_TEMPLATE, MENTAL_HEALTH_TEMPLATE)


def find_template(template_id: str, version: int) -> CaseTemplate | None:
    """The template `template_id` at `version`, or None."""
    return next((t for t in TEMPLATES if t.id == template_id and t.version == version), None)


def latest_template(template_id: str) -> CaseTemplate | None:
    """The highest version of `template_id`, or None."""
    versions = [t for t in TEMPLATES if t.id == template_id]
    return max(versions, key=lambda t: t.version) if versions else None
