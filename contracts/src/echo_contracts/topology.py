"""Streams and durable consumers, as data: ops code provisions them, services bind to them.

Per region one stream `ECHO_<REGION>` on `echo.<region>.>`. The superhub publishes its own
subjects (`echo.network.>`, programme templates) into `ECHO_SUPERHUB`, which every region stream
sources back; `ECHO_NETWORK` sources only the `network`-residency subjects of each region. (One
stream cannot both source the regions and be sourced by them, nor source what they source: the
server refuses both as cycles.) Dead letters are indexed in `ECHO_DLQ`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from echo_contracts.envelope import Event, Residency
from echo_contracts.events import (
    ALL_EVENTS,
    AgendaUpdated,
    CaseApproved,
    CaseRejected,
    CaseSubmitted,
    CertificateIssued,
    EvaluationRequested,
    MaterialAdded,
    MaterialRemoved,
    ParticipantRegistered,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    RecommendationsIssued,
    RecommendationsRecorded,
    RegistrationConfirmed,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
    TemplatePublished,
)
from echo_contracts.subjects import PREFIX, region_wildcard, subject_for
from echo_contracts.types import NETWORK_REGION

NETWORK_STREAM = "ECHO_NETWORK"
SUPERHUB_STREAM = "ECHO_SUPERHUB"
DLQ_STREAM = "ECHO_DLQ"
DUPLICATE_WINDOW_SECONDS = 20 * 60
#: The two advisories a dead letter raises, each followed by `.<stream>.<durable>`.
DLQ_ADVISORIES = (
    "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES",
    "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED",
)
#: Every integrator's durable begins with this (`hub-<integrator>-<purpose>`); no platform
#: durable does, so neither side can take the other's name.
INTEGRATOR_PREFIX = "hub-"
#: The durables an integrator gets unless it asks for others: one to follow, one to replay.
DEFAULT_INTEGRATOR_PURPOSES = ("events", "replay")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


HUB_DOMAIN = "hub"
HUB_ACCOUNT = "HUB"


def stream_name(region: str) -> str:
    """`ontario` -> `ECHO_ONTARIO`, `northern-ireland` -> `ECHO_NORTHERN_IRELAND`."""
    return "ECHO_" + region.upper().replace("-", "_")


def account_name(region: str) -> str:
    """The NATS account of a region's leaf: `northern-ireland` -> `NORTHERN_IRELAND`."""
    return region.upper().replace("-", "_")


def domain_api(domain: str) -> str:
    """The JetStream API prefix of another domain: `hub` -> `$JS.hub.API`."""
    return f"$JS.{domain}.API"


def deliver_prefix(consumer_account: str, stream: str) -> str:
    """Where a cross-account source of `stream` delivers (exported and imported by deploy/nats)."""
    return f"deliver.{consumer_account}.{stream}"


@dataclass(frozen=True)
class SourceSpec:
    stream: str
    filter_subjects: tuple[str, ...] = ()
    #: `$JS.<domain>.API` when the source lives in another JetStream domain (leaf nodes).
    external_api: str | None = None
    #: Where the source's consumer delivers across accounts (`external.deliver`): a prefix the
    #: source's account exports and ours imports, e.g. `deliver.HUB.ECHO_ONTARIO`.
    deliver_prefix: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    sources: tuple[SourceSpec, ...] = ()
    duplicate_window_seconds: int = DUPLICATE_WINDOW_SECONDS
    replicas: int = 1
    max_age_seconds: int = 0


def network_subjects(region: str) -> tuple[str, ...]:
    """The subjects of `region` that may be replicated to the superhub."""
    return tuple(
        subject_for(region, cls)
        for cls in ALL_EVENTS
        if cls.residency is Residency.NETWORK and not cls.superhub
    )


def superhub_subjects() -> tuple[str, ...]:
    """The subjects the superhub publishes for every region."""
    return tuple(subject_for(NETWORK_REGION, cls) for cls in ALL_EVENTS if cls.superhub)


