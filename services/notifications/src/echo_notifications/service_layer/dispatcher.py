"""The background dispatcher: fires due reminders, claims due deliveries and sends them.

Exactly-once is bounded like this: the attempt is recorded (claimed, with a lease) before the
send, and the outcome after it. A process killed between the two leaves a claimed delivery that
is claimed again when its lease ends and sent again with the same Message-ID (email) or
`X-Echo-Delivery` id (webhook), so a receiver that de-duplicates on it sees one message. Nothing
is ever sent twice by two live dispatchers: claims are conditional updates.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from echo_contracts import NotificationFailed, NotificationSent
from echo_contracts.events import Channel
from echo_runtime.clock import Clock
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime

from echo_notifications.adapters.metrics import DELIVERY_OUTCOMES, REMINDERS_FIRED
from echo_notifications.adapters.repository import SqlaNotificationRepository, utc
from echo_notifications.domain.model import (
    ChannelKind,
    DeliveryStatus,
    ReminderKind,
    reminder_cause_id,
    retry_delay,
    without_secrets,
)
from echo_notifications.domain.ports import (
    ChannelSender,
    DeliveryError,
    OutgoingMessage,
)
from echo_notifications.service_layer.handlers import audience, delivery_rows
from echo_notifications.service_layer.messages import Deferred, Skipped, Undeliverable, compose
from echo_notifications.settings import NotificationsSettings

log = get_logger(__name__)


@dataclass
class TickReport:
    reminders_fired: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0


class Dispatcher:
    """Sends what is due; one instance per process, safe to run in several replicas."""

    def __init__(
        self,
        settings: NotificationsSettings,
        clock: Clock,
        senders: Mapping[ChannelKind, ChannelSender],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.senders = dict(senders)
        self._runtime: ServiceRuntime | None = None
        self._lock = asyncio.Lock()

    def bind(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    @property
    def runtime(self) -> ServiceRuntime:
        if self._runtime is None:
            raise RuntimeError("the dispatcher is not bound to a runtime")
        return self._runtime

    async def run(self, runtime: ServiceRuntime) -> None:
        """Tick every `dispatch_interval` seconds until cancelled; errors never stop it."""
        self.bind(runtime)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database restarting: try again next tick
                log.warning("dispatch_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.dispatch_interval)

    async def tick(self) -> TickReport:
        """Fire due reminders, then send every due delivery once."""
        async with self._lock:  # one pass at a time per process; replicas race safely
            report = TickReport()
            report.reminders_fired = await self.fire_reminders()
            while True:
                batch = await self._send_due(report)
                if batch < self.settings.dispatch_batch:
                    break
            return report

    # ------------------------------------------------------------------ reminders

    async def fire_reminders(self) -> int:
        """Turn each due reminder job into deliveries for the programme's participants."""
        now = self.clock.now()
        db = self.runtime.db
        async with db.session() as session:
            due = await SqlaNotificationRepository(session).due_reminders(
                now, self.settings.dispatch_batch
            )
        fired = 0
        for reminder in due:
            async with db.transaction() as session:
                repo = SqlaNotificationRepository(session)
                row = await repo.session_row(reminder["session_id"])
                starts_at = utc(reminder["starts_at"])
                live = (
                    row is not None
                    and row["status"] == "scheduled"
                    and row["starts_at"] == starts_at
                    and now < utc(reminder["expires_at"])
                )
                outcome = "fired" if live else "expired"
                if not await repo.fire_reminder(
                    reminder["session_id"], reminder["kind"], utc(reminder["due_at"]), now, outcome
                ):
                    continue  # another dispatcher fired it
                if not live or row is None:
                    continue
                kind = ReminderKind(reminder["kind"])
                recipients = await audience(
                    repo, reminder["programme_id"], kind.template, participants=True
                )
                await repo.add_deliveries(
                    delivery_rows(
                        cause_event_id=reminder_cause_id(
                            reminder["session_id"], kind, starts_at, row["sequence"]
                        ),
                        recipients=recipients,
                        template=kind.template,
                        prefs=await repo.preferences_of(recipients),
                        region=reminder["region"],
                        due_at=now,
                        now=now,
                        programme_id=reminder["programme_id"],
                        session_id=reminder["session_id"],
                        params={
                            "starts_at": starts_at.isoformat(),
                            "ends_at": row["ends_at"].isoformat() if row["ends_at"] else None,
                            "sequence": row["sequence"],
                            "timezone": row["timezone"],
                        },
                    )
                )
                fired += 1
                REMINDERS_FIRED.labels(kind.value).inc()
                log.info(
                    "reminder_fired",
                    session_id=str(reminder["session_id"]),
                    kind=kind.value,
                    recipients=len(recipients),
                )
        return fired

    # ------------------------------------------------------------------ deliveries

    async def _send_due(self, report: TickReport) -> int:
        now = self.clock.now()
        token = str(uuid.uuid4())
        lease = now + timedelta(seconds=self.settings.claim_lease_seconds)
        db = self.runtime.db
        async with db.session() as session:
            ids = await SqlaNotificationRepository(session).claimable(
                now, self.settings.dispatch_batch
            )
        if not ids:
            return 0
        async with db.transaction() as session:
            claimed = await SqlaNotificationRepository(session).claim(ids, now, lease, token)
        gate = asyncio.Semaphore(self.settings.send_concurrency)

        async def one(delivery: dict[str, Any]) -> None:
            async with gate:
                await self._deliver(delivery, token, report)

        await asyncio.gather(*(one(d) for d in claimed))
        return len(ids)

    async def _deliver(self, delivery: dict[str, Any], token: str, report: TickReport) -> None:
        db = self.runtime.db
        try:
            async with db.session() as session:
                composed = await compose(
                    SqlaNotificationRepository(session),
                    delivery,
                    now=self.clock.now(),
                    join_url=self.settings.join_url,
                    library_url=self.settings.library_url,
                )
        except Exception as exc:  # one unrenderable message must not hold the others back
            log.error("compose_failed", delivery_id=str(delivery["id"]), error=type(exc).__name__)
            await self._failed_attempt(delivery, token, DeliveryError("compose_failed"), report)
            return
        if isinstance(composed, Deferred):
            await self._defer(delivery, token, composed, report)
            return
        if isinstance(composed, Skipped):
            await self._skip(delivery, token, composed, report)
            return
        if isinstance(composed, Undeliverable):
            await self._failed_attempt(
                delivery, token, DeliveryError(composed.code, permanent=composed.permanent), report
            )
            return
        sender = self.senders.get(ChannelKind(delivery["channel"]))
        try:
            if sender is None:
                raise DeliveryError(f"no_{delivery['channel']}_sender", permanent=True)
            await sender.send(composed)
        except DeliveryError as exc:
            await self._failed_attempt(delivery, token, exc, report)
            return
        except Exception as exc:  # an adapter bug must not stop the other messages
            log.error("send_crashed", delivery_id=str(delivery["id"]), error=type(exc).__name__)
            await self._failed_attempt(delivery, token, DeliveryError("send_crashed"), report)
            return
        await self._sent(delivery, token, composed, report)

    async def _sent(
        self, delivery: dict[str, Any], token: str, message: OutgoingMessage, report: TickReport
    ) -> None:
        now = self.clock.now()
        async with self.runtime.db.transaction() as session:
            if not await SqlaNotificationRepository(session).finish(
                delivery["id"],
                token,
                status=DeliveryStatus.SENT.value,
                sent_at=now,
                language=message.language,
                last_error=None,
                params=without_secrets(delivery["params"] or {}),
            ):
                return
            await self.runtime.emit(
                session,
                delivery["region"],
                NotificationSent(
                    delivery_id=delivery["id"],
                    recipient_id=delivery["recipient_id"],
                    channel=Channel(delivery["channel"]),
                    template=delivery["template"],
                    language=message.language,
                    cause_event_id=delivery["cause_event_id"],
                    attempts=delivery["attempts"],
                ),
            )
        report.sent += 1
        DELIVERY_OUTCOMES.labels(delivery["channel"], delivery["template"], "sent").inc()
        log.info(
            "notification_sent",
            delivery_id=str(delivery["id"]),
            template=delivery["template"],
            channel=delivery["channel"],
            attempts=delivery["attempts"],
        )

    async def _failed_attempt(
        self, delivery: dict[str, Any], token: str, error: DeliveryError, report: TickReport
    ) -> None:
        now = self.clock.now()
        attempts: int = delivery["attempts"]
        final = error.permanent or attempts >= self.settings.max_attempts
        async with self.runtime.db.transaction() as session:
            repo = SqlaNotificationRepository(session)
            if not final:
                delay = retry_delay(
                    attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
                )
                await repo.finish(
                    delivery["id"], token, next_attempt_at=now + delay, last_error=error.code
                )
                report.retried += 1
                DELIVERY_OUTCOMES.labels(delivery["channel"], delivery["template"], "retried").inc()
                log.warning(
                    "notification_retry",
                    delivery_id=str(delivery["id"]),
                    error=error.code,
                    attempts=attempts,
                    delay=delay.total_seconds(),
                )
                return
            if not await repo.finish(
                delivery["id"],
                token,
                status=DeliveryStatus.FAILED.value,
                last_error=error.code,
                params=without_secrets(delivery["params"] or {}),
            ):
                return
            await self.runtime.emit(
                session,
                delivery["region"],
                NotificationFailed(
                    delivery_id=delivery["id"],
                    recipient_id=delivery["recipient_id"],
                    channel=Channel(delivery["channel"]),
                    template=delivery["template"],
                    cause_event_id=delivery["cause_event_id"],
                    attempts=max(attempts, 1),
                    error_code=error.code,
                ),
            )
        report.failed += 1
        DELIVERY_OUTCOMES.labels(delivery["channel"], delivery["template"], "failed").inc()
        log.warning(
            "notification_failed",
            delivery_id=str(delivery["id"]),
            error=error.code,
            attempts=attempts,
        )

    async def _defer(
        self, delivery: dict[str, Any], token: str, deferred: Deferred, report: TickReport
    ) -> None:
        async with self.runtime.db.transaction() as session:
            repo = SqlaNotificationRepository(session)
            if deferred.give_up:
                # A reminder that could only arrive after the session started is not sent.
                await repo.finish(
                    delivery["id"],
                    token,
                    status=DeliveryStatus.SUPPRESSED.value,
                    last_error="quiet_hours",
                    attempts=delivery["attempts"] - 1,
                    params=without_secrets(delivery["params"] or {}),
                )
            else:
                await repo.finish(
                    delivery["id"],
                    token,
                    next_attempt_at=deferred.until.astimezone(UTC),
                    last_error="quiet_hours",
                    attempts=delivery["attempts"] - 1,
                )
        report.deferred += 1
        DELIVERY_OUTCOMES.labels(delivery["channel"], delivery["template"], "deferred").inc()

    async def _skip(
        self, delivery: dict[str, Any], token: str, skipped: Skipped, report: TickReport
    ) -> None:
        """Not sent on purpose (opted out): suppressed, with the reason, and nothing published."""
        async with self.runtime.db.transaction() as session:
            await SqlaNotificationRepository(session).finish(
                delivery["id"],
                token,
                status=DeliveryStatus.SUPPRESSED.value,
                last_error=skipped.code,
                attempts=delivery["attempts"] - 1,
                params=without_secrets(delivery["params"] or {}),
            )
        report.skipped += 1
        DELIVERY_OUTCOMES.labels(delivery["channel"], delivery["template"], "skipped").inc()
        log.info(
            "notification_skipped",
            delivery_id=str(delivery["id"]),
            template=delivery["template"],
            reason=skipped.code,
        )
