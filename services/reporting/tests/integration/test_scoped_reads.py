"""Scoped reads give the reports the whole-region computation gives (hypothesis).

The reference (oracle) is the in-memory computation over every row: fold the events into a
`ReadModel` and compute the report from all of it. The service now reads only one programme's
(or one session's) rows, and computes only a page of a region's programmes. Histories are drawn
from the full scenario (surveys, guests, library, reschedules, a cancellation, attendance and
credit revisions): any subset, in any order, with copies, stored through the live projection in
runs of random length on SQLite, then every programme's, session's and region page's report is
compared with the oracle's.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from echo_contracts import Envelope
from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.domain.metrics import DateRange
from echo_reporting.domain.model import ReadModel
from echo_reporting.service_layer import reports
from echo_reporting.service_layer.projections import update_read_models
from echo_reporting.service_layer.rebuild import MIGRATIONS
from echo_runtime.database import Database, migrate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..scenario import full_scenario

pytestmark = pytest.mark.integration

SCENARIO = full_scenario().envelopes
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
RANGES = [DateRange(), DateRange(date(2025, 2, 1), date(2025, 2, 20))]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.Runner, Database]]:
    path: Path = tmp_path_factory.mktemp("scoped") / "reporting.db"
    with asyncio.Runner() as runner:
        db = Database(f"sqlite+aiosqlite:///{path}")
        runner.run(migrate(db, MIGRATIONS))
        yield runner, db
        runner.run(db.dispose())


def fold(envelopes: list[Envelope[Any]]) -> ReadModel:
    model = ReadModel()
    for env in envelopes:
        model.apply(env)
    return model


async def _store(db: Database, envelopes: list[Envelope[Any]], cuts: list[int]) -> None:
    async with db.transaction() as session:
        await SqlaReadModelRepository(session).clear()
    bounds = sorted({0, len(envelopes), *(c % (len(envelopes) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        async with db.transaction() as session:
            await update_read_models(session, envelopes[start:end])


async def _compare(db: Database, oracle: ReadModel) -> int:
    """Every scoped report equals the oracle's; returns how many were compared."""
    compared = 0
    places = {(row["region"], key) for key, row in oracle.rows["programmes"].items()} | {
        (row["region"], row["programme_id"])
        for kind in ("sessions", "registrations", "attendance", "cases", "responses")
        for row in oracle.rows[kind].values()
        if row["programme_id"] is not None
    }
    for rng in RANGES:
        q = reports.ReportQuery(rng, AS_OF)
        for region, pid in sorted(places, key=str):
            assert await reports.load_programme_report(db, pid, region, q) == (
                reports.programme_report(oracle, pid, region, q)
            )
            assert await reports.load_programme_evaluations(db, pid, region, q) == (
                reports.programme_evaluation_report(oracle, pid, region, q)
            )
            assert await reports.load_response_rates(
                db, q, region=region, programme_id=pid
            ) == reports.session_response_rates(oracle.in_region(region).of_programme(pid), q)
            compared += 3
        for region in sorted({r for r, _ in places}):
            whole = reports.region_report(oracle, region, q)
            for window in (slice(0, 1), slice(1, 3), slice(0, 50)):
                page = await reports.load_region_report(db, region, q, window=window)
                assert page["programmes"] == whole["programmes"][window]
                assert page["programme_count"] == len(whole["programmes"])
                assert {k: v for k, v in page.items() if not k.startswith("programme")} == {
                    k: v for k, v in whole.items() if not k.startswith("programme")
                }
                compared += 1
    q = reports.ReportQuery(DateRange(), AS_OF)
    for sid, session in oracle.rows["sessions"].items():
        place = reports.SessionPlace(session["region"], session["programme_id"])
        assert await reports.load_session_evaluations(db, sid, place, q) == (
            reports.session_evaluation_report(oracle, sid, place, q)
        )
        compared += 1
    return compared


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.sampled_from(SCENARIO), min_size=1, max_size=len(SCENARIO) + 20),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_scoped_reports_equal_the_whole_region_computation(
    store: tuple[asyncio.Runner, Database], envelopes: list[Envelope[Any]], cuts: list[int]
) -> None:
    runner, db = store
    runner.run(_store(db, envelopes, cuts))
    oracle = fold(envelopes)
    compared = runner.run(_compare(db, oracle))
    # a history drawn without any programme or session (a lone credit, say) has nothing to compare
    assert compared > 0 or not (oracle.rows["programmes"] or oracle.rows["sessions"])


def test_the_whole_scenario_in_stream_order_and_twice(
    store: tuple[asyncio.Runner, Database],
) -> None:
    runner, db = store
    history = [*SCENARIO, *reversed(SCENARIO)]
    runner.run(_store(db, history, [7, 40, 41, 90]))
    # Every programme of the scenario, two ranges, three reports each (and more).
    assert runner.run(_compare(db, fold(history))) >= 2 * 3 * len(fold(history).rows["programmes"])
