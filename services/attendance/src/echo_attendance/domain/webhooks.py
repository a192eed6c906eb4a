"""Signed video-tool webhooks: verification and normalisation into presence signals.

Zoom signs `v0:<timestamp>:<raw body>` with HMAC-SHA256 (`x-zm-signature: v0=<hex>`); the generic
provider (Teams, Tencent Meeting, dial-in bridges, ...) signs `v1:<timestamp>:<raw body>`
(`x-echo-signature: v1=<hex>`). Verification runs over the raw bytes, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from echo_attendance.domain.model import AttendanceError, EdgeKind

ZOOM = "zoom"
GENERIC = "generic"


class WebhookRejected(AttendanceError):
    """A webhook that is forged, stale, replayed or unsigned: answered 401, changes nothing."""


class UnknownProvider(AttendanceError):
    field = "provider"


class InvalidWebhook(AttendanceError):
    """A correctly signed body that is not a payload we understand."""


@dataclass(frozen=True)
class SignatureScheme:
    version: str
    timestamp_header: str
    signature_header: str


SCHEMES = {
    ZOOM: SignatureScheme("v0", "x-zm-request-timestamp", "x-zm-signature"),
    GENERIC: SignatureScheme("v1", "x-echo-timestamp", "x-echo-signature"),
}


def sign(secret: str, version: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body (also what tests and integrators send)."""
    message = f"{version}:{timestamp}:".encode() + body
    return f"{version}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    provider: str,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> str:
    """Check signature and freshness; return the replay key of this delivery."""
    scheme = SCHEMES.get(provider)
    if scheme is None:
        raise UnknownProvider(f"no video provider {provider!r}; use one of {sorted(SCHEMES)}")
    timestamp = headers.get(scheme.timestamp_header, "")
    signature = headers.get(scheme.signature_header, "")
    if not timestamp or not signature:
        raise WebhookRejected(
            f"missing {scheme.timestamp_header} or {scheme.signature_header} header"
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookRejected(f"{scheme.timestamp_header} is not a Unix time in seconds") from None
    expected = sign(secret, scheme.version, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected("the signature does not match the body and timestamp")
    if abs(now.timestamp() - sent) > tolerance_seconds:
        raise WebhookRejected(
            f"the timestamp is more than {tolerance_seconds} seconds from now; send a fresh one"
        )
    return hashlib.sha256(f"{provider}:{signature}".encode()).hexdigest()


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    """Zoom's endpoint check: echo the token with its HMAC."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


@dataclass(frozen=True)
class PresenceSignal:
    """A normalised join/leave/end from any tool; identity by email or join token only."""

    provider: str
    kind: EdgeKind
    at: datetime
    #: The meeting instance (Zoom's uuid: a restarted meeting gets a new one).
    instance: str
    #: One connection of one person (a reconnection is a new connection).
    connection: str
    #: Zoom's meeting id (linked to a programme), or None when the session is named.
    meeting_id: str | None = None
    session_id: uuid.UUID | None = None
    email: str | None = None
    join_token: str | None = None
    #: The tool's stable id of the person, to key a guest (never the display name).
    external_id: str | None = None
    #: The name the person typed: kept only for guests, in the region, never logged or published.
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class UrlValidation:
    plain_token: str


@dataclass(frozen=True)
class Ignored:
    event: str


Parsed = PresenceSignal | UrlValidation | Ignored


def _json(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except ValueError:
        raise InvalidWebhook("the body is not JSON") from None
    if not isinstance(raw, dict):
        raise InvalidWebhook("the body is not a JSON object")
    return raw


def _time(value: Any, name: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise InvalidWebhook(f"{name} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidWebhook(f"{name} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidWebhook(f"{name} needs a UTC offset")
    return parsed.astimezone(UTC)


def _text(value: Any, limit: int = 254) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def parse_zoom(body: bytes) -> Parsed:
    """Zoom's `meeting.participant_joined` / `_left`, `meeting.ended`, `endpoint.url_validation`."""
    raw = _json(body)
    event = raw.get("event")
    payload = raw.get("payload") or {}
    if not isinstance(payload, dict):
        raise InvalidWebhook("payload is not an object")
    if event == "endpoint.url_validation":
        token = _text(payload.get("plainToken"), 512)
        if token is None:
            raise InvalidWebhook("payload.plainToken is missing")
        return UrlValidation(token)
    obj = payload.get("object") or {}
    if not isinstance(obj, dict):
        raise InvalidWebhook("payload.object is not an object")
    meeting_id = _text(obj.get("id"), 64)
    instance = _text(obj.get("uuid"), 128) or meeting_id
    if event == "meeting.ended":
        if meeting_id is None or instance is None:
            raise InvalidWebhook("payload.object.id is missing")
        at = _time(obj.get("end_time") or raw.get("event_ts"), "payload.object.end_time")
        return PresenceSignal(ZOOM, EdgeKind.END, at, instance, "", meeting_id=meeting_id)
    if event not in ("meeting.participant_joined", "meeting.participant_left"):
        return Ignored(str(event)[:64])
    person = obj.get("participant") or {}
    if not isinstance(person, dict) or meeting_id is None or instance is None:
        raise InvalidWebhook("payload.object.id and payload.object.participant are required")
    joined = event == "meeting.participant_joined"
    at = _time(
        person.get("join_time" if joined else "leave_time") or raw.get("event_ts"),
        "payload.object.participant." + ("join_time" if joined else "leave_time"),
    )
    external = (
        _text(person.get("participant_uuid"), 128)
        or _text(person.get("id"), 128)
        or _text(person.get("user_id"), 128)
    )
    connection = _text(person.get("user_id"), 128) or external or ""
    email = _text(person.get("email"))
    return PresenceSignal(
        ZOOM,
        EdgeKind.JOIN if joined else EdgeKind.LEAVE,
        at,
        instance,
        connection,
        meeting_id=meeting_id,
        email=email.lower() if email else None,
        join_token=_text(person.get("customer_key"), 128),
        external_id=external,
        name=_text(person.get("user_name"), 200),
    )


def parse_generic(body: bytes) -> Parsed:
    """The generic shape: `{"type": "join"|"leave"|"end", "session_id", "occurred_at", ...}`."""
    raw = _json(body)
    kind = raw.get("type")
    if kind not in ("join", "leave", "end"):
        raise InvalidWebhook("type must be 'join', 'leave' or 'end'")
    try:
        session_id = uuid.UUID(str(raw.get("session_id")))
    except ValueError:
        raise InvalidWebhook("session_id is not a UUID") from None
    at = _time(raw.get("occurred_at"), "occurred_at")
    instance = _text(raw.get("instance"), 128) or "default"
    email = _text(raw.get("email"))
    external = _text(raw.get("external_id"), 128)
    token = _text(raw.get("join_token"), 128)
    connection = _text(raw.get("connection_id"), 128) or external or email or token or ""
    if kind != "end" and not (email or token or external):
        raise InvalidWebhook("a join or leave needs email, join_token or external_id")
    return PresenceSignal(
        GENERIC,
        EdgeKind(kind),
        at,
        instance,
        connection,
        session_id=session_id,
        email=email.lower() if email else None,
        join_token=token,
        external_id=external,
        name=_text(raw.get("name"), 200),
    )


PARSERS = {ZOOM: parse_zoom, GENERIC: parse_generic}
