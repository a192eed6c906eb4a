"""Attendance: presence edges, merged segments, credit rules. Plain Python, no framework."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

#: Namespace of the deterministic ids of attendance records, credits and certificates.
ATTENDANCE_NS = uuid.UUID("6f1d2a4e-2c1b-4c9a-9a57-0e4f3b8f1a10")


class AttendanceError(Exception):
    """Base of the attendance domain's errors."""

    field: str = "body"


class ParticipantNotFound(AttendanceError):
    pass


class ProgrammeNotFound(AttendanceError):
    pass


class SessionNotFound(AttendanceError):
    pass


class DuplicateParticipant(AttendanceError):
    field = "email"


class AlreadyRegistered(AttendanceError):
    field = "participant_id"


class RegionMismatch(AttendanceError):
    field = "participant_id"


class NotRegistered(AttendanceError):
    field = "participant_id"


class InvalidAttendance(AttendanceError):
    field = "attended_minutes"


class NoCreditYet(AttendanceError):
    pass


class MeetingLinkedElsewhere(AttendanceError):
    """A video meeting is linked to one programme only; another link never overwrites it."""

    field = "meeting_id"


class ProviderNotConfigured(AttendanceError):
    """A meeting of a provider whose webhooks nobody could verify (no secret configured)."""

    field = "provider"


class PresenceInFuture(AttendanceError):
    """A join or leave timed later than its receipt: attendance not yet happened earns nothing."""

    field = "payload.object.participant"


class EdgeKind(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    #: The meeting instance ended: it closes every connection still open in it.
    END = "end"


@dataclass(frozen=True)
class Edge:
    """One join, leave or end signal of one connection in one meeting instance."""

    kind: EdgeKind
    at: datetime
    instance: str
    connection: str


@dataclass(frozen=True)
class Window:
    """A session's scheduled window."""

    starts_at: datetime
    ends_at: datetime

    @property
    def seconds(self) -> int:
        return max(0, int((self.ends_at - self.starts_at).total_seconds()))

    def widened(self, buffer: timedelta) -> Window:
        return Window(self.starts_at - buffer, self.ends_at + buffer)

    def contains(self, at: datetime) -> bool:
        return self.starts_at <= at <= self.ends_at


def segments(edges: list[Edge]) -> list[tuple[datetime, datetime]]:
    """Pair each join with the next leave of its connection (or the end of its instance).

    Sorting by time (then kind) makes the result independent of the order the edges arrived;
    a join with no leave yet gives no segment, a leave with no join is ignored.
    """
    order = {EdgeKind.JOIN: 0, EdgeKind.LEAVE: 1, EdgeKind.END: 2}
    ordered = sorted(edges, key=lambda e: (e.at, order[e.kind], e.instance, e.connection))
    ends = [e for e in ordered if e.kind is EdgeKind.END]
    open_at: dict[tuple[str, str], datetime] = {}
    result: list[tuple[datetime, datetime]] = []
    for edge in ordered:
        key = (edge.instance, edge.connection)
        if edge.kind is EdgeKind.JOIN:
            open_at.setdefault(key, edge.at)
        elif edge.kind is EdgeKind.LEAVE and key in open_at:
            result.append((open_at.pop(key), edge.at))
    for (instance, _), started in open_at.items():
        end = next((e.at for e in ends if e.instance == instance and e.at >= started), None)
        if end is not None:
            result.append((started, end))
    return result


def attended_seconds(edges: list[Edge], window: Window) -> int:
    """Seconds of the union of all segments inside the window: reconnections merge."""
    clipped = sorted(
        (max(s, window.starts_at), min(e, window.ends_at))
        for s, e in segments(edges)
        if min(e, window.ends_at) > max(s, window.starts_at)
    )
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in clipped:
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return min(int(total), window.seconds)


@dataclass(frozen=True)
class CreditRule:
    """Credit when a participant attended at least `min_percent` of the session.

    Hours are the attended time, rounded half-up to a multiple of `rounding_hours`.
    """

    version: int
    min_percent: int
    rounding_hours: Decimal

    def hours(self, attended: int, session: int) -> Decimal:
        """Credit hours for `attended` seconds of a `session`-second session (exact decimals)."""
        if session <= 0 or attended * 100 < self.min_percent * session:
            return Decimal(0)
        raw = Decimal(min(attended, session)) / Decimal(3600)
        steps = (raw / self.rounding_hours).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return (steps * self.rounding_hours).normalize()


def attendance_id(session_id: uuid.UUID, attendee_key: str) -> uuid.UUID:
    """One attendance record per session and attendee, the same id on every recomputation."""
    return uuid.uuid5(ATTENDANCE_NS, f"attendance:{session_id}:{attendee_key}")


def credit_id(participant_id: uuid.UUID, session_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(ATTENDANCE_NS, f"credit:{participant_id}:{session_id}")


def certificate_id(participant_id: uuid.UUID, programme_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(ATTENDANCE_NS, f"certificate:{participant_id}:{programme_id}")


def guest_key(provider: str, stable_id: str) -> str:
    """A guest's key: a digest of the video tool's own id, never of a display name."""
    digest = hashlib.sha256(f"{provider}:{stable_id}".encode()).hexdigest()[:32]
    return f"guest:{digest}"


def verification_code(secret: str, certificate: uuid.UUID, hours: Decimal) -> str:
    """A short code a registrar can check: keyed digest of the certificate and its hours."""
    mac = hmac.new(secret.encode(), f"{certificate}:{hours}".encode(), hashlib.sha256)
    code = mac.hexdigest()[:12].upper()
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))
