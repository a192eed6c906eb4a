"""Recurrence rules in the three regions' zones: named DST cases and hypothesis properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from echo_scheduling.domain.errors import InvalidRecurrence, UnknownTimeZone
from echo_scheduling.domain.recurrence import (
    Frequency,
    Recurrence,
    first_on_or_after,
    horizon_end,
    week_of_month_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TODAY = date(2027, 1, 1)
ZONES = ["America/Toronto", "Europe/Belfast", "Asia/Shanghai"]


def rule(**kw: object) -> Recurrence:
    base: dict[str, object] = {
        "frequency": Frequency.WEEKLY,
        "starts_on": date(2027, 3, 2),
        "local_start": time(12, 0),
        "timezone": "America/Toronto",
        "count": 3,
    }
    base.update(kw)
    return Recurrence(**base)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- named DST cases


def test_toronto_spring_forward_keeps_noon_local_and_moves_an_hour_earlier_in_utc() -> None:
    starts = rule(starts_on=date(2027, 3, 2)).starts(TODAY)  # DST begins Sunday 14 March
    assert starts == [utc(2027, 3, 2, 17), utc(2027, 3, 9, 17), utc(2027, 3, 16, 16)]


def test_toronto_fall_back_keeps_noon_local_and_moves_an_hour_later_in_utc() -> None:
    starts = rule(starts_on=date(2027, 11, 2), count=2).starts(TODAY)  # DST ends 7 November
    assert starts == [utc(2027, 11, 2, 16), utc(2027, 11, 9, 17)]


def test_belfast_follows_the_uk_changes_on_the_last_sundays_of_march_and_october() -> None:
    spring = rule(starts_on=date(2027, 3, 25), count=2, timezone="Europe/Belfast")
    assert spring.starts(TODAY) == [utc(2027, 3, 25, 12), utc(2027, 4, 1, 11)]
    autumn = rule(starts_on=date(2027, 10, 28), count=2, timezone="Europe/Belfast")
    assert autumn.starts(TODAY) == [utc(2027, 10, 28, 11), utc(2027, 11, 4, 12)]


def test_shanghai_has_no_dst_and_stays_at_four_utc_all_year() -> None:
    starts = rule(starts_on=date(2027, 3, 2), count=40, timezone="Asia/Shanghai").starts(TODAY)
    assert {s.time() for s in starts} == {time(4, 0)}


def test_a_start_in_the_spring_gap_happens_one_gap_later_that_day() -> None:
    # Sundays at 02:30 in Toronto: 02:30 does not exist on 14 March 2027.
    starts = rule(starts_on=date(2027, 3, 7), local_start=time(2, 30)).starts(TODAY)
    tz = ZoneInfo("America/Toronto")
    local = [s.astimezone(tz) for s in starts]
    assert [(t.date(), t.time()) for t in local] == [
        (date(2027, 3, 7), time(2, 30)),
        (date(2027, 3, 14), time(3, 30)),
        (date(2027, 3, 21), time(2, 30)),
    ]


def test_an_ambiguous_start_on_the_fall_back_night_takes_the_first_occurrence() -> None:
    starts = rule(starts_on=date(2027, 11, 7), local_start=time(1, 30), count=1).starts(TODAY)
    assert starts == [utc(2027, 11, 7, 5, 30)]  # 01:30 EDT, not 01:30 EST


# --------------------------------------------------------------------------- rule shapes


def test_every_two_weeks_skips_a_week_and_excluded_dates_are_left_out() -> None:
    r = rule(interval_weeks=2, count=4, excluded=frozenset({date(2027, 3, 16)}))
    assert r.dates(TODAY) == [date(2027, 3, 2), date(2027, 3, 30), date(2027, 4, 13)]


def test_monthly_by_week_of_month_including_the_last_week() -> None:
    second = rule(frequency=Frequency.MONTHLY_BY_WEEKDAY, starts_on=date(2027, 1, 12), count=3)
    assert second.dates(TODAY) == [date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9)]
    last = rule(
        frequency=Frequency.MONTHLY_BY_WEEKDAY,
        starts_on=date(2027, 1, 5),
        week_of_month=-1,
        count=3,
    )
    assert last.dates(TODAY) == [date(2027, 1, 26), date(2027, 2, 23), date(2027, 3, 30)]


def test_one_off_is_one_session_and_an_end_date_bounds_a_weekly_rule() -> None:
    assert rule(frequency=Frequency.ONE_OFF, count=None).dates(TODAY) == [date(2027, 3, 2)]
    bounded = rule(count=None, until=date(2027, 3, 20))
    assert bounded.dates(TODAY) == [date(2027, 3, 2), date(2027, 3, 9), date(2027, 3, 16)]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"until": date(2031, 1, 1), "count": None}, "ends_on"),
        ({"count": 160, "interval_weeks": 8}, "session_count"),
        ({"starts_on": date(2026, 12, 1)}, "starts_on"),
        ({"until": date(2027, 3, 1), "count": None}, "ends_on"),
        ({"count": 1, "excluded": frozenset({date(2027, 3, 2)})}, "excluded_dates"),
        ({"interval_weeks": 9}, "interval_weeks"),
        ({"week_of_month": 5, "frequency": Frequency.MONTHLY_BY_WEEKDAY}, "week_of_month"),
    ],
)
def test_bad_rules_name_the_field_at_fault(kw: dict[str, object], field: str) -> None:
    with pytest.raises((InvalidRecurrence, UnknownTimeZone)) as caught:
        rule(**kw).dates(TODAY)
    assert caught.value.field == field


def test_helpers_for_weeks_of_the_month() -> None:
    assert week_of_month_of(date(2027, 1, 29)) == -1
    assert week_of_month_of(date(2027, 1, 8)) == 2
    assert first_on_or_after(date(2027, 1, 1), 1) == date(2027, 1, 5)
    assert first_on_or_after(date(2027, 1, 1), 1, -1) == date(2027, 1, 26)
    assert first_on_or_after(date(2027, 1, 13), 1, 2) == date(2027, 2, 9)


# --------------------------------------------------------------------------- properties


@st.composite
def rules(draw: st.DrawFn) -> tuple[Recurrence, list[date]]:
    frequency = draw(st.sampled_from([Frequency.WEEKLY, Frequency.MONTHLY_BY_WEEKDAY]))
    starts_on = TODAY + timedelta(days=draw(st.integers(0, 2 * 365)))
    base = Recurrence(
        frequency=frequency,
        starts_on=starts_on,
        local_start=time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))),
        timezone=draw(st.sampled_from(ZONES)),
        interval_weeks=draw(st.integers(1, 8)) if frequency is Frequency.WEEKLY else 1,
        week_of_month=draw(st.sampled_from([None, 1, 2, 3, 4, -1]))
        if frequency is Frequency.MONTHLY_BY_WEEKDAY
        else None,
        count=draw(st.integers(1, 30)),
        until=draw(st.none() | st.just(starts_on + timedelta(days=draw(st.integers(0, 400))))),
    )
    try:
        candidates = base.dates(TODAY)
    except InvalidRecurrence:
        candidates = []
    excluded = draw(st.lists(st.sampled_from(candidates), max_size=3)) if candidates else []
    return (
        Recurrence(**{**base.__dict__, "excluded": frozenset(excluded)}),
        candidates,
    )


def _on_rule(r: Recurrence, day: date) -> bool:
    if day.weekday() != r.weekday or day < r.starts_on:
        return False
    if r.frequency is Frequency.WEEKLY:
        return (day - r.starts_on).days % (7 * r.interval_weeks) == 0
    week = r.effective_week_of_month()
    if week == -1:
        return (day + timedelta(weeks=1)).month != day.month
    return (day.day - 1) // 7 + 1 == week


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_every_session_is_on_the_rule_at_local_wall_clock_time(
    drawn: tuple[Recurrence, list[date]],
) -> None:
    r, candidates = drawn
    if not candidates or set(candidates) <= r.excluded:
        # Nothing left (or past the horizon): refused, naming the field at fault.
        with pytest.raises(InvalidRecurrence) as refused:
            r.starts(TODAY)
        assert refused.value.field in {"ends_on", "excluded_dates", "session_count"}
        return
    starts = r.starts(TODAY)
    tz = ZoneInfo(r.timezone)
    days = [s.astimezone(tz).date() for s in starts]
    assert starts == sorted(set(starts))
    assert len(starts) <= (r.count or len(starts))
    for start, day in zip(starts, days, strict=True):
        assert _on_rule(r, day), (r, day)
        assert day not in r.excluded
        assert r.until is None or day <= r.until
        assert day <= horizon_end(TODAY)
        local = start.astimezone(tz)
        naive = datetime.combine(day, r.local_start)
        exists = (
            naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive
        )
        if exists:
            assert local.time() == r.local_start, (r, local)
        else:  # in a spring-forward gap: one gap later, the same day
            assert local.time() > r.local_start and local.date() == day
    assert [d for d in candidates if d not in r.excluded] == days
