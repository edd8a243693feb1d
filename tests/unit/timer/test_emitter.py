"""One iteration of the timer loop, and whole simulated days of them."""

from __future__ import annotations

import time as process_time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_utils.clock import IST, FixedClock
from shared_utils.errors import CalendarUnavailableError
from shared_utils.events.catalog import DetailType
from shared_utils.timer.calendar_view import CalendarMarketView
from shared_utils.timer.emitter import (
    HISTORY_BUDGET,
    HISTORY_EVENT_BOUND,
    ITERATION_EVENTS,
    RECOVERED_ITERATION_EVENTS,
    EmitResult,
    TimerState,
    emit_tick,
    execution_name,
)
from tests.unit.timer.fakes import RecordingPublisher

WEDNESDAY = date(2026, 11, 25)
MARKET = CalendarMarketView.default()


def ist(day: date, hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss, us), IST)


def run_day(
    day: date, market: CalendarMarketView = MARKET, start: datetime | None = None, max_iterations: int = 1500
) -> tuple[list[EmitResult], RecordingPublisher]:
    """Drive the loop as the state machine does: the clock reaches each tick (+ latency) first."""
    publisher = RecordingPublisher()
    state = TimerState(next_tick=start or ist(day, 9, 0, 0, 347_000), max_iterations=max_iterations)
    clock = FixedClock(state.next_tick)
    results: list[EmitResult] = []
    while True:
        clock.set(max(clock.now(), state.next_tick) + timedelta(milliseconds=180))
        result = emit_tick(state, market, publisher, clock)
        results.append(result)
        if not result.continue_:
            return results, publisher
        state = TimerState.model_validate(result.to_state())
        assert len(results) < 2000


def test_simulated_day_events_per_type_per_phase(capsys: pytest.CaptureFixture[str]) -> None:
    results, publisher = run_day(WEDNESDAY)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for event in publisher.events:
        table[event.envelope.phase][event.detail_type.value] += 1
    with capsys.disabled():
        print(f"\nSimulated {WEDNESDAY} (close 15:40 IST): events per type per phase")  # noqa: T201 (report)
        for phase, counts in table.items():
            cells = ", ".join(f"{name}={count}" for name, count in sorted(counts.items()))
            print(f"  {phase:<10} {cells}")  # noqa: T201 (the simulated day's report)
    ticks = [r.handled_tick for r in results if r.handled_tick is not None]
    assert ticks[0] == ist(WEDNESDAY, 9, 0) and ticks[-1] == ist(WEDNESDAY, 15, 40)
    assert len(ticks) == 6 * 60 + 41 and len(set(ticks)) == len(ticks)
    assert all(t.second == 0 and t.microsecond == 0 for t in ticks)
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(ticks))
    per_type = Counter(event.detail_type for event in publisher.events)
    assert per_type[DetailType.SCHEDULE_STRATEGY_TRIGGER] == 6 * 60 + 40  # 09:00 .. 15:39 every minute
    assert per_type[DetailType.CHECK_STOP_LOSS] == 6 * 60 + 40 - 15  # 09:15 .. 15:39
    assert per_type[DetailType.REFRESH_MARKET_DATA] == per_type[DetailType.CHECK_STOP_LOSS]
    assert table["closed"] == Counter({"CheckDuplicateOrders": 1})
    assert results[-1].continue_ is False and results[-1].next_tick > ist(WEDNESDAY, 15, 40)


def test_close_is_effective_dated() -> None:
    results, _ = run_day(date(2026, 7, 29))
    assert max(r.handled_tick for r in results if r.handled_tick) == ist(date(2026, 7, 29), 15, 30)


@pytest.mark.parametrize("day", [date(2026, 11, 24), date(2026, 11, 28), date(2026, 11, 29)])
def test_holiday_and_weekend_emit_nothing_and_stop(day: date) -> None:
    results, publisher = run_day(day)
    assert len(results) == 1 and results[0].continue_ is False
    assert publisher.events == []


def test_started_before_the_session_waits_for_its_first_tick() -> None:
    clock = FixedClock(ist(WEDNESDAY, 7, 12, 5))
    publisher = RecordingPublisher()
    result = emit_tick(TimerState(next_tick=clock.now()), MARKET, publisher, clock)
    assert result.continue_ and result.next_tick == ist(WEDNESDAY, 9, 0) and publisher.events == []


