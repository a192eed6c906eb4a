"""Case text never leaves the cases service: not in logs, not in events, not kept when refused."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from echo_cases.adapters.tables import case_audit, cases, outbox
from echo_contracts import AgendaUpdated, CaseSlot, Residency, decode
from echo_contracts.topology import NETWORK_STREAM
from echo_runtime.testing import eventually

pytestmark = pytest.mark.integration


class _Capture(logging.Handler):
    """Every log line, formatted exactly as the service writes it (JSON)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines(kit: Any) -> Iterator[list[str]]:
    root = logging.getLogger()
    capture = _Capture()
    capture.setFormatter(root.handlers[0].formatter)
    root.addHandler(capture)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield capture.lines
    root.setLevel(previous)
    root.removeHandler(capture)


#: Words that exist nowhere else, so a hit can only be a leak of the text that carries them.
HISTORY_MARK = "quokkafluxine"
QUESTION_MARK = "wombatrelizumab"
ADVICE_MARK = "numbatoprazole"
REASON_MARK = "platypusyndrome"


async def _all_stream_bodies(kit: Any) -> list[tuple[str, bytes]]:
    """The subject and raw body of every message in every stream of the deployment."""
    found = []
    for info in await kit.js.streams_info():
        stream = info.config.name
        state = (await kit.js.stream_info(stream)).state
        if state.messages == 0:
            continue
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await kit.js.get_msg(stream, seq)
            except Exception:  # noqa: S112 - a deleted sequence: nothing to search
                continue
            found.append((msg.subject, msg.data or b""))
    return found


async def test_a_full_submission_leaks_no_case_text_into_logs_or_events(
    kit: Any, log_lines: list[str]
) -> None:
    programme = await kit.programme()
    case = await kit.submit(
        programme,
        relevant_history=f"Long-standing {HISTORY_MARK} use, 20 years, HbA1c 8.1%.",
        specific_question=f"Is {QUESTION_MARK} safe with eGFR 45?",
    )
    await kit.client.post(f"/v1/cases/{case['id']}/approve", headers=programme.facilitator())
    await kit.publish(
        AgendaUpdated(
            session_id=programme.session_id,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=1, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def scheduled() -> bool:
        got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
        return bool(got.json()["status"] == "scheduled")

    await eventually(scheduled)
    issued = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": f"Switch to {ADVICE_MARK} 20 mg daily for 8 weeks.", "follow_up_weeks": 6},
        headers=programme.facilitator(),
    )
    assert issued.status_code == 200
    other = await kit.submit(programme)
    rejected = await kit.client.post(
        f"/v1/cases/{other['id']}/reject",
        json={"reason": f"Looks like {REASON_MARK}; present it to the genetics programme."},
        headers=programme.facilitator(),
    )
    assert rejected.status_code == 200

    async def everything_published() -> list[tuple[str, bytes]] | None:
        bodies = await _all_stream_bodies(kit)
        subjects = [s for s, _ in bodies]
        done = any(s.endswith("follow_up_requested") for s in subjects) and any(
            s.endswith("case_rejected") for s in subjects
        )
        return bodies if done else None

    bodies = await eventually(everything_published)
    written = "\n".join(log_lines)
    assert '"event": "case_submitted"' in written  # the logs were captured
    for mark in (HISTORY_MARK, QUESTION_MARK, ADVICE_MARK, REASON_MARK):
        assert mark not in written, f"{mark} leaked into the logs"
    for subject, body in bodies:
        for mark in (HISTORY_MARK, QUESTION_MARK):
            assert mark.encode() not in body, f"case text leaked into {subject}"
    network = [b for s, b in bodies if s.startswith("echo.") and _is_network(b)]
    assert network, "network events were published"
    for mark in (REASON_MARK, ADVICE_MARK):
        assert not any(mark.encode() in b for b in network)
    # Recommendations reach the presenter only in the region's own stream, in their own event.
    advice = {s for s, b in bodies if ADVICE_MARK.encode() in b}
    assert advice == {"echo.ontario.cases.recommendations_recorded"}
    # The network stream (what the superhub receives) carries no case text at all.
    network_stream = [
        b for s, b in bodies if s.startswith("echo.ontario.cases.") and _is_network(b)
    ]
    assert {decode(b).type for b in network_stream} >= {
        "echo.cases.case_submitted.v1",
        "echo.cases.recommendations_issued.v1",
    }
    infos = [i.config.name for i in await kit.js.streams_info()]
    assert NETWORK_STREAM in infos


def _is_network(body: bytes) -> bool:
    try:
        env = decode(body)
    except Exception:
        return False
    return type(env.data).residency is Residency.NETWORK


async def test_a_case_with_identifiers_is_refused_and_kept_nowhere(
    kit: Any, log_lines: list[str]
) -> None:
    programme = await kit.programme()
    history = f"{HISTORY_MARK} exposure. Call his daughter at 416-555-0199 or Mr. John Smith."
    response = await kit.client.post(
        "/v1/cases",
        json={
            "programme_id": str(programme.id),
            "fields": {
                **kit.clean_fields,
                "relevant_history": history,
                "medications": "Metformin since 12 March 2024.",
            },
        },
        headers=programme.spoke(),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["categories"] == ["date", "name", "phone"]
    spans = {(f["field"], f["category"], f["start"], f["end"]) for f in body["findings"]}
    phone_at = history.index("416-555-0199")
    assert ("fields.relevant_history", "phone", phone_at, phone_at + 12) in spans
    assert ("fields.medications", "date", 16, 29) in spans
    assert {e["field"] for e in body["errors"]} == {"fields.relevant_history", "fields.medications"}
    assert HISTORY_MARK not in response.text and "416-555" not in response.text

    # Not stored, not published, not logged.
    async with kit.runtime.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(cases)) == 0
        assert await session.scalar(sa.select(sa.func.count()).select_from(case_audit)) == 0
        assert await session.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
    assert await kit.case_events() == []
    written = "\n".join(log_lines)
    assert "phi_refused" in written
    for leaked in (HISTORY_MARK, "416-555-0199", "John Smith", "12 March"):
        assert leaked not in written


async def test_a_database_failure_does_not_spill_case_text(kit: Any, log_lines: list[str]) -> None:
    programme = await kit.programme()
    async with kit.runtime.db.transaction() as session:
        await session.execute(sa.text("DROP TABLE case_audit"))
    response = await kit.client.post(
        "/v1/cases",
        json={
            "programme_id": str(programme.id),
            "fields": {**kit.clean_fields, "relevant_history": f"{HISTORY_MARK} for 3 years."},
        },
        headers=programme.spoke(),
    )
    assert response.status_code == 503
    assert "could not be saved" in response.json()["detail"]
    assert HISTORY_MARK not in response.text
    written = "\n".join(log_lines)
    assert "case_write_failed" in written
    assert HISTORY_MARK not in written
    # Nothing half-written: the case row rolled back with the failed audit row.
    async with kit.runtime.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(cases)) == 0
