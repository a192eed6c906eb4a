"""The reducer: known answers for the seeded scenario, order tolerance, idempotence, residency."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import UTC, date, datetime
from typing import Any

from echo_contracts import ALL_EVENTS, Envelope, Residency
from echo_reporting.domain.metrics import REGIONAL_METRICS, DateRange
from echo_reporting.domain.model import ReadModel
from echo_reporting.service_layer.reports import (
    ReportQuery,
    SessionPlace,
    csv_columns,
    csv_rows,
    evaluation_csv_columns,
    evaluation_csv_rows,
    network_report,
    programme_evaluation_report,
    programme_report,
    region_report,
    session_evaluation_report,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ..scenario import COPD, COPD_SESSIONS, full_scenario, ids, seeded_scenario

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
REGIONS = ["northern-ireland", "ontario", "shanghai"]
SEEDED = seeded_scenario().envelopes
#: The seeded scenario plus surveys, guests and a library: what the order tests shuffle.
SCENARIO = full_scenario().envelopes


def fold(envelopes: list[Envelope[Any]]) -> ReadModel:
    model = ReadModel()
    for env in envelopes:
        model.apply(env)
    return model


def reports(model: ReadModel, rng: DateRange | None = None) -> list[dict[str, Any]]:
    q = ReportQuery(rng or DateRange(), AS_OF)
    hep = ids("programme:hepatitis c ontario")
    return [
        network_report(model, REGIONS, q),
        region_report(model, "ontario", q),
        region_report(model, "shanghai", q),
        programme_report(model, hep, "ontario", q),
        programme_evaluation_report(model, COPD, "northern-ireland", q),
        session_evaluation_report(
            model, COPD_SESSIONS[1], SessionPlace("northern-ireland", COPD), q
        ),
    ]


EXPECTED_SEEDED = reports(fold(SEEDED))
EXPECTED = reports(fold(SCENARIO))
FEBRUARY = DateRange(date(2025, 2, 1), date(2025, 2, 28))
EXPECTED_FEBRUARY = reports(fold(SCENARIO), FEBRUARY)


def test_the_seeded_scenario_gives_the_hand_counted_numbers() -> None:
    network, ontario, _, hepatitis, *_ = EXPECTED_SEEDED
    t = network["totals"]
    assert (t["programmes"], t["sessions_total"], t["sessions_held"], t["sessions_cancelled"]) == (
        3,
        10,
        8,
        1,
    )
    # ann, bob, cat, dan, eve registered; eve never attended; 4 clinics.
    assert (t["registered_participants"], t["attending_participants"], t["unique_clinics"]) == (
        5,
        4,
        4,
    )
    # 8 + 2 + 2 attendances over 8 held sessions; 4 of 6 registrations attend half or more.
    assert (t["attendances"], t["average_attendance"], t["retention"]) == (12, 1.5, 0.6667)
    assert (t["didactic_hours"], t["cme_hours"], t["certificates_issued"]) == (13.0, 11.25, 1)
    assert t["professions"]["physician"] == 2 and t["professions"]["nurse_practitioner"] == 1
    assert [t[f"cases_{s}"] for s in ("submitted", "approved", "scheduled", "presented")] == [
        4,
        3,
        2,
        2,
    ]
    assert "cases_rejected" not in t
    assert ontario["totals"]["cases_rejected"] == 1
    h = hepatitis["totals"]
    # cat's first attendance was revised to 0 s; bob's credit recomputed from 1.5 to 1.25 h.
    assert (h["attendances"], h["average_attendance"], h["cme_hours"]) == (8, 2.0, 7.25)
    assert hepatitis["title"] == "Hepatitis C Ontario"
    assert [m["month"] for m in hepatitis["months"]] == ["2025-01", "2025-02"]


def test_a_date_range_counts_only_what_happened_in_it() -> None:
    t = EXPECTED_FEBRUARY[0]["totals"]
    # February: hep3 (moved), pain0, pain1 held, pain2 cancelled; ann's pain registration.
    assert (t["sessions_total"], t["sessions_held"], t["sessions_cancelled"]) == (4, 3, 1)
    assert (t["registrations"], t["attendances"]) == (1, 3)
    assert [m["month"] for m in EXPECTED_FEBRUARY[0]["months"]] == ["2025-02"]


@st.composite
def causal_shuffles(draw: st.DrawFn) -> list[Envelope[Any]]:
    """The scenario's events interleaved at random, each aggregate's events kept in order."""
    queues: dict[str, deque[Envelope[Any]]] = defaultdict(deque)
    for env in SCENARIO:
        queues[env.subject].append(env)
    order = draw(st.permutations([env.subject for env in SCENARIO]))
    return [queues[subject].popleft() for subject in order]


@settings(max_examples=60, deadline=None)
@given(causal_shuffles())
def test_any_interleaving_of_aggregates_gives_identical_numbers(
    envelopes: list[Envelope[Any]],
) -> None:
    model = fold(envelopes)
    assert reports(model) == EXPECTED
    assert reports(model, FEBRUARY) == EXPECTED_FEBRUARY


@settings(max_examples=60, deadline=None)
@given(st.permutations(SCENARIO), st.lists(st.integers(0, len(SCENARIO) - 1), max_size=30))
def test_any_order_with_redeliveries_gives_identical_numbers(
    envelopes: list[Envelope[Any]], again: list[int]
) -> None:
    model = fold([*envelopes, *(envelopes[i] for i in again)])
    assert reports(model) == EXPECTED


def test_replaying_everything_twice_changes_nothing() -> None:
    assert reports(fold([*SCENARIO, *SCENARIO])) == EXPECTED


def test_the_network_view_ignores_every_regional_event() -> None:
    regional = [e for e in SCENARIO if type(e.data).residency is Residency.REGIONAL]
    network = [e for e in SCENARIO if type(e.data).residency is Residency.NETWORK]
    assert regional and network
    empty = network_report(ReadModel(), REGIONS, ReportQuery(as_of=AS_OF))
    assert network_report(fold(regional), REGIONS, ReportQuery(as_of=AS_OF)) == empty
    assert reports(fold(network))[0] == EXPECTED[0]


def test_every_event_the_reports_use_has_a_projection_and_regional_ones_are_known() -> None:
    from echo_reporting.domain.model import PROJECTORS, REGIONAL_FIELDS

    for cls in PROJECTORS:
        assert cls in ALL_EVENTS
        if cls.residency is Residency.REGIONAL:
            assert PROJECTORS[cls].kind in REGIONAL_FIELDS


def test_csv_rows_have_the_stable_columns() -> None:
    columns = csv_columns(regional=True)
    assert columns[:6] == ["level", "region", "programme_id", "month", "from", "to"]
    assert set(REGIONAL_METRICS) <= set(columns)
    rows = csv_rows(EXPECTED[1])
    assert [r["level"] for r in rows][:3] == ["total", "programme", "programme"]
    assert rows[0]["profession_pharmacist"] == 1


def _kind(detail: dict[str, Any], kind: str) -> tuple[Any, ...]:
    stats = detail["kinds"][kind]
    return stats["n"], stats["mean"], [stats["distribution"][str(v)] for v in range(1, 6)]


def test_surveys_guests_and_the_library_give_the_hand_counted_numbers() -> None:
    network, *_, copd, copd1 = EXPECTED
    t = copd["totals"]
    # 6 + 6 + 3 invited, 3 + 3 + 1 answers.
    assert (t["invited"], t["responses"], t["response_rate"], t["comments"]) == (15, 7, 0.4667, 3)
    assert _kind(t, "satisfaction") == (7, 4.0, [0, 1, 1, 2, 3])
    assert _kind(t, "relevance") == (7, 3.86, [0, 1, 1, 3, 2])
    assert _kind(t, "confidence_before") == (6, 2.5, [1, 2, 2, 1, 0])
    assert _kind(t, "confidence_after") == (6, 3.83, [0, 0, 2, 3, 1])
    assert _kind(t, "intent_to_change") == (7, 4.0, [0, 1, 1, 2, 3])
    # r6 skipped confidence: 6 paired answers changed by +2 +1 0 +2 +2 +1.
    assert t["confidence"] == {
        "before_mean": 2.5,
        "after_mean": 3.83,
        "paired_responses": 6,
        "change_mean": 1.33,
    }
    assert t["intent_to_change_share"] == 0.7143  # 5 of 7 scored 4 or 5
    rates = [(s["invited"], s["responses"], s["response_rate"]) for s in copd["sessions"]]
    assert rates == [(6, 3, 0.5), (6, 3, 0.5), (3, 1, 0.3333)]
    first = copd["sessions"][0]
    assert (first["confidence"]["change_mean"], first["intent_to_change_share"]) == (1.0, 0.6667)
    assert [s["attendances"] for s in copd["sessions"]] == [7, 8, 4]

    levels = {level["level"]: level["measures"] for level in copd["moore"]}
    assert levels["1"] == {
        "registrations": 8,
        "attendances": 19,
        "distinct_attendees": 10,
        "distinct_guests": 2,
    }
    assert levels["2"] == {
        "satisfaction_mean": 4.0,
        "relevance_mean": 3.86,
        "responses": 7,
        "response_rate": 0.4667,
    }
    assert levels["3B"] == {
        "confidence_before_mean": 2.5,
        "confidence_after_mean": 3.83,
        "confidence_change_mean": 1.33,
    }
    assert levels["4"] == {"intent_to_change_share": 0.7143}

    # One session: r4, r5, r6; g1 and g2 came as guests.
    assert (copd1["invited"], copd1["responses"], copd1["response_rate"]) == (6, 3, 0.5)
    assert _kind(copd1, "satisfaction") == (3, 4.67, [0, 0, 0, 1, 2])
    assert (copd1["confidence"]["change_mean"], copd1["comments"]) == (2.0, 1)
    session_levels = {level["level"]: level["measures"] for level in copd1["moore"]}
    assert session_levels["1"] == {
        "registrations": None,
        "attendances": 8,
        "distinct_attendees": 8,
        "distinct_guests": 2,
    }

    ni = next(r for r in network["regions"] if r["region"] == "northern-ireland")
    assert (ni["guest_attendances"], ni["distinct_guests"], ni["distinct_attendees"]) == (4, 2, 10)
    assert (ni["evaluations_invited"], ni["evaluation_responses"], ni["response_rate"]) == (
        15,
        7,
        0.4667,
    )
    assert (ni["library_materials"], ni["library_recordings"]) == (2, 2)
    assert (ni["satisfaction_mean"], ni["intent_to_change_share"]) == (4.0, 0.7143)
    # The seeded guest of hepatitis C has no guest id: one guest of its own.
    on = next(r for r in network["regions"] if r["region"] == "ontario")
    assert (on["guest_attendances"], on["distinct_guests"], on["response_rate"]) == (1, 1, None)
    assert {level["level"] for level in network["moore"]} == {"1", "2", "3B", "4"}


def test_evaluation_csv_rows_carry_the_json_numbers() -> None:
    copd = EXPECTED[4]
    columns = evaluation_csv_columns()
    rows = evaluation_csv_rows(copd)
    assert [r["level"] for r in rows] == ["total", "session", "session", "session"]
    assert set(rows[0]) == set(columns)
    assert rows[0]["response_rate"] == 0.4667 and rows[0]["relevance_4"] == 3
    assert [r["session_id"] for r in rows[1:]] == [str(s) for s in COPD_SESSIONS]
