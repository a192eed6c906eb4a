"""Every v1 event type of the platform, grouped by the bounded context that publishes it.

Rules: past tense; frozen; `extra="forbid"`; a published version only gains optional fields.
`network` events carry ids, codes, numbers and times only (a test enforces it).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from echo_contracts.envelope import Event, Residency
from echo_contracts.types import Code, Email, LanguageTag, Name, Region, Text, TimeZoneName


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- scheduling


class HubRole(StrEnum):
    FACILITATOR = "facilitator"
    DIDACTIC_EXPERT = "didactic_expert"
    SPECIALIST = "specialist"
    IT_SUPPORT = "it_support"
    ADMIN = "admin"


class HubTeamMember(_Part):
    person_id: uuid.UUID
    name: Name
    email: Email | None = None
    role: HubRole


class CurriculumTopic(_Part):
    position: int = Field(ge=1)
    title: Name
    presenter_name: Name | None = None


class ProgrammeCreated(Event):
    """A programme (a series of sessions) was set up in a region."""

    context = "scheduling"
    event_name = "programme_created"
    residency = Residency.NETWORK

    programme_id: uuid.UUID
    region: Region
    language: LanguageTag
    timezone: TimeZoneName
    session_minutes: int = Field(ge=30, le=240)
    starts_on: date
    ends_on: date | None = None
    template_id: uuid.UUID | None = None
    template_version: int | None = Field(default=None, ge=1)

    def aggregate_id(self) -> str:
        return str(self.programme_id)


class ProgrammeProfileUpdated(Event):
    """A programme's human-readable profile (name, team, curriculum) was set or changed."""

    context = "scheduling"
    event_name = "programme_profile_updated"
    residency = Residency.REGIONAL

    programme_id: uuid.UUID
    title: Name
    description: Text | None = None
    hub_team: list[HubTeamMember] = Field(default_factory=list)
    curriculum: list[CurriculumTopic] = Field(default_factory=list)

    def aggregate_id(self) -> str:
        return str(self.programme_id)


class SessionScheduled(Event):
    """A session of a programme was put on the calendar."""

    context = "scheduling"
    event_name = "session_scheduled"
    residency = Residency.NETWORK

    session_id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    timezone: TimeZoneName
    sequence: int = Field(default=0, ge=0)

    def aggregate_id(self) -> str:
        return str(self.session_id)


class SessionRescheduled(Event):
    """A session moved to another time; its calendar UID stays and its SEQUENCE rises."""

    context = "scheduling"
    event_name = "session_rescheduled"
    residency = Residency.NETWORK

    session_id: uuid.UUID
    programme_id: uuid.UUID
    previous_starts_at: datetime
    starts_at: datetime
    ends_at: datetime
    timezone: TimeZoneName
    sequence: int = Field(ge=1)

    def aggregate_id(self) -> str:
        return str(self.session_id)


class SessionCancelled(Event):
    """A session was cancelled; the reason stays in the scheduling service."""

    context = "scheduling"
    event_name = "session_cancelled"
    residency = Residency.NETWORK

    session_id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    sequence: int = Field(ge=1)

    def aggregate_id(self) -> str:
        return str(self.session_id)


class CaseSlot(_Part):
    position: int = Field(ge=1, le=2)
    case_id: uuid.UUID | None = None


class AgendaUpdated(Event):
    """A session's agenda (didactic topic, presenter, case slots) was set or changed."""

    context = "scheduling"
    event_name = "agenda_updated"
    residency = Residency.REGIONAL

    session_id: uuid.UUID
    programme_id: uuid.UUID
    didactic_topic: Name | None = None
    presenter_name: Name | None = None
    case_slots: list[CaseSlot] = Field(default_factory=list, max_length=2)
    warnings: list[Code] = Field(default_factory=list)

    def aggregate_id(self) -> str:
        return str(self.session_id)


