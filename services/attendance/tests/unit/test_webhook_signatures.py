"""Webhook verification: forged, stale and unsigned deliveries are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from echo_attendance.domain.model import EdgeKind
from echo_attendance.domain.webhooks import (
    Ignored,
    InvalidWebhook,
    PresenceSignal,
    UnknownProvider,
    UrlValidation,
    WebhookRejected,
    parse_generic,
    parse_zoom,
    sign,
    verify,
)

NOW = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b'{"event":"meeting.participant_joined"}'


def headers(body: bytes = BODY, ts: str = TS, secret: str = "s3cret") -> dict[str, str]:  # noqa: S107
    return {"x-zm-request-timestamp": ts, "x-zm-signature": sign(secret, "v0", ts, body)}


def test_a_correct_signature_passes_and_gives_a_replay_key() -> None:
    key = verify("zoom", "s3cret", headers(), BODY, NOW, 300)
    assert key == verify("zoom", "s3cret", headers(), BODY, NOW, 300)
    assert len(key) == 64


@pytest.mark.parametrize(
    ("hdrs", "body"),
    [
        (headers(secret="wrong"), BODY),
        (headers(), BODY + b" "),  # a re-serialised body no longer matches
        ({"x-zm-request-timestamp": TS}, BODY),
        ({"x-zm-signature": "v0=00"}, BODY),
        (headers(ts="yesterday"), BODY),
    ],
)
def test_forged_or_unsigned_deliveries_are_refused(hdrs: dict[str, str], body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        verify("zoom", "s3cret", hdrs, body, NOW, 300)


@pytest.mark.parametrize("skew", [301, -301, 3600])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    ts = str(int(NOW.timestamp()) - skew)
    with pytest.raises(WebhookRejected, match="seconds from now"):
        verify("zoom", "s3cret", headers(ts=ts), BODY, NOW, 300)


def test_unknown_provider() -> None:
    with pytest.raises(UnknownProvider):
        verify("skype", "s3cret", headers(), BODY, NOW, 300)


def test_zoom_payloads_normalise_by_email_and_customer_key() -> None:
    body = json.dumps(
        {
            "event": "meeting.participant_left",
            "event_ts": 1767632400000,
            "payload": {
                "object": {
                    "id": 85746065432,
                    "uuid": "4444AAAiAAAAAiAiAiiAii==",
                    "participant": {
                        "user_id": "16778240",
                        "user_name": "Dr. Sam Lee",
                        "email": "Sam.Lee@Example.org",
                        "customer_key": "tok123",
                        "leave_time": "2026-01-05T18:30:00Z",
                    },
                }
            },
        }
    ).encode()
    signal = parse_zoom(body)
    assert isinstance(signal, PresenceSignal)
    assert signal.kind is EdgeKind.LEAVE
    assert signal.meeting_id == "85746065432"
    assert signal.instance == "4444AAAiAAAAAiAiAiiAii=="
    assert signal.email == "sam.lee@example.org"
    assert signal.join_token == "tok123"
    assert signal.at == datetime(2026, 1, 5, 18, 30, tzinfo=UTC)


def test_zoom_other_events_are_ignored_and_validation_is_recognised() -> None:
    assert isinstance(parse_zoom(b'{"event": "meeting.started", "payload": {}}'), Ignored)
    parsed = parse_zoom(b'{"event": "endpoint.url_validation", "payload": {"plainToken": "x"}}')
    assert parsed == UrlValidation("x")


def test_generic_payload_needs_an_identity_and_a_session() -> None:
    with pytest.raises(InvalidWebhook, match="session_id"):
        parse_generic(b'{"type": "join", "session_id": "nope", "occurred_at": "2026-01-05T17:00Z"}')
    with pytest.raises(InvalidWebhook, match="email, join_token or external_id"):
        parse_generic(
            b'{"type": "join", "session_id": "6f1d2a4e-2c1b-4c9a-9a57-0e4f3b8f1a10",'
            b' "occurred_at": "2026-01-05T17:00:00Z", "display_name": "Sam"}'
        )
    with pytest.raises(InvalidWebhook, match="UTC offset"):
        parse_generic(
            b'{"type": "join", "session_id": "6f1d2a4e-2c1b-4c9a-9a57-0e4f3b8f1a10",'
            b' "occurred_at": "2026-01-05T17:00:00", "email": "a@b.org"}'
        )
