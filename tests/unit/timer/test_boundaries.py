"""Boundary arithmetic: the same answers whatever the process's local time zone is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.clock import IST
from shared_utils.timer.boundaries import (
    boundaries,
    boundary_at_or_after,
    floor_minute,
    is_boundary,
    minute_of_day,
    next_boundary_after,
    parse_tick,
)


@pytest.fixture(params=["UTC", "Asia/Kolkata"], autouse=True)
def local_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.sampled_from([UTC, IST])
)


@given(instants)
def test_next_boundary_is_the_first_zero_second_instant_strictly_after(instant: datetime) -> None:
    upcoming = next_boundary_after(instant)
    assert is_boundary(upcoming)
    assert upcoming > instant
    assert upcoming - instant <= timedelta(minutes=1)
    assert upcoming.tzinfo is UTC


@given(instants)
def test_floor_and_next_bracket_the_instant(instant: datetime) -> None:
    assert floor_minute(instant) <= instant < next_boundary_after(instant)
    assert next_boundary_after(instant) - floor_minute(instant) == timedelta(minutes=1)


@given(instants, st.integers(min_value=1, max_value=600))
def test_a_loop_of_next_boundaries_never_drifts_nor_repeats(start: datetime, steps: int) -> None:
    tick = next_boundary_after(start)
    seen = set()
    for _ in range(steps):
        assert tick.second == 0 and tick.microsecond == 0
        assert tick not in seen
        seen.add(tick)
        tick = next_boundary_after(tick)
    assert tick == next_boundary_after(start) + timedelta(minutes=steps)


def test_microseconds_count() -> None:
    base = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
    assert next_boundary_after(base) == base + timedelta(minutes=1)
    assert next_boundary_after(base + timedelta(microseconds=1)) == base + timedelta(minutes=1)
    assert next_boundary_after(base + timedelta(seconds=59, microseconds=999_999)) == base + timedelta(
        minutes=1
    )
    assert boundary_at_or_after(base) == base
    assert boundary_at_or_after(base + timedelta(microseconds=1)) == base + timedelta(minutes=1)


def test_ist_and_utc_inputs_agree() -> None:
    ist = datetime(2026, 11, 25, 9, 15, 30, 250_000, tzinfo=IST)
    assert next_boundary_after(ist) == datetime(2026, 11, 25, 3, 46, tzinfo=UTC)
    # IST is UTC+05:30: a 5-minute boundary in UTC is one in IST too.
    assert minute_of_day(datetime(2026, 11, 25, 9, 20, tzinfo=IST)) % 5 == 0


def test_boundaries_in_a_range_are_inclusive_and_ordered() -> None:
    start = datetime(2026, 11, 25, 9, 0, 0, 1, tzinfo=IST)
    end = datetime(2026, 11, 25, 9, 3, tzinfo=IST)
    assert [t.astimezone(IST).strftime("%H:%M") for t in boundaries(start, end)] == [
        "09:01",
        "09:02",
        "09:03",
    ]


def test_parse_tick_accepts_z_and_offsets_and_rejects_naive() -> None:
    assert parse_tick("2026-11-25T03:30:00Z") == datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
    assert parse_tick("2026-11-25T09:00:00+05:30") == datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_tick("2026-11-25T03:30:00")
    with pytest.raises(ValueError):
        floor_minute(datetime(2026, 11, 25, 3, 30))


def test_other_offsets_are_normalised_to_utc() -> None:
    odd = datetime(2026, 11, 25, 3, 30, 45, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    assert next_boundary_after(odd) == datetime(2026, 11, 25, 7, 1, tzinfo=UTC)
