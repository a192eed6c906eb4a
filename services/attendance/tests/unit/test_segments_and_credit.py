"""Merged segments and credit rules: what a participant is credited for."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from echo_attendance.domain.model import (
    CreditRule,
    Edge,
    EdgeKind,
    Window,
    attended_seconds,
    guest_key,
    verification_code,
)

START = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(minutes=100))
RULE = CreditRule(version=1, min_percent=80, rounding_hours=Decimal("0.25"))


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def join(m: float, instance: str = "i1", conn: str = "c1") -> Edge:
    return Edge(EdgeKind.JOIN, at(m), instance, conn)


def leave(m: float, instance: str = "i1", conn: str = "c1") -> Edge:
    return Edge(EdgeKind.LEAVE, at(m), instance, conn)


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(79, Decimal(0)), (80, Decimal("1.25")), (81, Decimal("1.25")), (100, Decimal("1.75"))],
)
def test_credit_boundary_at_80_percent(minutes: int, hours: Decimal) -> None:
    attended = attended_seconds([join(0), leave(minutes)], WINDOW)
    assert attended == minutes * 60
    assert RULE.hours(attended, WINDOW.seconds) == hours


def test_one_second_short_of_80_percent_earns_nothing() -> None:
    assert RULE.hours(80 * 60 - 1, 100 * 60) == 0
    assert RULE.hours(80 * 60, 100 * 60) == Decimal("1.25")


def test_hours_round_half_up_to_the_quarter() -> None:
    rule = CreditRule(2, 50, Decimal("0.25"))
    # 1h07m30s = 1.125 h is exactly between 1.0 and 1.25: half-up gives 1.25.
    assert rule.hours(4050, 7200) == Decimal("1.25")
    assert rule.hours(4049, 7200) == Decimal("1")
    assert CreditRule(3, 50, Decimal("0.5")).hours(5400, 7200) == Decimal("1.5")


def test_reconnections_merge_and_overlaps_are_not_counted_twice() -> None:
    edges = [
        join(0, conn="a"),
        leave(30, conn="a"),
        join(32, conn="b"),  # reconnected after a 2-minute drop
        leave(70, conn="b"),
        join(60, conn="phone"),  # dialled in by phone as well, overlapping
        leave(90, conn="phone"),
    ]
    assert attended_seconds(edges, WINDOW) == (30 + 58) * 60


def test_restarted_meeting_instance_counts_inside_the_window() -> None:
    edges = [
        join(-10, instance="first"),  # early: only time inside the window counts
        leave(40, instance="first"),
        Edge(EdgeKind.END, at(40), "first", ""),
        join(45, instance="restarted"),
        leave(130, instance="restarted"),  # stayed after the end: cut at the window
    ]
    assert attended_seconds(edges, WINDOW) == (40 + 55) * 60


def test_meeting_end_closes_open_connections_of_that_instance_only() -> None:
    edges = [
        join(0, instance="first", conn="x"),
        Edge(EdgeKind.END, at(50), "first", ""),
        join(55, instance="second", conn="x"),
    ]
    assert attended_seconds(edges, WINDOW) == 50 * 60


def test_arrival_order_does_not_matter() -> None:
    edges = [
        join(0, conn="a"),
        leave(30, conn="a"),
        join(35, conn="b"),
        leave(95, conn="b"),
        leave(50, instance="i2", conn="x"),  # a leave whose join never came is ignored
    ]
    expected = attended_seconds(edges, WINDOW)
    for seed in range(20):
        shuffled = edges[:]
        random.Random(seed).shuffle(shuffled)
        assert attended_seconds(shuffled, WINDOW) == expected == 90 * 60


def test_an_open_join_counts_nothing_until_it_ends() -> None:
    assert attended_seconds([join(0)], WINDOW) == 0


def test_guests_are_keyed_by_the_tools_id_never_the_display_name() -> None:
    assert guest_key("zoom", "uuid-1") != guest_key("zoom", "uuid-2")
    assert guest_key("zoom", "uuid-1") == guest_key("zoom", "uuid-1")
    assert guest_key("zoom", "uuid-1").startswith("guest:")


def test_verification_code_depends_on_certificate_and_hours() -> None:
    import uuid

    cert = uuid.uuid4()
    code = verification_code("s", cert, Decimal("3.5"))
    assert code == verification_code("s", cert, Decimal("3.5"))
    assert code != verification_code("s", cert, Decimal("3.75"))
    assert len(code) == 14 and code.count("-") == 2
