"""Who may read or act on a case: object-level rules, decided before anything is shown.

A network-admin is deliberately not a hub member here: case text is regional clinical data, and
the superhub only ever sees the ids and counts of `network` events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from echo_runtime.auth import Principal, Role

from echo_cases.adapters.repository import SessionInfo
from echo_cases.domain.model import AFTER_SESSION, Case, CaseStatus

HUB_MEMBERS = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT)
DECIDERS = (Role.HUB_ADMIN, Role.FACILITATOR)
SUBMITTERS = (Role.SPOKE, Role.FACILITATOR, Role.HUB_ADMIN)


def in_scope(
    principal: Principal, roles: Iterable[Role], region: str, programme_id: uuid.UUID
) -> bool:
    """One of `roles` in `region` and `programme_id`, without the network-admin bypass."""
    return (
        principal.has_any(roles)
        and principal.in_region(region)
        and principal.in_programme(programme_id)
    )


def is_hub_member(principal: Principal, region: str, programme_id: uuid.UUID) -> bool:
    """A member of the programme's hub team (sees every case of the programme)."""
    return in_scope(principal, HUB_MEMBERS, region, programme_id)


def session_has_started(session: SessionInfo | None, now: datetime) -> bool:
    return session is not None and session.starts_at is not None and session.starts_at <= now


def can_read(
    principal: Principal,
    case: Case,
    *,
    registered: bool,
    session: SessionInfo | None,
    now: datetime,
) -> bool:
    """Hub members always; the presenter always; registered participants once it is presented."""
    if is_hub_member(principal, case.region, case.programme_id):
        return True
    if not principal.in_region(case.region) or not principal.in_programme(case.programme_id):
        return False
    if principal.subject_id == case.presenter_id and principal.has_any(SUBMITTERS):
        return True
    if not (registered and principal.has_any([Role.SPOKE])):
        return False
    return case.status in AFTER_SESSION or (
        case.status is CaseStatus.SCHEDULED and session_has_started(session, now)
    )
