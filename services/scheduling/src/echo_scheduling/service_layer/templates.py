"""Use cases on programme templates: the superhub publishes them, regions store them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from echo_contracts import TemplatePublished
from echo_contracts.events import RecurrenceFrequency, TemplateTopic
from echo_runtime.service import ServiceRuntime

from echo_scheduling.adapters.repository import SqlaTemplateRepository
from echo_scheduling.domain.errors import InvalidRecurrence, TemplateNotFound
from echo_scheduling.domain.model import Template
from echo_scheduling.domain.recurrence import WEEKS_OF_MONTH, Frequency


def template_from_event(event: TemplatePublished) -> Template:
    """The domain template carried by a TemplatePublished event."""
    hh, mm = event.local_start.split(":")
    return Template(
        id=event.template_id,
        version=event.template_version,
        title=event.title,
        language=event.language,
        session_minutes=event.session_minutes,
        frequency=Frequency(event.frequency.value),
        interval_weeks=event.interval_weeks,
        weekday=event.weekday,
        week_of_month=event.week_of_month,
        local_start=datetime.strptime(f"{hh}:{mm}", "%H:%M").time(),
        session_count=event.session_count,
        curriculum=[t.title for t in sorted(event.curriculum, key=lambda t: t.position)],
        case_template_id=event.case_template_id,
        credit_rule=event.credit_rule,
    )


def template_published(t: Template) -> TemplatePublished:
    return TemplatePublished(
        template_id=t.id,
        template_version=t.version,
        title=t.title,
        language=t.language,
        session_minutes=t.session_minutes,
        frequency=RecurrenceFrequency(t.frequency.value),
        interval_weeks=t.interval_weeks,
        weekday=t.weekday,
        week_of_month=t.week_of_month,
        local_start=t.local_start.strftime("%H:%M"),
        session_count=t.session_count,
        curriculum=[
            TemplateTopic(position=n, title=title) for n, title in enumerate(t.curriculum, 1)
        ],
        case_template_id=t.case_template_id,
        credit_rule=t.credit_rule,
    )


@dataclass(frozen=True)
class PublishTemplate:
    """A new template (template_id None) or a new version of an existing one."""

    template: Template
    template_id: uuid.UUID | None = None


async def publish_template(runtime: ServiceRuntime, cmd: PublishTemplate) -> Template:
    """Store a template version and publish it to every region (network residency)."""
    t = cmd.template
    if t.frequency is Frequency.MONTHLY_BY_WEEKDAY and t.week_of_month not in WEEKS_OF_MONTH:
        raise InvalidRecurrence(
            "a monthly template names its week_of_month (1-4 or -1)", field="week_of_month"
        )
    async with runtime.db.transaction() as session:
        repo = SqlaTemplateRepository(session)
        if cmd.template_id is None:
            template_id, version = uuid.uuid4(), 1
        else:
            latest = await repo.latest_version(cmd.template_id)
            if latest == 0:
                raise TemplateNotFound(f"no template {cmd.template_id}")
            template_id, version = cmd.template_id, latest + 1
        stored = replace(t, id=template_id, version=version)
        await repo.add_if_absent(stored, datetime.now(UTC))
        await runtime.emit(session, runtime.settings.regions[0], template_published(stored))
    return stored