class RecurrenceFrequency(StrEnum):
    WEEKLY = "weekly"
    MONTHLY_BY_WEEKDAY = "monthly_by_weekday"
    ONE_OFF = "one_off"


class TemplateTopic(_Part):
    position: int = Field(ge=1)
    title: Name


class TemplatePublished(Event):
    """The superhub published (a version of) a programme template for regions to replicate.

    It flows down from the superhub, not up from a region: its curriculum titles are the
    superhub's own teaching topics, never personal or clinical data.
    """

    context = "scheduling"
    event_name = "template_published"
    residency = Residency.NETWORK
    superhub = True

    template_id: uuid.UUID
    template_version: int = Field(ge=1)
    title: Name
    language: LanguageTag
    session_minutes: int = Field(ge=30, le=240)
    frequency: RecurrenceFrequency
    interval_weeks: int = Field(default=1, ge=1, le=8)
    weekday: int = Field(ge=0, le=6)
    local_start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    session_count: int = Field(ge=1, le=160)
    curriculum: list[TemplateTopic] = Field(default_factory=list)
    case_template_id: Code | None = None
    credit_rule: Code | None = None
    #: Monthly templates: the week of the month (1-4, or -1 for the last) on `weekday`.
    week_of_month: int | None = Field(default=None, ge=-1, le=4)

    def aggregate_id(self) -> str:
        return str(self.template_id)


class MaterialKind(StrEnum):
    SLIDES = "slides"
    DOCUMENT = "document"
    LINK = "link"
    RECORDING = "recording"


class MaterialAdded(Event):
    """A file or link was added to a programme's library (titles stay in the region)."""

    context = "scheduling"
    event_name = "material_added"
    residency = Residency.NETWORK

    material_id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID | None = None
    kind: MaterialKind
    language: LanguageTag
    size_bytes: int = Field(ge=0)

    def aggregate_id(self) -> str:
        return str(self.material_id)


class MaterialRemoved(Event):
    """A library item was withdrawn; its file is deleted from storage."""

    context = "scheduling"
    event_name = "material_removed"
    residency = Residency.NETWORK

    material_id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID | None = None
    kind: MaterialKind

    def aggregate_id(self) -> str:
        return str(self.material_id)


# --------------------------------------------------------------------------- cases


class CaseSubmitted(Event):
    """A spoke submitted a case that passed the PHI screen; the text stays in the cases service."""

    context = "cases"
    event_name = "case_submitted"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    presenter_id: uuid.UUID
    template_id: Code
    template_version: int = Field(ge=1)

    def aggregate_id(self) -> str:
        return str(self.case_id)


class CaseReviewStarted(Event):
    """A hub member started reviewing a case."""

    context = "cases"
    event_name = "case_review_started"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    reviewer_id: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.case_id)


class CaseApproved(Event):
    """A facilitator approved a case for presentation."""

    context = "cases"
    event_name = "case_approved"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    presenter_id: uuid.UUID
    approved_by: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.case_id)


class CaseRejected(Event):
    """A facilitator rejected a case; the presenter is told the reason."""

    context = "cases"
    event_name = "case_rejected"
    residency = Residency.REGIONAL

    case_id: uuid.UUID
    programme_id: uuid.UUID
    presenter_id: uuid.UUID
    rejected_by: uuid.UUID
    reason: Text

    def aggregate_id(self) -> str:
        return str(self.case_id)


class CaseScheduled(Event):
    """An approved case was put into a session's case slot."""

    context = "cases"
    event_name = "case_scheduled"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID
    slot: int = Field(ge=1, le=2)

    def aggregate_id(self) -> str:
        return str(self.case_id)


class CasePresented(Event):
    """A case was presented and discussed in its session."""

    context = "cases"
    event_name = "case_presented"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.case_id)


