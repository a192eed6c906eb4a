"""REST API of the notifications service: preferences and the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any

from echo_contracts.types import LanguageTag
from echo_runtime.auth import ALL_REGIONS, CurrentPrincipal, Principal, Role
from echo_runtime.inputs import InputModel
from echo_runtime.outbound import OutboundRefused
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep
from fastapi import APIRouter, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from echo_notifications.adapters.repository import SqlaNotificationRepository, utc
from echo_notifications.domain.model import ChannelKind, Preferences, QuietHours
from echo_notifications.service_layer.preferences import (
    get_preferences,
    recipient_of,
    set_preferences,
)

router = APIRouter(prefix="/v1", tags=["notifications"])

#: Hub roles that may read the preferences and deliveries of participants in their regions.
HUB_READERS = (Role.HUB_ADMIN, Role.FACILITATOR)


class QuietHoursBody(InputModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(examples=["22:00"])
    end: time = Field(examples=["07:00"])


class PreferencesIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ChannelKind] = Field(min_length=1, max_length=3, examples=[["email"]])
    language: LanguageTag | None = Field(default=None, examples=["fr"])
    timezone: str | None = Field(
        default=None, min_length=1, max_length=64, examples=["America/Toronto"]
    )
    quiet_hours: QuietHoursBody | None = None
    webhook_url: AnyHttpUrl | None = None
    topics: list[str] | None = Field(
        default=None,
        max_length=10,
        description="hub team members: the messages they opt into",
        examples=[["case_submitted", "reminder_day_before"]],
    )
    opted_out: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="optional messages not wanted: `evaluations` (survey invitations),"
        " `library` (new recordings)",
        examples=[["evaluations"]],
    )


class PreferencesOut(BaseModel):
    participant_id: uuid.UUID
    channels: list[ChannelKind]
    language: str | None
    timezone: str | None
    quiet_hours: QuietHoursBody | None
    webhook_url: str | None
    topics: list[str] | None
    opted_out: list[str]


class DeliveryOut(BaseModel):
    id: uuid.UUID
    recipient_id: uuid.UUID
    cause_event_id: uuid.UUID
    template: str
    channel: str
    language: str | None
    status: str
    attempts: int
    last_error: str | None
    region: str
    programme_id: uuid.UUID | None
    session_id: uuid.UUID | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


def _out(prefs: Preferences) -> PreferencesOut:
    quiet = prefs.quiet_hours
    return PreferencesOut(
        participant_id=prefs.participant_id,
        channels=prefs.channels,
        language=prefs.language,
        timezone=prefs.timezone,
        quiet_hours=QuietHoursBody(start=quiet.start, end=quiet.end) if quiet else None,
        webhook_url=prefs.webhook_url,
        topics=prefs.topics,
        opted_out=prefs.opted_out,
    )


async def _authorise(
    runtime: RuntimeDep,
    principal: Principal,
    participant_id: uuid.UUID,
    roles: tuple[Role, ...],
) -> None:
    """The participants themselves, or a hub role in their region; 404 for everyone else."""
    if principal.subject_id == participant_id:
        return
    recipient = await recipient_of(runtime, participant_id)
    if recipient is not None and principal.allows(roles, recipient["region"]):
        return
    if recipient is not None and principal.allows(HUB_READERS, recipient["region"]):
        raise Problem(
            403,
            "Forbidden",
            f"changing preferences needs one of {sorted(r.value for r in roles)} in region"
            f" {recipient['region']!r}, or the participant's own token",
        )
    raise Problem(
        404, "Not Found", f"no participant {participant_id} whose preferences you can see"
    )


@router.get("/participants/{participant_id}/preferences", response_model=PreferencesOut)
async def read_preferences(
    participant_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> PreferencesOut:
    await _authorise(runtime, principal, participant_id, HUB_READERS)
    return _out(await get_preferences(runtime, participant_id))


@router.put("/participants/{participant_id}/preferences", response_model=PreferencesOut)
async def replace_preferences(
    participant_id: uuid.UUID,
    body: PreferencesIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> PreferencesOut:
    await _authorise(runtime, principal, participant_id, (Role.HUB_ADMIN,))
    if body.webhook_url is not None:
        try:
            await runtime.settings.outbound_policy.check(str(body.webhook_url))
        except OutboundRefused as refused:
            raise Problem(
                422,
                "Unprocessable Content",
                f"webhook_url: {refused}",
                errors=[{"field": "webhook_url", "message": str(refused)}],
            ) from None
    quiet = body.quiet_hours
    prefs = Preferences(
        participant_id=participant_id,
        channels=list(dict.fromkeys(body.channels)),
        language=body.language,
        timezone=body.timezone,
        quiet_hours=_quiet(quiet),
        webhook_url=str(body.webhook_url) if body.webhook_url else None,
        topics=list(dict.fromkeys(body.topics)) if body.topics is not None else None,
        opted_out=list(dict.fromkeys(body.opted_out)),
    )
    return _out(await set_preferences(runtime, prefs))


def _quiet(body: QuietHoursBody | None) -> QuietHours | None:
    if body is None:
        return None
    return QuietHours(body.start.replace(tzinfo=None), body.end.replace(tzinfo=None))


@router.get("/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    recipient: Annotated[uuid.UUID | None, Query(description="recipient (participant) id")] = None,
    event_id: Annotated[uuid.UUID | None, Query(description="the event that caused them")] = None,
) -> Page[DeliveryOut]:
    regions: list[str] | None
    if Role.NETWORK_ADMIN in principal.roles:
        regions = None
    elif principal.has_any(HUB_READERS):
        regions = (
            list(runtime.settings.regions)
            if ALL_REGIONS in principal.regions
            else sorted(principal.regions)
        )
    else:
        # Anyone else sees only the messages sent to them.
        if recipient is not None and recipient != principal.subject_id:
            raise Problem(
                403,
                "Forbidden",
                "you can list only your own deliveries; listing others' needs a hub role",
            )
        recipient = principal.subject_id
        regions = None
    async with runtime.db.session() as session:
        rows, total = await SqlaNotificationRepository(session).list_deliveries(
            regions=regions,
            recipient_id=recipient,
            event_id=event_id,
            limit=page.limit,
            offset=page.offset,
        )
    return Page.of([_delivery(r) for r in rows], total, page)


def _delivery(row: dict[str, Any]) -> DeliveryOut:
    values = dict(row)
    for key in ("next_attempt_at", "created_at", "sent_at"):
        if values.get(key) is not None:
            values[key] = utc(values[key])
    return DeliveryOut.model_validate(values)
