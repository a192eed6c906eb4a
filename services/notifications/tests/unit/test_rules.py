"""Language fallback, quiet hours, reminders, backoff, idempotency keys, webhook signatures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from echo_notifications.adapters.webhook import sign, verify
from echo_notifications.domain.model import (
    ChannelKind,
    InvalidQuietHours,
    Preferences,
    QuietHours,
    ReminderKind,
    UnknownTimeZone,
    UnsupportedChannel,
    UnsupportedLanguage,
    WebhookUrlMissing,
    delivery_id,
    idempotency_key,
    reminder_cause_id,
    reminders_for,
    resolve_language,
    retry_delay,
)


def test_the_recipients_language_wins_then_the_programmes_then_english() -> None:
    assert resolve_language("fr-CA", "en", "zh-Hans") == "fr"
    assert resolve_language(None, "de", "zh-CN") == "zh-Hans"
    assert resolve_language(None, "zh-Hant", "fr") == "fr"
    assert resolve_language(None, None, None) == "en"


def test_quiet_hours_across_midnight_defer_to_their_end_in_the_recipients_zone() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    toronto = ZoneInfo("America/Toronto")
    late = datetime(2027, 1, 12, 4, 30, tzinfo=UTC)  # 23:30 in Toronto
    assert quiet.deferral(late, toronto) == datetime(2027, 1, 12, 12, 0, tzinfo=UTC)
    early = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)  # 05:00 in Toronto
    assert quiet.deferral(early, toronto) == datetime(2027, 1, 12, 12, 0, tzinfo=UTC)
    day = datetime(2027, 1, 12, 17, 0, tzinfo=UTC)  # noon in Toronto
    assert quiet.deferral(day, toronto) is None
    with pytest.raises(InvalidQuietHours):
        QuietHours(time(7, 0), time(7, 0))


def test_reminders_are_due_a_day_and_an_hour_before_and_expire_sensibly() -> None:
    sid = uuid.uuid4()
    start = datetime(2027, 1, 12, 17, 0, tzinfo=UTC)
    day, hour = reminders_for(sid, start)
    assert (day.kind, day.due_at, day.expires_at) == (
        ReminderKind.DAY_BEFORE,
        start - timedelta(days=1),
        start - timedelta(hours=1),
    )
    assert (hour.kind, hour.due_at, hour.expires_at) == (
        ReminderKind.HOUR_BEFORE,
        start - timedelta(hours=1),
        start,
    )
    moved = start + timedelta(days=1)
    assert reminder_cause_id(sid, day.kind, start, 0) == reminder_cause_id(sid, day.kind, start, 0)
    assert reminder_cause_id(sid, day.kind, start, 0) != reminder_cause_id(sid, day.kind, moved, 1)


def test_backoff_doubles_up_to_a_ceiling() -> None:
    delays = [retry_delay(n, 30, 300).total_seconds() for n in range(1, 6)]
    assert delays == [30, 60, 120, 240, 300]


def test_one_key_per_cause_recipient_template_and_channel() -> None:
    cause, person = uuid.uuid4(), uuid.uuid4()
    key = idempotency_key(cause, person, "case_approved", "email")
    assert delivery_id(key) == delivery_id(idempotency_key(cause, person, "case_approved", "email"))
    assert delivery_id(key) != delivery_id(
        idempotency_key(cause, person, "case_approved", "webhook")
    )


def test_preferences_name_the_field_that_cannot_be_honoured() -> None:
    offered = frozenset({ChannelKind.EMAIL, ChannelKind.WEBHOOK})
    pid = uuid.uuid4()
    cases = [
        (Preferences(pid, channels=[ChannelKind.SMS]), UnsupportedChannel, "channels"),
        (Preferences(pid, language="de"), UnsupportedLanguage, "language"),
        (Preferences(pid, timezone="Mars/Base"), UnknownTimeZone, "timezone"),
        (Preferences(pid, channels=[ChannelKind.WEBHOOK]), WebhookUrlMissing, "webhook_url"),
    ]
    for prefs, error, field in cases:
        with pytest.raises(error) as caught:
            prefs.validate(offered)
        assert caught.value.field == field
    Preferences(pid, language="zh-Hans", timezone="Asia/Shanghai").validate(offered)


def test_a_webhook_signature_verifies_and_a_tampered_or_stale_one_does_not() -> None:
    body = b'{"template": "case_approved"}'
    header = sign("s3cret", 1_800_000_000, body)
    assert verify("s3cret", header, body, now=1_800_000_010)
    assert not verify("s3cret", header, body + b" ", now=1_800_000_010)
    assert not verify("other", header, body, now=1_800_000_010)
    assert not verify("s3cret", header, body, now=1_800_001_000)
    assert not verify("s3cret", "garbage", body, now=1_800_000_010)
