# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Every message exists in every language with the same placeholders, and renders."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from echo_notifications.domain.model import SESSION_TEMPLATES, SUPPORTED_LANGUAGES
from echo_notifications.domain.templates import (
    CATALOG,
    TEMPLATES,
    agenda_lines,
    local_time,
    placeholders,
    render,
)


def test_the_catalog_has_a_language_for_each_supported_one() -> None:
    assert sorted(CATALOG) == sorted(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED_LANGUAGES if lang != "en"])
def test_no_translation_key_is_missing_or_extra(language: str) -> None:
    missing = sorted(set(CATALOG["en"]) - set(CATALOG[language]))
    extra = sorted(set(CATALOG[language]) - set(CATALOG["en"]))
    assert missing == [], f"{language} lacks {missing}"
    assert extra == [], f"{language} has keys English lacks: {extra}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_each_translation_uses_the_same_placeholders_as_english(language: str) -> None:
    for key, english in CATALOG["en"].items():
        assert placeholders(CATALOG[language][key]) == placeholders(english), (language, key)


def test_every_message_a_handler_can_record_has_a_template() -> None:
    expected = SESSION_TEMPLATES | {
        "registration_confirmed",
        "case_submitted",
        "case_approved",
        "case_rejected",
        "recommendations_issued",
        "recommendations_recorded",
        "certificate_issued",
        "evaluation_requested",
        "recording_available",
    }
    assert set(TEMPLATES) == expected


def test_local_time_is_written_in_the_readers_zone_and_language() -> None:
    start = datetime(2027, 1, 12, 17, 0, tzinfo=UTC)
    assert local_time(start, ZoneInfo("America/Toronto"), "en") == (
        "Tuesday 12 January 2027, 12:00 (America/Toronto)"
    )
    assert local_time(start, ZoneInfo("Europe/Paris"), "fr") == (
        "mardi 12 janvier 2027, 18:00 (Europe/Paris)"
    )
    assert local_time(start, ZoneInfo("Asia/Shanghai"), "zh-Hans") == (
        "2027年1月13日（星期三）01:00（Asia/Shanghai）"
    )


def test_a_day_before_reminder_quotes_the_agenda() -> None:
    agenda = agenda_lines("fr", "Hépatite C", "Dr Roy", 2)
    message = render(
        "reminder_day_before",
        "fr",
        {"name": "Ana", "programme": "ECHO Hépatite", "when": "demain", "agenda": agenda},
    )
    assert message.subject == "Demain : séance ECHO Hépatite, demain"
    assert "- Exposé : Hépatite C" in message.text
    assert "- Présentations de cas : 2" in message.text
    assert agenda_lines("zh-Hans", None, None, 0) == "- 待定"


def test_an_unknown_language_falls_back_to_english_instead_of_failing() -> None:
    message = render("certificate_issued", "de", {"name": "Sam", "programme": "P", "hours": "3"})
    assert message.subject == "Your certificate is ready: P"