def region_stream(
    region: str,
    *,
    replicas: int = 1,
    superhub_api: str | None = None,
    superhub_deliver: str | None = None,
) -> StreamSpec:
    """A region's stream: its own subjects plus the superhub's templates sourced down.

    On a leaf, `superhub_api` is the superhub's domain API (`$JS.hub.API`) and `superhub_deliver`
    the deliver prefix the accounts export and import (`deliver.ONTARIO.ECHO_SUPERHUB`).
    """
    return StreamSpec(
        name=stream_name(region),
        subjects=(region_wildcard(region),),
        sources=tuple(
            SourceSpec(SUPERHUB_STREAM, (subject,), superhub_api, superhub_deliver)
            for subject in superhub_subjects()
        ),
        replicas=replicas,
    )


def superhub_stream(*, replicas: int = 1) -> StreamSpec:
    """What the superhub itself publishes (templates), sourced down by every region."""
    return StreamSpec(
        name=SUPERHUB_STREAM, subjects=(f"{PREFIX}.{NETWORK_REGION}.>",), replicas=replicas
    )


def network_stream(
    regions: list[str],
    *,
    replicas: int = 1,
    region_apis: dict[str, str] | None = None,
    region_delivers: dict[str, str] | None = None,
) -> StreamSpec:
    """The superhub's network-wide stream: each region's `network` subjects.

    ONE source per subject: a source with several filters asks for
    `$JS.<domain>.API.CONSUMER.CREATE.<stream>.<name>` without a filter token, which a region's
    pinned exports (`...CREATE.<stream>.*.<subject>`) do not match, and would receive nothing.
    """
    apis = region_apis or {}
    delivers = region_delivers or {}
    return StreamSpec(
        name=NETWORK_STREAM,
        subjects=(),
        sources=tuple(
            SourceSpec(stream_name(r), (subject,), apis.get(r), delivers.get(r))
            for r in regions
            for subject in network_subjects(r)
        ),
        replicas=replicas,
    )