class RecommendationsIssued(Event):
    """The hub's written recommendations were recorded; their text stays in the cases service."""

    context = "cases"
    event_name = "recommendations_issued"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    presenter_id: uuid.UUID
    issued_by: uuid.UUID
    follow_up_due_on: date | None = None

    def aggregate_id(self) -> str:
        return str(self.case_id)


class FollowUpRequested(Event):
    """A follow-up presentation of a case was requested for a later date."""

    context = "cases"
    event_name = "follow_up_requested"
    residency = Residency.NETWORK

    case_id: uuid.UUID
    programme_id: uuid.UUID
    due_on: date

    def aggregate_id(self) -> str:
        return str(self.case_id)


class RecommendationsRecorded(Event):
    """The text of the hub's recommendations, for the presenter (regional: clinical text).

    Published with RecommendationsIssued (the network-safe fact); it lets notifications send the
    recommendations themselves to the presenter without leaving the region.
    """

    context = "cases"
    event_name = "recommendations_recorded"
    residency = Residency.REGIONAL

    case_id: uuid.UUID
    programme_id: uuid.UUID
    presenter_id: uuid.UUID
    issued_by: uuid.UUID
    text: Text
    follow_up_due_on: date | None = None

    def aggregate_id(self) -> str:
        return str(self.case_id)


# --------------------------------------------------------------------------- attendance


class Profession(StrEnum):
    PHYSICIAN = "physician"
    NURSE_PRACTITIONER = "nurse_practitioner"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    PHYSICIAN_ASSISTANT = "physician_assistant"
    SOCIAL_WORKER = "social_worker"
    PSYCHOLOGIST = "psychologist"
    COMMUNITY_HEALTH_WORKER = "community_health_worker"
    ALLIED_HEALTH = "allied_health"
    OTHER = "other"


class ParticipantRegistered(Event):
    """A spoke clinician's profile was created (personal data: stays in the region)."""

    context = "attendance"
    event_name = "participant_registered"
    residency = Residency.REGIONAL

    participant_id: uuid.UUID
    name: Name
    email: Email
    profession: Profession
    clinic: Name
    clinic_id: uuid.UUID
    language: LanguageTag
    timezone: TimeZoneName | None = None

    def aggregate_id(self) -> str:
        return str(self.participant_id)


class RegistrationConfirmed(Event):
    """A participant was registered to a programme (ids and codes only)."""

    context = "attendance"
    event_name = "registration_confirmed"
    residency = Residency.NETWORK

    registration_id: uuid.UUID
    participant_id: uuid.UUID
    programme_id: uuid.UUID
    clinic_id: uuid.UUID
    profession: Profession

    def aggregate_id(self) -> str:
        return str(self.registration_id)


class AttendanceSource(StrEnum):
    ZOOM = "zoom"
    GENERIC = "generic"
    MANUAL = "manual"


class AttendanceRecorded(Event):
    """A participant's (or guest's) attended time in a session was recorded or revised."""

    context = "attendance"
    event_name = "attendance_recorded"
    residency = Residency.NETWORK

    attendance_id: uuid.UUID
    session_id: uuid.UUID
    programme_id: uuid.UUID
    participant_id: uuid.UUID | None = None
    guest: bool = False
    guest_id: uuid.UUID | None = None
    attended_seconds: int = Field(ge=0)
    session_seconds: int = Field(ge=0)
    source: AttendanceSource
    adjusted: bool = False
    revision: int = Field(default=1, ge=1)

    def aggregate_id(self) -> str:
        return str(self.attendance_id)


class CreditAwarded(Event):
    """CME/CPD credit was awarded, or changed by `delta_hours` after a recomputation."""

    context = "attendance"
    event_name = "credit_awarded"
    residency = Residency.NETWORK

    credit_id: uuid.UUID
    participant_id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID
    hours: float = Field(ge=0)
    delta_hours: float
    rule_version: int = Field(ge=1)

    def aggregate_id(self) -> str:
        return str(self.credit_id)


