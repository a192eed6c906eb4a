"""The PHI gate: what a finding is, and the error a case with findings becomes.

A finding names a HIPAA Safe Harbor category and a character span, never the text itself, so the
error can be answered, logged and counted without repeating what it found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class PhiCategory(StrEnum):
    NAME = "name"
    STREET_ADDRESS = "street_address"
    POSTCODE = "postcode"
    GEOGRAPHIC = "geographic"
    DATE = "date"
    AGE_OVER_89 = "age_over_89"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    IP_ADDRESS = "ip_address"
    MEDICAL_RECORD_NUMBER = "medical_record_number"
    HEALTH_PLAN_NUMBER = "health_plan_number"
    NATIONAL_ID = "national_id"
    ACCOUNT_NUMBER = "account_number"
    LICENCE_NUMBER = "licence_number"
    VEHICLE_ID = "vehicle_id"
    DEVICE_ID = "device_id"


@dataclass(frozen=True, order=True)
class Span:
    """A category found at text[start:end] (end exclusive)."""

    start: int
    end: int
    category: PhiCategory


@dataclass(frozen=True)
class Finding:
    field: str
    category: PhiCategory
    start: int
    end: int


class PhiScreener(Protocol):
    def scan(self, text: str) -> list[Span]:
        """Every identifier found in `text`, as spans."""
        ...


class CaseContainsPhi(Exception):
    """The case text holds identifiers; it is refused and not kept anywhere."""

    field = "fields"

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        counts = Counter(f.category.value for f in findings)
        fields = sorted({f.field for f in findings})
        summary = ", ".join(f"{c} x{n}" for c, n in sorted(counts.items()))
        super().__init__(
            f"the case text contains {len(findings)} possible identifier(s) "
            f"({summary}) in {', '.join(fields)}; "
            "remove or generalise them (age band instead of age, year instead of date, no names, "
            "places, numbers or contacts) and submit again. The text was not stored."
        )

    def problem_extra(self) -> dict[str, Any]:
        return {
            "categories": sorted({f.category.value for f in self.findings}),
            "findings": [
                {"field": f.field, "category": f.category.value, "start": f.start, "end": f.end}
                for f in self.findings
            ],
            "errors": [
                {
                    "field": f.field,
                    "message": f"{f.category.value} at characters {f.start}-{f.end}",
                }
                for f in self.findings
            ],
        }


def screen_fields(screener: PhiScreener, fields: dict[str, str], prefix: str = "fields.") -> None:
    """Raise CaseContainsPhi when any of `fields` holds an identifier."""
    findings = [
        Finding(f"{prefix}{name}", span.category, span.start, span.end)
        for name, text in fields.items()
        for span in screener.scan(text)
    ]
    if findings:
        raise CaseContainsPhi(findings)