def platform_durables(regions: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Every durable the platform's services use: on region streams, and (per region) on
    ECHO_NETWORK at the superhub."""
    names = [spec.durable for spec in CONSUMERS]
    for spec in CONSUMERS:
        if spec.service in NETWORK_READERS:
            names += [network_durable(spec, region) for region in regions]
    return names


def dlq_subjects(regions: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The advisories the platform's DLQ indexes: its own durables' only, never an integrator's
    (an integrator's dead letters are its own business: see `integrator_dead_letter_subjects`)."""
    return tuple(
        f"{advisory}.*.{durable}"
        for advisory in DLQ_ADVISORIES
        for durable in platform_durables(regions)
    )


def dlq_stream(*, replicas: int = 1, regions: tuple[str, ...] | list[str] = ()) -> StreamSpec:
    """Advisories of the platform's messages that hit max deliveries or were terminated."""
    return StreamSpec(
        name=DLQ_STREAM,
        subjects=dlq_subjects(regions),
        replicas=replicas,
        max_age_seconds=30 * 86400,
    )


def check_integrator_name(name: str) -> str:
    """An integrator's or purpose's name: a lowercase slug of 2-32 letters, digits, hyphens."""
    if not _SLUG.match(name):
        raise ValueError(
            f"{name!r} is not a valid name: use 2-32 lowercase letters, digits and hyphens,"
            " starting with a letter, e.g. 'acme' or 'calendar'"
        )
    return name


def integrator_durable(integrator: str, purpose: str) -> str:
    """The durable an integrator may create, read and delete: `hub-acme-events`."""
    return (
        f"{INTEGRATOR_PREFIX}{check_integrator_name(integrator)}-{check_integrator_name(purpose)}"
    )


def integrator_dead_letter_subjects(stream: str, durable: str) -> tuple[str, ...]:
    """Where the server announces an integrator durable's dead letters (its own subjects)."""
    return tuple(f"{advisory}.{stream}.{durable}" for advisory in DLQ_ADVISORIES)


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable pull consumer per service and purpose, on each region's stream."""

    service: str
    purpose: str
    events: tuple[type[Event], ...]
    #: Network-wide consumers read `ECHO_NETWORK` (superhub reporting) instead of region streams.
    max_deliver: int = 6
    backoff_seconds: tuple[float, ...] = (1, 5, 15, 30, 60)
    ack_wait_seconds: float = 60
    max_ack_pending: int = 2000
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def durable(self) -> str:
        return f"{self.service}-{self.purpose}"

    def filter_subjects(self, region: str) -> list[str]:
        """The subjects this consumer reads from `region`'s stream."""
        return sorted({subject_for(region, cls) for cls in self.events})


CONSUMERS: tuple[ConsumerSpec, ...] = (
    # Short ack wait, like reporting's: a batch FastStream drops on a bare asyncio.TimeoutError
    # is redelivered in seconds (seen in the scheduling consumer tests under load).
    ConsumerSpec(
        "scheduling",
        "inbox",
        (CaseApproved, TemplatePublished, RegistrationConfirmed),
        ack_wait_seconds=10,
    ),
    ConsumerSpec(
        "cases",
        "inbox",
        (
            ProgrammeCreated,
            SessionScheduled,
            SessionRescheduled,
            SessionCancelled,
            AgendaUpdated,
            RegistrationConfirmed,
        ),
    ),
    ConsumerSpec(
        "attendance",
        "inbox",
        (
            ProgrammeCreated,
            ProgrammeProfileUpdated,
            SessionScheduled,
            SessionRescheduled,
            SessionCancelled,
        ),
        # Short, like reporting's: a fetched message the client loses comes back in seconds.
        ack_wait_seconds=10,
    ),
    ConsumerSpec(
        "notifications",
        "inbox",
        (
            ProgrammeCreated,
            ProgrammeProfileUpdated,
            SessionScheduled,
            SessionRescheduled,
            SessionCancelled,
            AgendaUpdated,
            CaseSubmitted,
            CaseApproved,
            CaseRejected,
            RecommendationsIssued,
            RecommendationsRecorded,
            ParticipantRegistered,
            RegistrationConfirmed,
            CertificateIssued,
            EvaluationRequested,
            MaterialAdded,
            MaterialRemoved,
        ),
    ),
    # A short ack wait: a batch that FastStream 0.7.8 drops on nats-py's bare asyncio.TimeoutError
    # (its pull loop catches only nats.errors.TimeoutError) comes back in seconds, not a minute.
    ConsumerSpec(
        "reporting", "projections", ALL_EVENTS, max_ack_pending=20_000, ack_wait_seconds=10
    ),
)


#: Services the superhub runs on `ECHO_NETWORK` (the network view), one durable per region there.
NETWORK_READERS: tuple[str, ...] = ("reporting",)


def network_durable(spec: ConsumerSpec, region: str) -> str:
    """A superhub reader's durable on `ECHO_NETWORK` per region: `reporting-projections-ontario`."""
    return f"{spec.durable}-{region}"


def network_filter_subjects(spec: ConsumerSpec, region: str) -> list[str]:
    """What a superhub reader gets of `region` in `ECHO_NETWORK`: its `network` subjects only."""
    allowed = set(network_subjects(region))
    return [s for s in spec.filter_subjects(region) if s in allowed]


def consumer_for(service: str, purpose: str = "inbox") -> ConsumerSpec:
    """The consumer spec of a service, by name."""
    for spec in CONSUMERS:
        if spec.service == service and spec.purpose == purpose:
            return spec
    raise KeyError(f"no consumer {service}-{purpose} in echo_contracts.topology.CONSUMERS")
