"""Signed outbound webhooks: HMAC-SHA256 over `<timestamp>.<raw body>`, one id per delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
from echo_runtime.outbound import OutboundPolicy, OutboundRefused

from echo_notifications.domain.ports import DeliveryError, OutgoingMessage

SIGNATURE_HEADER = "X-Echo-Signature"
DELIVERY_HEADER = "X-Echo-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: check the signature in constant time and refuse stale ones."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def payload(message: OutgoingMessage) -> bytes:
    """The JSON body posted for one delivery."""
    return json.dumps(
        {
            "delivery_id": str(message.delivery_id),
            "recipient_id": str(message.recipient_id),
            "cause_event_id": str(message.cause_event_id),
            "template": message.template,
            "language": message.language,
            "subject": message.subject,
            "text": message.text,
            "data": message.data,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


class WebhookSender:
    """The webhook channel: POST with a signature; 5xx, 408, 429 and network errors are retried.

    Every connection goes through the outbound policy (no internal addresses unless
    allow-listed). The delivery log records only a category (`webhook_refused_address`,
    `webhook_unreachable`, `webhook_http_error`), never a status or a network error: the log
    must not tell a recipient which internal ports answer.
    """

    def __init__(self, secret: str, timeout: float, policy: OutboundPolicy | None = None) -> None:
        self.secret = secret
        self.timeout = timeout
        self.policy = policy or OutboundPolicy()

    async def send(self, message: OutgoingMessage) -> None:
        body = payload(message)
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, int(time.time()), body),
            DELIVERY_HEADER: str(message.delivery_id),
        }
        try:
            self.policy.check_url(message.address)
            async with self.policy.client(timeout=self.timeout) as client:
                response = await client.post(message.address, content=body, headers=headers)
        except OutboundRefused as refused:
            # an address that was public when saved may not be now: not worth retrying
            permanent = refused.category != "unresolvable"
            category = "webhook_unreachable" if not permanent else "webhook_refused_address"
            raise DeliveryError(category, permanent=permanent) from None
        except httpx.HTTPError:
            raise DeliveryError("webhook_unreachable") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in (408, 425, 429)
        raise DeliveryError("webhook_http_error", permanent=not retryable)
