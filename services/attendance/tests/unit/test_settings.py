"""Settings: production refuses the development secrets; providers come from the environment."""

from __future__ import annotations

import pytest
from echo_attendance.settings import AttendanceSettings
from pydantic import ValidationError


def test_production_refuses_development_webhook_and_certificate_secrets() -> None:
    with pytest.raises(ValidationError, match="ATTENDANCE_WEBHOOK_SECRETS"):
        AttendanceSettings(environment="production", auth_jwks_json='{"keys": []}')


def test_secrets_per_provider_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTENDANCE_WEBHOOK_SECRETS", '{"zoom": "z-1", "generic": "g-1"}')
    monkeypatch.setenv("ATTENDANCE_CERTIFICATE_SECRET", "c-1")
    monkeypatch.setenv("ATTENDANCE_EVALUATION_SECRET", "e-1")
    monkeypatch.setenv("ATTENDANCE_ENVIRONMENT", "production")
    monkeypatch.setenv("ATTENDANCE_AUTH_JWKS_JSON", '{"keys": []}')
    settings = AttendanceSettings()
    assert settings.webhook_secrets == {"zoom": "z-1", "generic": "g-1"}
    assert settings.port == 8103 and settings.service == "attendance"


def test_production_refuses_the_development_evaluation_secret() -> None:
    with pytest.raises(ValidationError, match="ATTENDANCE_EVALUATION_SECRET"):
        AttendanceSettings(
            environment="production",
            auth_jwks_json='{"keys": []}',
            webhook_secrets={"zoom": "z-1", "generic": "g-1"},
            certificate_secret="c-1",
        )


def test_evaluation_links_start_at_the_public_url_unless_told_otherwise() -> None:
    assert AttendanceSettings().public_base_url == "http://127.0.0.1:8103"
    assert AttendanceSettings(public_url="https://att.example.org").public_base_url == (
        "https://att.example.org"
    )
    told = AttendanceSettings(public_url="https://a.example", public_base_url="https://b.example")
    assert told.public_base_url == "https://b.example"
