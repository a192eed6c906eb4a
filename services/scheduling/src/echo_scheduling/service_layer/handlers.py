"""Handlers of the events scheduling consumes; each runs in the consumer's batch transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from echo_contracts import CaseApproved, Envelope, RegistrationConfirmed, TemplatePublished
from echo_runtime.consumer import PermanentEventError
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from echo_scheduling.adapters.library_repository import SqlaMaterialRepository
from echo_scheduling.adapters.repository import (
    SqlaProgrammeRepository,
    SqlaSessionRepository,
    SqlaTemplateRepository,
)
from echo_scheduling.service_layer import events
from echo_scheduling.service_layer.templates import template_from_event

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]


def when_case_approved_fill_a_case_slot(runtime: ServiceRuntime) -> Handler:
    """Put an approved case into the first free slot of the programme's next session.

    "Next" is judged at the approval's event time, not at arrival, so a late redelivery lands
    where it would have; a case already placed (or waiting) is left alone.
    """

    async def handle(session: AsyncSession, env: Envelope[Any]) -> None:
        data: CaseApproved = env.data
        repo = SqlaSessionRepository(session)
        if await repo.session_of_case(data.case_id) is not None:
            return
        programme = await SqlaProgrammeRepository(session).get(data.programme_id)
        if programme is None:
            raise PermanentEventError(f"programme {data.programme_id} is not scheduled here")
        for candidate in await repo.upcoming(programme.id, env.time):
            position = candidate.free_slot(programme.case_slots)
            if position is None:
                continue
            candidate.case_slots[position] = data.case_id
            await repo.place_case(candidate.id, position, data.case_id)
            await repo.remove_waiting([data.case_id])
            await runtime.emit(
                session, programme.region, events.agenda_updated(candidate), cause=env
            )
            log.info("case_slot_filled", session_id=str(candidate.id), position=position)
            return
        await repo.add_waiting(data.case_id, programme.id, env.time)
        log.warning("case_waiting_for_slot", programme_id=str(programme.id))

    return handle


async def when_template_published_store_it(session: AsyncSession, env: Envelope[Any]) -> None:
    """Keep every template version locally, so hubs of this region can replicate it."""
    data: TemplatePublished = env.data
    added = await SqlaTemplateRepository(session).add_if_absent(template_from_event(data), env.time)
    log.info(
        "template_stored",
        template_id=str(data.template_id),
        version=data.template_version,
        added=added,
    )


async def when_registration_confirmed_admit_to_library(
    session: AsyncSession, env: Envelope[Any]
) -> None:
    """A registered participant may read the programme's library (ids only are kept)."""
    data: RegistrationConfirmed = env.data
    added = await SqlaMaterialRepository(session).add_member(
        data.programme_id, data.participant_id, data.registration_id, env.time
    )
    log.info("library_member_added", programme_id=str(data.programme_id), added=added)


HANDLED = (CaseApproved, TemplatePublished, RegistrationConfirmed)
