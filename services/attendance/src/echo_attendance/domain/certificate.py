"""A certificate of participation and credit, as printed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CertificateLine:
    starts_at: datetime
    attended_seconds: int
    hours: Decimal
    adjusted: bool


@dataclass(frozen=True)
class Certificate:
    id: uuid.UUID
    participant_name: str
    participant_email: str
    profession: str
    clinic: str
    programme_id: uuid.UUID
    programme_title: str
    lines: list[CertificateLine]
    hours: Decimal
    verification_code: str
    issued_at: datetime
    accreditation_statement: str
