"""The one place where the notifications service is wired."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from echo_runtime.clock import Clock, SystemClock
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_notifications.adapters.smtp import FileMailer, SmtpMailer
from echo_notifications.adapters.tables import metadata
from echo_notifications.adapters.webhook import WebhookSender
from echo_notifications.domain.model import (
    ChannelKind,
    InvalidQuietHours,
    UnknownTimeZone,
    UnsupportedChannel,
    UnsupportedLanguage,
    UnsupportedOptOut,
    UnsupportedTopic,
    WebhookUrlMissing,
)
from echo_notifications.domain.ports import ChannelSender
from echo_notifications.entrypoints.http import router
from echo_notifications.service_layer.dispatcher import Dispatcher
from echo_notifications.service_layer.handlers import handlers
from echo_notifications.settings import NotificationsSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    senders: Mapping[ChannelKind, ChannelSender] | None = None,
) -> tuple[ServiceRuntime, Dispatcher]:
    """The runtime and its dispatcher (tests drive the dispatcher with their own clock)."""
    settings = settings or NotificationsSettings()
    dispatcher = Dispatcher(
        settings,
        clock or SystemClock(),
        senders
        or {
            ChannelKind.EMAIL: (
                FileMailer(settings, Path(settings.mail_drop_dir))
                if settings.mail_drop_dir
                else SmtpMailer(settings)
            ),
            ChannelKind.WEBHOOK: WebhookSender(
                settings.webhook_secret, settings.webhook_timeout, settings.outbound_policy
            ),
        },
    )
    unprocessable = (422, "Unprocessable Content")
    runtime = ServiceRuntime(
        settings,
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers=handlers(
            recommendations_grace=timedelta(seconds=settings.recommendations_grace_seconds)
        ),
        routers=[router],
        domain_errors={
            UnknownTimeZone: unprocessable,
            UnsupportedLanguage: unprocessable,
            UnsupportedChannel: unprocessable,
            WebhookUrlMissing: unprocessable,
            InvalidQuietHours: unprocessable,
            UnsupportedTopic: unprocessable,
            UnsupportedOptOut: unprocessable,
        },
        background=[dispatcher.run] if settings.dispatcher else [],
        title="ECHO notifications",
    )
    dispatcher.bind(runtime)
    return runtime, dispatcher


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the notifications runtime from settings (read from the environment when omitted)."""
    if settings is not None and not isinstance(settings, NotificationsSettings):
        settings = NotificationsSettings(**settings.model_dump())
    return build(settings)[0]
