"""Deliveries, preferences, reminders and their rules: plain Python, no framework."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Deliveries are identified by uuid5 of their idempotency key in this namespace.
DELIVERY_NAMESPACE = uuid.UUID("6f1d0a52-4c1e-5b7e-9a55-0e3c8f1d2b77")
DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en", "fr", "zh-Hans")


class NotificationsError(Exception):
    """Base of the notifications domain's errors."""

    field: str = "body"


class UnknownTimeZone(NotificationsError):
    field = "timezone"


class UnsupportedLanguage(NotificationsError):
    field = "language"


class UnsupportedChannel(NotificationsError):
    field = "channels"


class WebhookUrlMissing(NotificationsError):
    field = "webhook_url"


class InvalidQuietHours(NotificationsError):
    field = "quiet_hours"


class UnsupportedTopic(NotificationsError):
    field = "topics"


class UnsupportedOptOut(NotificationsError):
    field = "opted_out"


class ChannelKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"


class ReminderKind(StrEnum):
    DAY_BEFORE = "day_before"
    HOUR_BEFORE = "hour_before"

    @property
    def template(self) -> str:
        return f"reminder_{self.value}"


#: How long before the session each reminder is due, and until when it is still worth sending.
REMINDER_LEAD: dict[ReminderKind, timedelta] = {
    ReminderKind.DAY_BEFORE: timedelta(days=1),
    ReminderKind.HOUR_BEFORE: timedelta(hours=1),
}
REMINDER_EXPIRY_BEFORE_START: dict[ReminderKind, timedelta] = {
    # A late day-before reminder is pointless once the hour-before one is due.
    ReminderKind.DAY_BEFORE: timedelta(hours=1),
    ReminderKind.HOUR_BEFORE: timedelta(0),
}
SESSION_TEMPLATES = frozenset(
    {"reminder_day_before", "reminder_hour_before", "session_rescheduled", "session_cancelled"}
)
#: Messages a hub team member may opt into (participants get every message meant for them).
STAFF_TOPICS = SESSION_TEMPLATES | {"case_submitted"}
#: What a hub team member who never chose gets: new cases, if they review cases.
DEFAULT_STAFF_TOPICS = frozenset({"case_submitted"})
CASE_REVIEWER_ROLES = frozenset({"facilitator", "admin"})

#: Optional messages anyone may opt out of, by topic (the others concern them directly).
OPTIONAL_TOPICS: dict[str, frozenset[str]] = {
    "evaluations": frozenset({"evaluation_requested"}),
    "library": frozenset({"recording_available"}),
}
#: Parameters of a delivery that are credentials or clinical text: used to write the message,
#: never logged, never published, and erased from the delivery row once it is final.
SECRET_PARAMS = frozenset({"response_url", "recommendations"})


def topic_of(template: str) -> str | None:
    """The optional topic a template belongs to (None: not one a recipient can opt out of)."""
    for topic, templates in OPTIONAL_TOPICS.items():
        if template in templates:
            return topic
    return None


def without_secrets(params: dict[str, Any]) -> dict[str, Any]:
    """A delivery's parameters with the credentials and clinical text removed."""
    return {k: v for k, v in params.items() if k not in SECRET_PARAMS}


def staff_wants(role: str, topics: list[str] | None, template: str) -> bool:
    """Whether a hub team member with `role` and opted-in `topics` gets `template`."""
    if topics is not None:
        return template in topics
    return template in DEFAULT_STAFF_TOPICS and role in CASE_REVIEWER_ROLES


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or UnknownTimeZone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(
            f"unknown time zone {name!r}; use an IANA name such as 'America/Toronto'"
        ) from None


def safe_zone(*names: str | None) -> ZoneInfo:
    """The first valid zone among `names`, UTC when none is."""
    for name in names:
        if name:
            try:
                return zone(name)
            except UnknownTimeZone:
                continue
    return ZoneInfo("UTC")


def supported_language(tag: str | None) -> str | None:
    """Map a BCP 47 tag to a language we have templates for (`fr-CA` -> `fr`), or None."""
    if not tag:
        return None
    lowered = tag.lower()
    if lowered.startswith("zh"):
        # Simplified Chinese is the only Chinese we write; Traditional tags fall back.
        return None if ("hant" in lowered or lowered in ("zh-tw", "zh-hk", "zh-mo")) else "zh-Hans"
    primary = lowered.split("-")[0]
    return primary if primary in SUPPORTED_LANGUAGES else None


def resolve_language(*candidates: str | None) -> str:
    """The first supported language among preference, recipient and programme; English last."""
    for tag in candidates:
        found = supported_language(tag)
        if found:
            return found
    return DEFAULT_LANGUAGE