class CertificateIssued(Event):
    """A certificate became available for a participant in a programme."""

    context = "attendance"
    event_name = "certificate_issued"
    residency = Residency.NETWORK

    certificate_id: uuid.UUID
    participant_id: uuid.UUID
    programme_id: uuid.UUID
    hours: float = Field(ge=0)

    def aggregate_id(self) -> str:
        return str(self.certificate_id)


class QuestionKind(StrEnum):
    """What a survey question measures; reporting maps kinds to Moore's outcome levels."""

    SATISFACTION = "satisfaction"
    RELEVANCE = "relevance"
    CONFIDENCE_BEFORE = "confidence_before"
    CONFIDENCE_AFTER = "confidence_after"
    INTENT_TO_CHANGE = "intent_to_change"
    COMMENT = "comment"


class EvaluationScore(_Part):
    question: Code
    kind: QuestionKind
    value: int = Field(ge=1, le=5)


class EvaluationOpened(Event):
    """A session's post-session survey was sent to the people who attended it (counts only)."""

    context = "attendance"
    event_name = "evaluation_opened"
    residency = Residency.NETWORK

    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int = Field(ge=1)
    invited: int = Field(ge=0)
    closes_at: datetime

    def aggregate_id(self) -> str:
        return str(self.session_id)


class EvaluationRequested(Event):
    """One attendee is asked to answer a session's survey through a signed, expiring link."""

    context = "attendance"
    event_name = "evaluation_requested"
    residency = Residency.REGIONAL

    request_id: uuid.UUID
    participant_id: uuid.UUID
    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int = Field(ge=1)
    response_url: Text
    closes_at: datetime

    def aggregate_id(self) -> str:
        return str(self.request_id)


class EvaluationSubmitted(Event):
    """A survey answer: scores only; the free comment and the respondent stay in the region."""

    context = "attendance"
    event_name = "evaluation_submitted"
    residency = Residency.NETWORK

    response_id: uuid.UUID
    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int = Field(ge=1)
    scores: list[EvaluationScore] = Field(default_factory=list, max_length=50)
    has_comment: bool = False

    def aggregate_id(self) -> str:
        return str(self.response_id)


# --------------------------------------------------------------------------- notifications


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"


class NotificationSent(Event):
    """A message was delivered to a recipient over one channel."""

    context = "notifications"
    event_name = "notification_sent"
    residency = Residency.NETWORK

    delivery_id: uuid.UUID
    recipient_id: uuid.UUID
    channel: Channel
    template: Code
    language: LanguageTag
    cause_event_id: uuid.UUID
    attempts: int = Field(ge=1)

    def aggregate_id(self) -> str:
        return str(self.delivery_id)


class NotificationFailed(Event):
    """A message could not be delivered after the bounded retries."""

    context = "notifications"
    event_name = "notification_failed"
    residency = Residency.NETWORK

    delivery_id: uuid.UUID
    recipient_id: uuid.UUID
    channel: Channel
    template: Code
    cause_event_id: uuid.UUID
    attempts: int = Field(ge=1)
    error_code: Code

    def aggregate_id(self) -> str:
        return str(self.delivery_id)


ALL_EVENTS: tuple[type[Event], ...] = (
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionScheduled,
    SessionRescheduled,
    SessionCancelled,
    AgendaUpdated,
    TemplatePublished,
    MaterialAdded,
    MaterialRemoved,
    CaseSubmitted,
    CaseReviewStarted,
    CaseApproved,
    CaseRejected,
    CaseScheduled,
    CasePresented,
    RecommendationsIssued,
    FollowUpRequested,
    RecommendationsRecorded,
    ParticipantRegistered,
    RegistrationConfirmed,
    AttendanceRecorded,
    CreditAwarded,
    CertificateIssued,
    EvaluationOpened,
    EvaluationRequested,
    EvaluationSubmitted,
    NotificationSent,
    NotificationFailed,
)
