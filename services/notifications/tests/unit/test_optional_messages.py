# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Opt-outs, secret parameters, the causes of issue 11's messages, their texts and settings."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from echo_contracts.topology import consumer_for
from echo_notifications.domain.model import (
    SECRET_PARAMS,
    ChannelKind,
    Preferences,
    UnsupportedOptOut,
    evaluation_cause_id,
    recommendations_cause_id,
    recording_cause_id,
    topic_of,
    without_secrets,
)
from echo_notifications.domain.templates import local_date, render, text
from echo_notifications.service_layer.handlers import handlers
from echo_notifications.settings import NotificationsSettings
from pydantic import ValidationError


def test_only_optional_messages_can_be_opted_out_of() -> None:
    prefs = Preferences(participant_id=uuid.uuid4(), opted_out=["evaluations"])
    prefs.validate(frozenset({ChannelKind.EMAIL}))
    assert not prefs.wants("evaluation_requested")
    assert prefs.wants("recording_available")
    assert prefs.wants("recommendations_recorded")  # about their own case: always
    assert prefs.wants("session_cancelled")
    assert topic_of("recording_available") == "library"
    assert topic_of("case_rejected") is None

    with pytest.raises(UnsupportedOptOut) as refused:
        Preferences(participant_id=uuid.uuid4(), opted_out=["reminders"]).validate(
            frozenset({ChannelKind.EMAIL})
        )
    assert refused.value.field == "opted_out"
    assert "choose from ['evaluations', 'library']" in str(refused.value)


def test_links_and_clinical_text_are_dropped_from_parameters_kept_after_sending() -> None:
    params = {
        "case_id": "c",
        "recommendations": "Start metformin",
        "response_url": "https://x/tok",
        "closes_at": "2030-03-12T16:00:00+00:00",
    }
    assert without_secrets(params) == {"case_id": "c", "closes_at": "2030-03-12T16:00:00+00:00"}
    assert {"response_url", "recommendations"} <= SECRET_PARAMS


def test_each_message_has_one_stable_cause_whatever_event_carries_it() -> None:
    some = uuid.uuid4()
    assert evaluation_cause_id(some) == evaluation_cause_id(some)
    assert recording_cause_id(some) == recording_cause_id(some)
    assert recommendations_cause_id(some) == recommendations_cause_id(some)
    assert (
        len({evaluation_cause_id(some), recording_cause_id(some), recommendations_cause_id(some)})
        == 3
    )


def test_recommendations_are_quoted_with_the_follow_up_date_in_the_readers_language() -> None:
    due = date(2030, 6, 4)
    assert local_date(due, "en") == "4 June 2030"
    assert local_date(due, "fr") == "4 juin 2030"
    assert local_date(due, "zh-Hans") == "2030年6月4日"
    follow_up = text("zh-Hans", "recommendations.follow_up").format(due=local_date(due, "zh-Hans"))
    message = render(
        "recommendations_recorded",
        "zh-Hans",
        {
            "name": "李伟",
            "programme": "ECHO 糖尿病",
            "case_ref": "1a2b3c4d",
            "recommendations": "逐步增加二甲双胍剂量。",
            "follow_up": follow_up,
        },
    )
    assert message.subject == "您的病例已有建议：ECHO 糖尿病"
    assert "逐步增加二甲双胍剂量。\n" in message.text
    assert "请您在 2030年6月4日 前汇报此病例的随访情况" in message.text


def test_a_library_url_with_an_unknown_placeholder_is_refused_at_start() -> None:
    assert NotificationsSettings().library_url.endswith("/v1/programmes/{programme_id}/materials")
    with pytest.raises(ValidationError, match="NOTIFICATIONS_LIBRARY_URL may use only"):
        NotificationsSettings(library_url="https://portal/{programme}/library")
    with pytest.raises(ValidationError):
        NotificationsSettings(recommendations_grace_seconds=-1)


def test_the_provisioned_durable_reads_every_event_notifications_handles() -> None:
    handled = set(handlers(recommendations_grace=timedelta(0)))
    missing = sorted(cls.__name__ for cls in handled - set(consumer_for("notifications").events))
    assert missing == []
