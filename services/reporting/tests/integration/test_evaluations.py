"""Surveys, guests and the library through the streams and HTTP: hand-counted numbers, CSV = JSON.

The scenario (`tests/scenario.py`, `full_scenario`): COPD Northern Ireland, 3 held sessions,
10 distinct attendees (8 registered, 2 guests), 15 invited, 7 answers with known scores.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from echo_contracts import subject_for, to_wire
from echo_contracts.events import (
    AttendanceRecorded,
    EvaluationOpened,
    EvaluationSubmitted,
    MaterialAdded,
    MaterialRemoved,
)
from echo_reporting.bootstrap import bootstrap
from echo_runtime.testing import eventually, running, token
from nats.js import JetStreamContext

from ..conftest import all_consumed, publish
from ..scenario import COPD, COPD_SESSIONS, full_scenario, ids

pytestmark = pytest.mark.integration

NI = "northern-ireland"
FACILITATOR = token("facilitator", NI)
PROGRAMME = f"/v1/reports/programmes/{COPD}/evaluations"
SESSION = f"/v1/reports/sessions/{COPD_SESSIONS[1]}/evaluations"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _levels(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {level["level"]: level["measures"] for level in report["moore"]}


async def _read(client: Any) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for name, path, headers in (
        ("programme", PROGRAMME, FACILITATOR),
        ("programme_csv", f"{PROGRAMME}?format=csv", FACILITATOR),
        ("session", SESSION, token("observer", NI)),
        ("session_csv", f"{SESSION}?format=csv", token("observer", NI)),
        ("region", f"/v1/reports/regions/{NI}", token("hub-admin", NI)),
        ("programme_report", f"/v1/reports/programmes/{COPD}", FACILITATOR),
        ("network", "/v1/reports/network", token("network-admin", "*")),
        ("network_csv", "/v1/reports/network?format=csv", token("network-admin", "*")),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        if name.endswith("_csv"):
            assert response.headers["content-type"].startswith("text/csv")
            got[name] = list(csv.DictReader(io.StringIO(response.text)))
        else:
            body = response.json()
            body.pop("as_of")
            got[name] = body
    return got


async def test_survey_numbers_reach_every_report_and_redelivery_changes_nothing(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    envelopes = full_scenario().envelopes
    async with running(bootstrap(settings_for(database_url))) as client:
        await publish(js, envelopes)
        await all_consumed(js)
        got = await _read(client)

        # Every survey, guest and library event again, as a relay retry after the duplicate
        # window would send it (another message id: JetStream stores it a second time).
        again = (EvaluationOpened, EvaluationSubmitted, MaterialAdded, MaterialRemoved)
        redelivered = [
            e
            for e in envelopes
            if isinstance(e.data, again)
            or (isinstance(e.data, AttendanceRecorded) and e.data.guest_id is not None)
        ]
        assert len(redelivered) == 3 + 7 + 5 + 1 + 4
        for env in reversed(redelivered):
            await js.publish(
                subject_for(env.region, env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"again-{env.id}"},
            )
        await all_consumed(js)
        assert await _read(client) == got

    programme = got["programme"]
    t = programme["totals"]
    assert (t["invited"], t["responses"], t["response_rate"], t["comments"]) == (15, 7, 0.4667, 3)
    assert t["kinds"]["satisfaction"] == {
        "n": 7,
        "mean": 4.0,
        "distribution": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 3},
    }
    assert (t["kinds"]["relevance"]["mean"], t["kinds"]["confidence_after"]["mean"]) == (3.86, 3.83)
    assert t["confidence"]["change_mean"] == 1.33 and t["intent_to_change_share"] == 0.7143
    sessions = programme["sessions"]
    assert sessions["total"] == 3
    assert [s["response_rate"] for s in sessions["items"]] == [0.5, 0.5, 0.3333]
    assert [s["guest_attendances"] for s in sessions["items"]] == [1, 2, 1]
    assert _levels(programme)["1"] == {
        "registrations": 8,
        "attendances": 19,
        "distinct_attendees": 10,
        "distinct_guests": 2,
    }
    assert _levels(programme)["4"] == {"intent_to_change_share": 0.7143}

    session = got["session"]
    assert (session["programme_id"], session["region"]) == (str(COPD), NI)
    assert (session["invited"], session["responses"], session["response_rate"]) == (6, 3, 0.5)
    assert session["kinds"]["satisfaction"]["mean"] == 4.67
    assert _levels(session)["3B"]["confidence_change_mean"] == 2.0

    # The region, programme and network reports carry the same numbers and Moore's levels.
    for name in ("region", "programme_report"):
        totals = got[name]["totals"]
        assert (totals["evaluations_invited"], totals["evaluation_responses"]) == (15, 7)
        assert (totals["library_materials"], totals["library_recordings"]) == (2, 2)
        assert _levels(got[name])["2"]["satisfaction_mean"] == 4.0
    network = got["network"]
    ni = next(r for r in network["regions"]["items"] if r["region"] == NI)
    assert (ni["response_rate"], ni["distinct_guests"], ni["confidence_change_mean"]) == (
        0.4667,
        2,
        1.33,
    )
    # Network-wide: 12 seeded attendances + 19; the seeded guest has no id (one more guest).
    assert _levels(network)["1"]["attendances"] == 31
    assert _levels(network)["1"]["distinct_guests"] == 3

    # The CSVs say what the JSON says, cell for cell.
    rows = got["programme_csv"]
    assert [r["level"] for r in rows] == ["total", "session", "session", "session"]
    assert rows[0]["invited"] == "15" and rows[0]["response_rate"] == "0.4667"
    assert rows[0]["relevance_mean"] == _cell(t["kinds"]["relevance"]["mean"])
    for row, s in zip(rows[1:], sessions["items"], strict=True):
        assert row["session_id"] == s["session_id"] and row["starts_at"] == s["starts_at"]
        for key in ("invited", "responses", "response_rate", "comments"):
            assert row[key] == _cell(s[key])
        for kind, stats in s["kinds"].items():
            assert row[f"{kind}_n"] == _cell(stats["n"])
            assert row[f"{kind}_mean"] == _cell(stats["mean"])
            for value, n in stats["distribution"].items():
                assert row[f"{kind}_{value}"] == _cell(n)
        assert row["confidence_change_mean"] == _cell(s["confidence"]["change_mean"])
    assert [r["level"] for r in got["session_csv"]] == ["session"]
    assert got["session_csv"][0]["satisfaction_mean"] == "4.67"
    net_row = next(r for r in got["network_csv"] if r["level"] == "region" and r["region"] == NI)
    for key in (
        "evaluations_invited",
        "response_rate",
        "intent_to_change_share",
        "distinct_guests",
    ):
        assert net_row[key] == _cell(ni[key])


async def test_survey_answers_that_break_the_contract_go_to_the_dead_letters(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    envelopes = full_scenario().envelopes
    answers = [e for e in envelopes if isinstance(e.data, EvaluationSubmitted)]
    poison = []
    for n, change in enumerate(
        (
            lambda d: d["scores"][0].update(kind="mood"),  # an unknown question kind
            lambda d: d["scores"][0].update(value=7),  # off the 1..5 scale
            lambda d: d.update(scores="all good"),  # not a list at all
        )
    ):
        body = json.loads(to_wire(answers[n]))
        body["id"] = str(ids(f"poison:{n}"))
        body["data"]["response_id"] = str(ids(f"poison-response:{n}"))
        change(body["data"])
        poison.append(json.dumps(body).encode())
    async with running(bootstrap(settings_for(sqlite_url))) as client:
        subject = subject_for(NI, answers[0].data)
        for n, body in enumerate(poison):
            await js.publish(subject, body, headers={"Nats-Msg-Id": f"poison-{n}"})
        # The good events after them are still applied: nothing waits behind the poison.
        await publish(js, envelopes)
        await all_consumed(js)

        async def dead() -> int:
            return int((await js.stream_info("ECHO_DLQ")).state.messages)

        async def all_three_dead() -> bool:
            return await dead() >= 3

        # Advisories reach the DLQ stream one by one: wait for all three, then count exactly.
        await eventually(all_three_dead, timeout=60)
        assert await dead() == 3
        report = (await client.get(PROGRAMME, headers=FACILITATOR)).json()
    assert (report["totals"]["responses"], report["totals"]["invited"]) == (7, 15)


async def test_evaluation_reports_follow_the_programme_report_access_rules(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(sqlite_url))) as client:
        await publish(js, full_scenario().envelopes)
        await all_consumed(js)
        for path in (PROGRAMME, SESSION):
            assert (await client.get(path)).status_code == 401
            for headers, status in (
                (token("network-admin", "*"), 200),
                (token("hub-admin", NI), 200),
                (token("expert", NI), 200),
                (token("observer", NI), 200),
                (token("facilitator", NI, programmes=[str(COPD)]), 200),
                (token("facilitator", NI, programmes=[str(ids("programme:other"))]), 404),
                (token("hub-admin", "ontario"), 404),
                (token("spoke", NI), 404),
            ):
                response = await client.get(path, headers=headers)
                assert response.status_code == status, (path, headers, response.text)
                if status == 404:
                    assert response.headers["content-type"] == "application/problem+json"
        unknown = await client.get(
            f"/v1/reports/sessions/{ids('session:nowhere')}/evaluations",
            headers=token("network-admin", "*"),
        )
        assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{PROGRAMME}?format=xml", "format"),
        (f"{PROGRAMME}?from=2025-03-01&to=2025-02-01", "to"),
        (f"{PROGRAMME}?limit=0", "limit"),
        (f"{SESSION}?format=pdf", "format"),
        ("/v1/reports/sessions/not-a-uuid/evaluations", "session_id"),
        ("/v1/reports/programmes/not-a-uuid/evaluations", "programme_id"),
    ],
)
async def test_a_bad_evaluation_query_is_a_422_naming_the_field(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any], path: str, field: str
) -> None:
    async with running(bootstrap(settings_for(sqlite_url))) as client:
        await publish(js, full_scenario().envelopes)
        await all_consumed(js)
        response = await client.get(path, headers=token("network-admin", "*"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert any(e["field"].endswith(field) for e in response.json()["errors"])
