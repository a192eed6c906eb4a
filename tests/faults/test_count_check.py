"""Negative controls of the count check the fault tests rely on: it must catch what they hunt.

The fault tests also double one session in a real read model after their exact check passed and
assert the same check then fails; these cover each way of going wrong without processes.
"""

from __future__ import annotations

import uuid

import pytest

from tests.faults.ledger import Counted, Planned, ReadModelCount, check_counts, plan

pytestmark = pytest.mark.faults


def _exact(expected: dict[uuid.UUID, Planned]) -> ReadModelCount:
    return ReadModelCount(
        programmes=set(expected),
        sessions={k: Counted(p.sessions, p.sessions * p.minutes) for k, p in expected.items()},
    )


@pytest.fixture
def expected() -> dict[uuid.UUID, Planned]:
    return {uuid.uuid4(): plan(n) for n in range(20)}


def test_exactly_once_passes(expected: dict[uuid.UUID, Planned]) -> None:
    assert check_counts(expected, _exact(expected)) == []


def test_one_session_counted_twice_is_caught(expected: dict[uuid.UUID, Planned]) -> None:
    seen = _exact(expected)
    doubled, want = next(iter(expected.items()))
    seen.sessions[doubled] = Counted(want.sessions + 1, (want.sessions + 1) * want.minutes)
    problems = check_counts(expected, seen)
    assert len(problems) == 2
    assert problems[0].startswith(f"programme {doubled}: {want.sessions + 1} sessions")
    assert problems[1].startswith("totals:")


def test_a_double_count_hidden_in_the_total_is_caught_by_the_sum() -> None:
    # Programme a loses a session and b counts one twice: the session count still adds up.
    a, b = uuid.uuid4(), uuid.uuid4()
    expected = {a: Planned(sessions=10, minutes=60), b: Planned(sessions=10, minutes=90)}
    seen = ReadModelCount({a, b}, {a: Counted(9, 9 * 60), b: Counted(11, 11 * 90)})
    assert seen.total_sessions == 20
    problems = check_counts(expected, seen)
    assert any(p.startswith("totals: 20 sessions / 1530 min") for p in problems), problems


def test_lost_and_unaccepted_programmes_are_caught(expected: dict[uuid.UUID, Planned]) -> None:
    seen = _exact(expected)
    lost = next(iter(expected))
    seen.programmes.discard(lost)
    del seen.sessions[lost]
    stranger = uuid.uuid4()
    seen.programmes.add(stranger)
    seen.sessions[stranger] = Counted(3, 180)
    problems = check_counts(expected, seen)
    assert "1 accepted programme(s) missing from the read model" in problems
    assert "1 programme(s) in the read model nobody had accepted" in problems
    assert "sessions of 1 programme(s) nobody had accepted" in problems
