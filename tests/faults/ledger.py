"""The load of the fault tests and the check that counts it: "inject the fault, then count".

The load creates programmes over HTTP in scheduling; each programme emits `ProgrammeCreated`,
`ProgrammeProfileUpdated` and one `SessionScheduled` per session, and reporting folds them into
its read model. Every programme asks for its own number of sessions and session length, so a
session lost or counted twice shows in the count and in the sum of minutes, per programme and in
total. Requests whose answer was lost are reconciled against scheduling (the client's view).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from echo_reporting.adapters.tables import programmes as rm_programmes
from echo_reporting.adapters.tables import sessions as rm_sessions
from echo_runtime.testing import token
from echo_scheduling.adapters.tables import metadata as scheduling_tables
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from sqlalchemy.ext.asyncio import create_async_engine

from tests.faults.rig import REGION

#: Events one programme emits besides its sessions: ProgrammeCreated, ProgrammeProfileUpdated.
EVENTS_PER_PROGRAMME = 2


@dataclass(frozen=True)
class Planned:
    """What one programme should add to the read model."""

    sessions: int
    minutes: int

    @property
    def events(self) -> int:
        return self.sessions + EVENTS_PER_PROGRAMME


def plan(n: int, *, max_sessions: int = 150) -> Planned:
    """The n-th programme of a load: spread session counts and lengths (distinct sums)."""
    return Planned(sessions=10 + (n * 37) % (max_sessions - 9), minutes=30 + (n * 53) % 211)


@dataclass
class LoadLedger:
    """What the client knows: accepted programmes, and requests whose outcome it never saw."""

    accepted: dict[uuid.UUID, Planned] = field(default_factory=dict)
    unknown: dict[str, Planned] = field(default_factory=dict)  # by title
    #: 4xx answers by status and problem title: the service said no and wrote nothing.
    refused: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    @property
    def expected_events(self) -> int:
        return sum(p.events for p in self.accepted.values())


class ProgrammeLoad:
    """Posts programmes to scheduling at about `rate` events a second until told to stop."""

    def __init__(
        self,
        scheduling_url: str,
        *,
        run_id: str,
        rate: float,
        workers: int = 1,
        max_sessions: int = 150,
    ) -> None:
        self.url = scheduling_url
        self.run_id = run_id
        self.workers = workers
        self.rate = rate
        self.max_sessions = max_sessions
        self.ledger = LoadLedger()
        self.stopping = asyncio.Event()
        self._next = 0
        self._headers = token("hub-admin", REGION)
        # Next week: scheduling refuses sessions more than three years ahead (150 weekly fit).
        self.starts_on = (date.today() + timedelta(days=7)).isoformat()

    def title(self, n: int) -> str:
        return f"Fault load {self.run_id} {n:05d}"

    async def run(self) -> LoadLedger:
        async with httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=20) as http:
            await asyncio.gather(*(self._worker(http) for _ in range(self.workers)))
        return self.ledger

    async def _worker(self, http: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            began = loop.time()
            n = self._next
            self._next += 1
            planned = plan(n, max_sessions=self.max_sessions)
            title = self.title(n)
            body = {
                "region": REGION,
                "title": title,
                "timezone": "America/Toronto",
                "starts_on": self.starts_on,
                "local_start": "12:00",
                "session_count": planned.sessions,
                "session_minutes": planned.minutes,
            }
            self.ledger.sent += 1
            try:
                response = await http.post("/v1/programmes", json=body)
            except (httpx.HTTPError, OSError):
                # No answer (service killed, connection cut): it may or may not have committed.
                self.ledger.unknown[title] = planned
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 201:
                self.ledger.accepted[uuid.UUID(response.json()["id"])] = planned
            elif response.status_code >= 500:
                self.ledger.unknown[title] = planned
                await asyncio.sleep(0.5)
            else:
                title = response.json().get("title", "") if response.content else ""
                self.ledger.refused[f"{response.status_code} {title}".strip()] += 1
            # Spread the load over the faults rather than front-load it.
            pause = planned.events * self.workers / self.rate - (loop.time() - began)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), pause)

    async def reconcile(self) -> int:
        """Look up each request without an answer in scheduling; count those that committed."""
        if not self.ledger.unknown:
            return 0
        found: dict[str, uuid.UUID] = {}
        async with httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=30) as http:
            offset = 0
            while True:
                page = await http.get("/v1/programmes", params={"limit": 100, "offset": offset})
                page.raise_for_status()
                body = page.json()
                for item in body["items"]:
                    if item["title"] in self.ledger.unknown:
                        found[item["title"]] = uuid.UUID(item["id"])
                offset += len(body["items"])
                if not body["items"] or offset >= body["total"]:
                    break
        for title, programme_id in found.items():
            self.ledger.accepted[programme_id] = self.ledger.unknown[title]
        return len(found)


# --------------------------------------------------------------------------- the count check


@dataclass(frozen=True)
class Counted:
    """What the read model holds for one programme."""

    sessions: int
    minutes: int


@dataclass
class ReadModelCount:
    programmes: set[uuid.UUID]
    sessions: dict[uuid.UUID, Counted]

    @property
    def total_sessions(self) -> int:
        return sum(c.sessions for c in self.sessions.values())

    @property
    def total_minutes(self) -> int:
        return sum(c.minutes for c in self.sessions.values())


async def count_read_model(database_url: str) -> ReadModelCount:
    """Count reporting's read model rows (programmes, sessions and their minutes) directly."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            programme_ids = set(
                (await conn.execute(sa.select(rm_programmes.c.id).where(rm_programmes.c.created)))
                .scalars()
                .all()
            )
            rows = (
                await conn.execute(
                    sa.select(
                        rm_sessions.c.programme_id, rm_sessions.c.starts_at, rm_sessions.c.ends_at
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    counts: dict[uuid.UUID, list[int]] = {}
    for programme_id, starts_at, ends_at in rows:
        entry = counts.setdefault(programme_id, [0, 0])
        entry[0] += 1
        entry[1] += _minutes(starts_at, ends_at)
    return ReadModelCount(
        programme_ids, {k: Counted(sessions=v[0], minutes=v[1]) for k, v in counts.items()}
    )


def _minutes(starts_at: datetime | None, ends_at: datetime | None) -> int:
    if starts_at is None or ends_at is None:
        return 0
    return round((ends_at - starts_at).total_seconds() / 60)


def check_counts(expected: dict[uuid.UUID, Planned], seen: ReadModelCount) -> list[str]:
    """Every way the read model differs from the accepted requests (empty: exactly once each)."""
    problems: list[str] = []
    missing = set(expected) - seen.programmes
    extra = seen.programmes - set(expected)
    if missing:
        problems.append(f"{len(missing)} accepted programme(s) missing from the read model")
    if extra:
        problems.append(f"{len(extra)} programme(s) in the read model nobody had accepted")
    for programme_id, want in expected.items():
        got = seen.sessions.get(programme_id, Counted(0, 0))
        if got.sessions != want.sessions or got.minutes != want.sessions * want.minutes:
            problems.append(
                f"programme {programme_id}: {got.sessions} sessions / {got.minutes} min,"
                f" expected {want.sessions} / {want.sessions * want.minutes}"
            )
    stray = set(seen.sessions) - set(expected)
    if stray:
        problems.append(f"sessions of {len(stray)} programme(s) nobody had accepted")
    want_sessions = sum(p.sessions for p in expected.values())
    want_minutes = sum(p.sessions * p.minutes for p in expected.values())
    if seen.total_sessions != want_sessions or seen.total_minutes != want_minutes:
        problems.append(
            f"totals: {seen.total_sessions} sessions / {seen.total_minutes} min,"
            f" expected {want_sessions} / {want_minutes}"
        )
    return problems


async def holds(value: bool) -> bool:
    """`value`, awaitable: for `wait_for` checks of plain conditions."""
    return value


async def wait_for(
    check: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 1.0,
    describe: Callable[[], Awaitable[str]] | None = None,
) -> Any:
    """Poll an async `check` until it returns a truthy value; fail with its last value.

    `describe` says where things stand: printed every 10 s while waiting and in the failure.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    shown = loop.time()
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        if describe is not None and loop.time() - shown > 10:
            shown = loop.time()
            print(f"  waiting: {await describe()}", flush=True)
        await asyncio.sleep(interval)
    where = f"; {await describe()}" if describe is not None else ""
    raise AssertionError(f"not reached within {timeout}s; last value: {last!r}{where}")


class ConsumerWatch:
    """Samples a durable's info while faults land: redeliveries and messages in flight."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str) -> None:
        self.js = js
        self.stream = stream
        self.durable = durable
        self.max_redelivered = 0
        self.max_ack_pending = 0
        self.samples = 0
        self.failed_samples = 0

    async def sample(self) -> ConsumerInfo | None:
        try:
            info: ConsumerInfo = await asyncio.wait_for(
                self.js.consumer_info(self.stream, self.durable), 2
            )
        except Exception:  # the server is down or frozen: that is the fault, keep sampling
            self.failed_samples += 1
            return None
        self.samples += 1
        self.max_redelivered = max(self.max_redelivered, info.num_redelivered or 0)
        self.max_ack_pending = max(self.max_ack_pending, info.num_ack_pending or 0)
        return info

    async def run(self, stop: asyncio.Event, interval: float = 0.25) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def in_flight(self, timeout: float = 20.0) -> bool:
        """Wait until the consumer holds fetched, unacked messages (a kill then lands mid-batch)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            info = await self.sample()
            if info is not None and (info.num_ack_pending or 0) > 0:
                return True
            await asyncio.sleep(0.02)
        return False

    async def redeliveries(self) -> int:
        """Deliveries beyond the first of each message (consumer sequence minus messages)."""
        info = await self.js.consumer_info(self.stream, self.durable)
        state = (await self.js.stream_info(self.stream)).state
        delivered = info.delivered.consumer_seq if info.delivered else 0
        return max(delivered - state.messages, 0)


async def outbox_backlog(database_url: str) -> int:
    """Rows of scheduling's outbox not yet marked sent."""
    outbox = scheduling_tables.tables["outbox"]
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
    finally:
        await engine.dispose()
    return int(count or 0)
