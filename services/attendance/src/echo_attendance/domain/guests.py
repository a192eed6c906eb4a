"""Guests: unregistered people in a session, and the programme's limits on them. No framework."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from echo_attendance.domain.model import AttendanceError


class GuestRefused(AttendanceError):
    """A guest may not be admitted; the message says why and what to do."""


class GuestPlacesFull(GuestRefused):
    pass


class RegistrationRequired(GuestRefused):
    pass


class GuestIdentityMissing(AttendanceError):
    field = "email"


@dataclass(frozen=True)
class GuestPolicy:
    """Limits a programme sets on guests (None: no limit)."""

    max_guests_per_session: int | None = None
    register_after_sessions: int | None = None


def guest_email_key(email: str) -> str:
    """A guest's attendee key from their email: the same person in any video tool or join page."""
    normalised = email.strip().lower()
    return "guest:" + hashlib.sha256(f"email:{normalised}".encode()).hexdigest()[:32]


def check_admission(
    policy: GuestPolicy, places_taken: int, sessions_attended: int
) -> GuestRefused | None:
    """Why a guest may not be admitted to a session, or None when they may.

    `places_taken`: other guests already admitted to this session; `sessions_attended`: other
    sessions of the programme this guest attended as a guest.
    """
    after = policy.register_after_sessions
    if after is not None and sessions_attended >= after:
        return RegistrationRequired(
            f"you have attended {sessions_attended} sessions of this programme as a guest;"
            f" the programme admits guests to {after}. Register to continue: ask the hub team"
            " for a participant profile and register to the programme"
        )
    cap = policy.max_guests_per_session
    if cap is not None and places_taken >= cap:
        return GuestPlacesFull(
            f"this session's guest places are full ({cap} guests); register to the programme"
            " to join as a participant, or ask the hub team to raise the guest limit"
        )
    return None
