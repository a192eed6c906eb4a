"""The console's own rules, without I/O: languages, the wizard's preview, PHI marks, sign-in."""

from __future__ import annotations

import time
from datetime import date
from datetime import time as clock

import pytest
from echo_console.domain.language import negotiate, translate
from echo_console.domain.people import Person, menu_for
from echo_console.domain.recurrence import InvalidPreview, preview_weekly
from echo_console.entrypoints.cases import marked
from echo_console.entrypoints.sign_in import _local
from echo_console.service_layer.sessions import SessionStore, person_from_claims
from echo_console.settings import ConsoleSettings


@pytest.mark.parametrize(
    ("preference", "header", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        (None, "fr-CA,fr;q=0.9", "fr"),
        (None, "de-DE,en;q=0.5", "en"),
        (None, "zh-TW", "en"),  # Traditional Chinese is not offered: English, not Simplified
        ("fr", "zh-CN", "fr"),  # the person's own preference wins over the browser
        (None, "en;q=0.1,fr;q=0.9", "fr"),
        (None, None, "en"),
    ],
)
def test_language_is_the_persons_preference_else_the_browsers(
    preference: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(preference, header) == expected


def test_every_language_answers_every_key_at_least_in_english() -> None:
    assert translate("zh-Hans", "nav.review") == "病例审核"
    assert translate("fr", "nav.deliveries") == "Journal des envois"
    assert translate("fr", "wizard.dst") == "Daylight saving"  # not translated yet: English
    assert translate("en", "phi.vehicle_id") == "vehicle id"  # a new category still reads


def test_the_preview_marks_the_sessions_after_a_dst_change() -> None:
    dates = preview_weekly(
        timezone="America/Toronto",
        starts_on=date(2027, 2, 25),
        local_start=clock(12, 0),
        interval_weeks=1,
        session_count=4,
    )
    assert [d.local.strftime("%Y-%m-%d %H:%M") for d in dates] == [
        "2027-02-25 12:00",
        "2027-03-04 12:00",
        "2027-03-11 12:00",
        "2027-03-18 12:00",
    ]
    # 2027: daylight saving time starts on Sunday 14 March in Toronto
    assert [d.utc_offset for d in dates] == ["UTC-05:00", "UTC-05:00", "UTC-05:00", "UTC-04:00"]
    assert [d.dst_changed for d in dates] == [False, False, False, True]


def test_the_preview_names_the_field_it_cannot_use() -> None:
    with pytest.raises(InvalidPreview) as refused:
        preview_weekly(
            timezone="Mars/Olympus",
            starts_on=date(2027, 1, 1),
            local_start=clock(12, 0),
            interval_weeks=1,
            session_count=3,
        )
    assert refused.value.field == "timezone"


def test_marks_cover_exactly_the_spans_the_screen_named() -> None:
    text = "Mr John Smith, seen on 3 March, asks"
    pieces = marked(text, [{"start": 3, "end": 13}, {"start": 23, "end": 30}])
    assert [p for p, hit in pieces if hit] == ["John Smith", "3 March"]
    assert "".join(p for p, _ in pieces) == text


def test_roles_and_regions_come_from_the_configured_claims() -> None:
    settings = ConsoleSettings(oidc_roles_claim="echo_roles", oidc_regions_claim="hub_regions")
    person = person_from_claims(
        {"sub": "u1", "name": "Dana", "echo_roles": ["spoke"], "hub_regions": "ontario"},
        settings,
    )
    assert person.roles == frozenset({"spoke"}) and person.regions == frozenset({"ontario"})
    paths = [e.path for e in menu_for(person)]
    assert "/review" not in paths and "/me/cases" in paths


def test_only_local_paths_follow_a_sign_in() -> None:
    assert _local("/programmes") == "/programmes"
    for hostile in ("https://evil.example/x", "//evil.example/x", "javascript:alert(1)"):
        assert _local(hostile) == "/"


def test_a_session_ends_with_its_token() -> None:
    store = SessionStore(ttl_seconds=3600)
    person = Person("s", "S", frozenset({"spoke"}), frozenset({"ontario"}))
    alive = store.open(person, "token", time.time() + 60)
    gone = store.open(person, "token", time.time() - 1)
    assert store.get(alive.id) is alive
    assert store.get(gone.id) is None
    assert store.close(alive.id) is alive and store.get(alive.id) is None


def test_production_refuses_to_start_without_an_identity_provider() -> None:
    with pytest.raises(ValueError, match="CONSOLE_OIDC_ISSUER"):
        ConsoleSettings(environment="production", auth_jwks_json='{"keys": []}')
