"""Use cases on cases: one function per command, each one transaction with its events."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NoReturn

from echo_contracts import CaseSubmitted, Event
from echo_runtime.logging import get_logger
from echo_runtime.outbox import outbox_row
from echo_runtime.service import ServiceRuntime
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from echo_cases.adapters.repository import SqlaCaseRepository, store_submission
from echo_cases.domain.model import (
    Case,
    CaseNotFound,
    CaseStatus,
    CaseStoreUnavailable,
    InvalidCaseForm,
)
from echo_cases.domain.screening import CaseContainsPhi, PhiScreener, screen_fields
from echo_cases.domain.templates import find_template

log = get_logger(__name__)


@asynccontextmanager
async def _writing(runtime: ServiceRuntime, case_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A transaction whose database errors never carry case text into a log or a response.

    SQLAlchemy puts the statement's parameters (the form, the recommendations) into its error
    messages; the error is replaced by one that names only the case and the kind of failure.
    """
    try:
        async with runtime.db.transaction() as session:
            yield session
    except SQLAlchemyError as exc:
        _refuse_write(case_id, exc)


def _refuse_write(case_id: uuid.UUID, exc: SQLAlchemyError) -> NoReturn:
    log.error("case_write_failed", case_id=str(case_id), error=type(exc).__name__)
    raise CaseStoreUnavailable(
        f"case {case_id} could not be saved ({type(exc).__name__}); nothing was changed,"
        " try again in a moment"
    ) from None


@dataclass(frozen=True)
class SubmitCase:
    programme_id: uuid.UUID
    region: str
    presenter_id: uuid.UUID
    template_id: str
    template_version: int
    fields: dict[str, str]
    actor: str


def screen(screener: PhiScreener, texts: dict[str, str], *, prefix: str, what: str) -> None:
    """The PHI gate; a refusal is logged by category counts only, never the text."""
    try:
        screen_fields(screener, texts, prefix=prefix)
    except CaseContainsPhi as refused:
        counts = Counter(f.category.value for f in refused.findings)
        log.info("phi_refused", what=what, findings=len(refused.findings), categories=dict(counts))
        raise


async def submit_case(
    runtime: ServiceRuntime, screener: PhiScreener, cmd: SubmitCase, conn: AsyncConnection
) -> Case:
    """Validate the form against its template, screen it, then store it and announce it.

    `conn` is the `Database.reads()` connection the caller looked the programme up on.
    """
    template = find_template(cmd.template_id, cmd.template_version)
    if template is None:
        raise InvalidCaseForm(
            [
                (
                    "template_id",
                    f"no case template {cmd.template_id!r} version {cmd.template_version};"
                    " see GET /v1/case-templates",
                )
            ]
        )
    values = template.validate(cmd.fields)
    screen(
        screener,
        {name: values[name] for name in template.text_fields if name in values},
        prefix="fields.",
        what="case",
    )
    case = Case(
        id=uuid.uuid4(),
        programme_id=cmd.programme_id,
        region=cmd.region,
        presenter_id=cmd.presenter_id,
        template_id=template.id,
        template_version=template.version,
        fields=values,
    )
    envelope = runtime.envelope(
        CaseSubmitted(
            case_id=case.id,
            programme_id=case.programme_id,
            presenter_id=case.presenter_id,
            template_id=template.id,
            template_version=template.version,
        ),
        case.region,
        correlation_id=uuid.uuid4(),
    )
    try:
        # The row `runtime.emit` would stage, written here with the case in one statement.
        await store_submission(conn, case, cmd.actor, outbox_row(envelope))
    except SQLAlchemyError as exc:
        _refuse_write(case.id, exc)
    runtime.db.outbox_committed.set()
    log.info("case_submitted", case_id=str(case.id), programme_id=str(case.programme_id))
    return case


async def change_case(
    runtime: ServiceRuntime,
    case_id: uuid.UUID,
    *,
    actor: str,
    action: str,
    change: Callable[[Case], list[Event]],
    also: Callable[[SqlaCaseRepository, Case], Awaitable[None]] | None = None,
) -> Case:
    """Apply one workflow move to a case, audit it and emit its events, in one transaction.

    `also` writes what else belongs to the move (the recommendations' history) in the same one.
    """
    async with _writing(runtime, case_id) as session:
        repo = SqlaCaseRepository(session)
        case = await repo.get(case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id}")
        before: CaseStatus = case.status
        events = change(case)
        await repo.save(case)
        if also is not None:
            await also(repo, case)
        await repo.audit(case.id, actor, action, before, case.status)
        await runtime.emit(session, case.region, *events)
    log.info("case_changed", case_id=str(case_id), action=action, status=case.status.value)
    return case


async def record_read(
    runtime: ServiceRuntime, case_ids: list[uuid.UUID], actor: str, action: str = "read"
) -> None:
    """Audit that `actor` read these cases (one by one, or in a list)."""
    if not case_ids:
        return
    async with runtime.db.transaction() as session:
        repo = SqlaCaseRepository(session)
        for case_id in case_ids:
            await repo.audit(case_id, actor, action)