def test_tick_after_the_close_does_nothing_and_ends() -> None:
    clock = FixedClock(ist(WEDNESDAY, 16, 0))
    publisher = RecordingPublisher()
    result = emit_tick(TimerState(next_tick=clock.now()), MARKET, publisher, clock)
    assert not result.continue_ and publisher.events == []


def test_next_tick_comes_from_the_full_timestamp() -> None:
    clock = FixedClock(ist(WEDNESDAY, 10, 0, 0, 400_000))
    state = TimerState(next_tick=ist(WEDNESDAY, 10, 0, 0, 1))
    result = emit_tick(state, MARKET, RecordingPublisher(), clock)
    assert result.handled_tick == ist(WEDNESDAY, 10, 0)
    assert result.next_tick == ist(WEDNESDAY, 10, 1)
    assert result.to_state()["next_tick"] == "2026-11-25T04:31:00Z"


def test_restart_after_max_iterations_hands_over_without_repeating_a_minute() -> None:
    results, publisher = run_day(WEDNESDAY, max_iterations=100)
    restarts = [r for r in results if r.restart]
    assert len(restarts) == 4
    assert [r.successor_name for r in restarts] == [execution_name(WEDNESDAY, g) for g in range(1, 5)]
    assert all(r.iteration == 0 for r in restarts)
    ticks = [r.handled_tick for r in results if r.handled_tick]
    assert len(ticks) == len(set(ticks)) == 401
    assert len(publisher.events) == len(run_day(WEDNESDAY)[1].events)


def test_a_failed_tick_is_skipped_and_the_day_goes_on() -> None:
    clock = FixedClock(ist(WEDNESDAY, 11, 0, 3))
    publisher = RecordingPublisher()
    state = TimerState(next_tick=ist(WEDNESDAY, 11, 0), error={"Error": "States.TaskFailed"})
    result = emit_tick(state, MARKET, publisher, clock)
    assert result.continue_ and result.next_tick == ist(WEDNESDAY, 11, 1)
    assert result.skipped_minutes == 1 and publisher.events == []


def test_a_stale_tick_is_skipped_not_emitted_late() -> None:
    clock = FixedClock(ist(WEDNESDAY, 11, 7, 30))
    publisher = RecordingPublisher()
    result = emit_tick(TimerState(next_tick=ist(WEDNESDAY, 11, 0)), MARKET, publisher, clock)
    assert publisher.events == [] and result.next_tick == ist(WEDNESDAY, 11, 8)
    # ... while a tick handled a little late is still emitted, and the next one follows it.
    clock.set(ist(WEDNESDAY, 11, 1, 40))
    result = emit_tick(TimerState(next_tick=ist(WEDNESDAY, 11, 0)), MARKET, publisher, clock)
    assert publisher.events and result.next_tick == ist(WEDNESDAY, 11, 1)


def test_state_accepts_tick_alias_and_rejects_naive_times() -> None:
    assert TimerState.model_validate({"tick": "2026-11-25T04:00:00Z"}).next_tick == ist(WEDNESDAY, 9, 30)
    with pytest.raises(ValueError):
        TimerState.model_validate({"next_tick": "2026-11-25T04:00:00"})


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=59_999_999))
def test_any_start_latency_gives_whole_minutes(latency_us: int) -> None:
    start = ist(WEDNESDAY, 9, 0) + timedelta(microseconds=latency_us)
    clock = FixedClock(start)
    publisher = RecordingPublisher()
    state = TimerState(next_tick=start)
    previous: datetime | None = None
    for _ in range(5):
        result = emit_tick(state, MARKET, publisher, clock)
        assert result.next_tick.second == 0 and result.next_tick.microsecond == 0
        assert previous is None or result.handled_tick == previous
        previous = result.next_tick
        clock.set(result.next_tick + timedelta(microseconds=latency_us))
        state = TimerState.model_validate(result.to_state())
    assert previous == ist(WEDNESDAY, 9, 5)


def test_output_is_the_state_machine_contract() -> None:
    clock = FixedClock(datetime(2026, 11, 25, 4, 0, 0, 120_000, tzinfo=UTC))
    out = emit_tick(TimerState(next_tick=clock.now()), MARKET, RecordingPublisher(), clock).to_state()
    assert out["next_tick"].endswith("Z") and out["continue"] is True and out["restart"] is False
    assert {"iteration", "generation", "max_iterations", "successor_name"} <= out.keys()


