"""`echo-hub dlq list|redrive`: the DLQ indexes advisories; originals stay in their streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nats
from echo_contracts.topology import DLQ_STREAM
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError


@dataclass
class DeadLetter:
    dlq_seq: int
    reason: str
    stream: str
    consumer: str
    stream_seq: int
    deliveries: int | None
    subject: str | None = None
    event_type: str | None = None
    event_id: str | None = None


async def dead_letters(js: JetStreamContext) -> list[DeadLetter]:
    """Every advisory in the DLQ, joined with the original message when it still exists."""
    info = await js.stream_info(DLQ_STREAM)
    letters: list[DeadLetter] = []
    if not info.state.messages:
        return letters
    for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
        try:
            raw = await js.get_msg(DLQ_STREAM, seq)
        except NotFoundError:
            continue
        advisory: dict[str, Any] = json.loads(raw.data or b"{}")
        reason = "max_deliveries" if "MAX_DELIVERIES" in (raw.subject or "") else "terminated"
        letter = DeadLetter(
            dlq_seq=seq,
            reason=reason,
            stream=advisory.get("stream", ""),
            consumer=advisory.get("consumer", ""),
            stream_seq=int(advisory.get("stream_seq", 0)),
            deliveries=advisory.get("deliveries"),
        )
        try:
            original = await js.get_msg(letter.stream, letter.stream_seq)
            letter.subject = original.subject
            headers = original.headers or {}
            letter.event_type = headers.get("ce-type")
            letter.event_id = headers.get("Nats-Msg-Id")
        except NotFoundError:
            pass
        letters.append(letter)
    return letters


async def redrive(js: JetStreamContext, seqs: list[int] | None = None) -> int:
    """Publish each dead letter's original again (new message id: consumers dedup by event id)."""
    done = 0
    for letter in await dead_letters(js):
        if seqs and letter.dlq_seq not in seqs:
            continue
        original = await js.get_msg(letter.stream, letter.stream_seq)
        headers = dict(original.headers or {})
        base = headers.get("Nats-Msg-Id", f"{letter.stream}:{letter.stream_seq}")
        headers["Nats-Msg-Id"] = f"{base}:redrive:{letter.dlq_seq}"
        await js.publish(original.subject or "", original.data or b"", headers=headers)
        await js.delete_msg(DLQ_STREAM, letter.dlq_seq)
        done += 1
    return done


async def list_command(url: str) -> int:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        letters = await dead_letters(nc.jetstream())
    finally:
        await nc.close()
    print(
        f"{'dlq':>5}  {'reason':<15} {'consumer':<24} {'stream':<22} {'seq':>7} {'tries':>5}  type"
    )
    for x in letters:
        print(
            f"{x.dlq_seq:>5}  {x.reason:<15} {x.consumer:<24} {x.stream:<22} {x.stream_seq:>7} "
            f"{x.deliveries if x.deliveries is not None else '-':>5}  {x.event_type or '(gone)'}"
        )
    print(f"{len(letters)} dead letter(s)")
    return 0


async def redrive_command(url: str, seqs: list[int]) -> int:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        count = await redrive(nc.jetstream(), seqs or None)
    finally:
        await nc.close()
    print(f"re-drove {count} message(s)")
    return 0
