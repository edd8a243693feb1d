"""The phase -> events table (docs/timer.md) and the envelopes it produces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.events.catalog import ANNOUNCEMENTS, ENVELOPE_VERSION, DetailType
from shared_utils.market.phases import MarketPhase
from shared_utils.timer.plan import CADENCE, PHASE_EVENTS, events_for

TRADE_DATE = date(2026, 11, 25)
TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 09:30 IST, a 5-minute boundary


def test_the_table_has_one_row_per_market_phase() -> None:
    assert set(PHASE_EVENTS) == {phase.value for phase in MarketPhase}


def test_every_detail_type_but_the_handlers_announcements_fires_in_some_phase() -> None:
    fired = {detail_type for types in PHASE_EVENTS.values() for detail_type in types}
    assert fired == set(DetailType) - ANNOUNCEMENTS


def test_no_phase_lists_an_event_twice() -> None:
    for types in PHASE_EVENTS.values():
        assert len(types) == len(set(types))


@pytest.mark.parametrize("phase", ["open", "morning", "lunch", "afternoon", "pre_close"])
def test_market_hours_fire_all_four_on_a_five_minute_tick(phase: str) -> None:
    fired = {event.detail_type for event in events_for(TICK, phase, TRADE_DATE)}
    assert fired == set(DetailType) - ANNOUNCEMENTS


def test_schedule_trigger_every_minute_so_each_entry_goes_at_its_own_minute() -> None:
    for minute in range(10):
        tick = TICK + timedelta(minutes=minute)
        types = [event.detail_type for event in events_for(tick, "morning", TRADE_DATE)]
        assert DetailType.SCHEDULE_STRATEGY_TRIGGER in types
        assert DetailType.CHECK_STOP_LOSS in types and DetailType.REFRESH_MARKET_DATA in types


def test_pre_open_has_no_stop_loss_nor_refresh_and_closed_only_sweeps_duplicates() -> None:
    pre_open = {event.detail_type for event in events_for(TICK, "pre_open", TRADE_DATE)}
    assert pre_open == {DetailType.SCHEDULE_STRATEGY_TRIGGER, DetailType.CHECK_DUPLICATE_ORDERS}
    assert [event.detail_type for event in events_for(TICK, "closed", TRADE_DATE)] == [
        DetailType.CHECK_DUPLICATE_ORDERS
    ]
    assert events_for(TICK, "no-such-phase", TRADE_DATE) == []


def test_priority_follows_the_phase_order() -> None:
    pre_close = events_for(TICK, "pre_close", TRADE_DATE)
    assert pre_close[0].detail_type is DetailType.CHECK_STOP_LOSS
    assert [event.envelope.priority for event in pre_close] == [1, 2, 3, 4]
    assert events_for(TICK, "morning", TRADE_DATE)[0].detail_type is DetailType.REFRESH_MARKET_DATA


def test_windows_lookahead_and_lookback() -> None:
    by_type = {event.detail_type: event.envelope for event in events_for(TICK, "morning", TRADE_DATE)}
    trigger = by_type[DetailType.SCHEDULE_STRATEGY_TRIGGER]
    assert (trigger.window_start, trigger.window_end) == (TICK, TICK + timedelta(minutes=1))
    duplicates = by_type[DetailType.CHECK_DUPLICATE_ORDERS]
    assert (duplicates.window_start, duplicates.window_end) == (TICK - timedelta(minutes=5), TICK)
    assert all(
        envelope.version == ENVELOPE_VERSION and envelope.tick == TICK for envelope in by_type.values()
    )


@given(st.integers(min_value=0, max_value=60 * 24 - 1), st.sampled_from(sorted(PHASE_EVENTS)))
def test_cadence_holds_for_any_minute(minute: int, phase: str) -> None:
    tick = datetime(2026, 11, 25, tzinfo=UTC) + timedelta(minutes=minute)
    for event in events_for(tick, phase, TRADE_DATE):
        assert minute % CADENCE[event.detail_type].every_minutes == 0