def test_a_year_without_an_official_list_runs_provisionally_and_counts_down() -> None:
    clock = FixedClock(ist(date(2031, 3, 5), 9, 0))
    publisher = RecordingPublisher()
    result = emit_tick(TimerState(next_tick=clock.now()), MARKET, publisher, clock)
    assert result.continue_ is True and result.emitted and publisher.events
    assert result.confirmed_days_left == (date(2026, 12, 31) - date(2031, 3, 5)).days  # negative: past it
    inside = emit_tick(TimerState(next_tick=ist(WEDNESDAY, 9, 30)), MARKET, RecordingPublisher(), clock)
    assert inside.confirmed_days_left == (date(2026, 12, 31) - WEDNESDAY).days


def test_a_date_without_session_times_fails_the_execution_instead_of_guessing() -> None:
    clock = FixedClock(ist(date(2024, 6, 5), 9, 0))  # before the first session-times rule
    publisher = RecordingPublisher()
    with pytest.raises(CalendarUnavailableError, match="no market calendar"):
        emit_tick(TimerState(next_tick=clock.now()), MARKET, publisher, clock)
    assert publisher.events == []


def test_restart_before_the_history_budget_even_with_many_failures() -> None:
    clock = FixedClock(ist(WEDNESDAY, 10, 0, 0, 100_000))
    near = HISTORY_BUDGET - RECOVERED_ITERATION_EVENTS - ITERATION_EVENTS + 1
    result = emit_tick(
        TimerState(next_tick=clock.now(), history_events=near), MARKET, RecordingPublisher(), clock
    )
    assert result.restart and result.history_events == 0 and result.generation == 1
    assert HISTORY_BUDGET + RECOVERED_ITERATION_EVENTS < HISTORY_EVENT_BOUND


def test_every_iteration_failing_still_restarts_under_the_bound() -> None:
    """Worst case: every tick fails and is recovered; no execution may reach the bound."""
    clock = FixedClock(ist(WEDNESDAY, 9, 0))
    state = TimerState(next_tick=clock.now())
    worst, restarts = 0, 0
    for _ in range(2000):
        failing = TimerState.model_validate({**state.model_dump(), "error": {"Error": "States.TaskFailed"}})
        result = emit_tick(failing, MARKET, RecordingPublisher(), clock)
        if not result.continue_:
            break
        restarts += result.restart
        worst = max(worst, result.history_events)
        clock.set(result.next_tick)
        state = TimerState.model_validate(result.to_state())
    assert worst + RECOVERED_ITERATION_EVENTS <= HISTORY_BUDGET


def test_the_close_is_reported_for_the_state_machine() -> None:
    clock = FixedClock(ist(WEDNESDAY, 10, 0))
    result = emit_tick(TimerState(next_tick=clock.now()), MARKET, RecordingPublisher(), clock)
    assert result.to_state()["session_close"] == "2026-11-25T10:10:00Z"  # 15:40 IST


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_the_day_does_not_depend_on_the_process_time_zone(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = [r.to_state() for r in run_day(WEDNESDAY)[0]]
    monkeypatch.setenv("TZ", zone)
    process_time.tzset()
    try:
        assert [r.to_state() for r in run_day(WEDNESDAY)[0]] == reference
    finally:
        monkeypatch.undo()
        process_time.tzset()


def test_a_muhurat_evening_waits_from_the_morning_start_to_its_own_session() -> None:
    muhurat = date(2025, 10, 21)  # a holiday with a 13:30-14:45 IST Muhurat session
    results, _ = run_day(muhurat)
    assert results[0].handled_tick is None and results[0].next_tick == ist(muhurat, 13, 30)
    ticks = [r.handled_tick for r in results if r.handled_tick]
    assert ticks[0] == ist(muhurat, 13, 30) and ticks[-1] == ist(muhurat, 14, 45) and len(ticks) == 76


def test_a_saturday_special_session_runs() -> None:
    results, publisher = run_day(date(2025, 2, 1))
    assert len([r for r in results if r.handled_tick]) == 6 * 60 + 31 and publisher.events