def idempotency_key(
    cause_event_id: uuid.UUID, recipient_id: uuid.UUID, template: str, channel: str
) -> str:
    """The key of one message: the same cause never sends the same template twice per channel."""
    return f"{cause_event_id}:{recipient_id}:{template}:{channel}"


def delivery_id(key: str) -> uuid.UUID:
    """A delivery's id, derived from its idempotency key (so every replica derives the same)."""
    return uuid.uuid5(DELIVERY_NAMESPACE, key)


def evaluation_cause_id(request_id: uuid.UUID) -> uuid.UUID:
    """The cause of a survey invitation: the request, so a re-sent request mails nothing more."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"evaluation:{request_id}")


def recording_cause_id(material_id: uuid.UUID) -> uuid.UUID:
    """The cause of a "recording in the library" message: one per material."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"material:{material_id}")


def recommendations_cause_id(case_id: uuid.UUID) -> uuid.UUID:
    """The one cause shared by RecommendationsIssued and RecommendationsRecorded of a case."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"recommendations:{case_id}")


#: The idempotency slot shared by the two recommendations messages (one of them is sent).
RECOMMENDATIONS_SLOT = "recommendations"


def reminder_cause_id(
    session_id: uuid.UUID, kind: ReminderKind, starts_at: datetime, sequence: int
) -> uuid.UUID:
    """The cause of a reminder: one version of the session (a move makes a new reminder)."""
    return uuid.uuid5(
        session_id, f"{kind.value}@{starts_at.astimezone(UTC).isoformat()}#{sequence}"
    )


@dataclass(frozen=True)
class Reminder:
    session_id: uuid.UUID
    kind: ReminderKind
    due_at: datetime
    expires_at: datetime


def reminders_for(session_id: uuid.UUID, starts_at: datetime) -> list[Reminder]:
    """The day-before and hour-before reminders of a session starting at `starts_at`."""
    return [
        Reminder(
            session_id=session_id,
            kind=kind,
            due_at=starts_at - lead,
            expires_at=starts_at - REMINDER_EXPIRY_BEFORE_START[kind],
        )
        for kind, lead in REMINDER_LEAD.items()
    ]


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: base, 2x base, 4x base..."""
    exponent = max(attempts - 1, 0)
    return timedelta(seconds=min(base_seconds * (2 ** min(exponent, 30)), max_seconds))


@dataclass(frozen=True)
class QuietHours:
    """A daily window, in the recipient's own time zone, when nothing is sent."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidQuietHours("quiet hours must start and end at different times")

    def _contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # the window spans midnight

    def deferral(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """When a message due `now` may go out, or None when `now` is outside the window."""
        local = now.astimezone(tz)
        if not self._contains(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=tz)
        return end.astimezone(UTC)


@dataclass
class Preferences:
    """How a participant wants to be reached."""

    participant_id: uuid.UUID
    channels: list[ChannelKind] = field(default_factory=lambda: [ChannelKind.EMAIL])
    language: str | None = None
    timezone: str | None = None
    quiet_hours: QuietHours | None = None
    webhook_url: str | None = None
    #: Hub team members: the messages they opted into (None: the defaults of their role).
    topics: list[str] | None = None
    #: Optional topics (`OPTIONAL_TOPICS`) the recipient does not want.
    opted_out: list[str] = field(default_factory=list)

    def wants(self, template: str) -> bool:
        """Whether the recipient still wants `template` (not in a topic they opted out of)."""
        topic = topic_of(template)
        return topic is None or topic not in self.opted_out

    def validate(self, offered: frozenset[ChannelKind]) -> None:
        """Raise the domain error naming the first field that cannot be honoured."""
        for channel in self.channels:
            if channel not in offered:
                raise UnsupportedChannel(
                    f"channel {channel.value!r} is not offered here; choose from"
                    f" {sorted(c.value for c in offered)}"
                )
        if self.language is not None and supported_language(self.language) is None:
            raise UnsupportedLanguage(
                f"language {self.language!r} has no templates; choose from"
                f" {list(SUPPORTED_LANGUAGES)}"
            )
        if self.timezone is not None:
            zone(self.timezone)
        for topic in self.topics or []:
            if topic not in STAFF_TOPICS:
                raise UnsupportedTopic(
                    f"topic {topic!r} is not one to opt into; choose from {sorted(STAFF_TOPICS)}"
                )
        for topic in self.opted_out:
            if topic not in OPTIONAL_TOPICS:
                raise UnsupportedOptOut(
                    f"topic {topic!r} cannot be opted out of; choose from {sorted(OPTIONAL_TOPICS)}"
                )
        if ChannelKind.WEBHOOK in self.channels and not self.webhook_url:
            raise WebhookUrlMissing("the webhook channel needs a webhook_url to post to")
