"""The strategy's lease: one writer at a time, re-entrant in its thread, lost when it lapses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared_utils.clock import FixedClock
from shared_utils.errors import StrategyBusyError
from shared_utils.execution.leases import LeaseConfig, StrategyLeases
from tests.unit.execution.builders import NOW


def process(aws: dict[str, Any], clock: FixedClock) -> StrategyLeases:
    """What one Lambda (or local worker) holds: its own client-side state, the shared table."""
    naps: list[float] = []
    leases = StrategyLeases(
        aws["dynamodb"],
        aws["settings"].history_table_name,
        clock,
        config=LeaseConfig(wait_s=1.0, poll_s=0.25),
        sleep=naps.append,
    )
    leases.naps = naps  # type: ignore[attr-defined]
    return leases


def test_a_second_process_waits_then_gets_busy_and_gets_the_lease_once_it_is_given_back(aws):
    clock = FixedClock(NOW)
    first, second = process(aws, clock), process(aws, clock)
    with first.hold("u", "s"):
        with pytest.raises(StrategyBusyError), second.hold("u", "s"):
            pytest.fail("two writers at once")
        assert second.naps == [0.25] * 4  # it waited its 1 s before giving up
        with second.hold("u", "other-strategy"):  # other strategies are not held up
            pass
        with first.hold("u", "s"):  # re-entrant in the holder's thread
            assert first.renew("u", "s")
        assert first.renew("u", "s")  # the inner block did not give it back
    with second.hold("u", "s"):
        assert not first.renew("u", "s")


def test_a_lease_left_by_a_dead_process_lapses_and_its_holder_learns_it_lost_it(aws):
    clock = FixedClock(NOW)
    dead, fresh = process(aws, clock), process(aws, clock)
    held = dead.hold("u", "s")
    held.__enter__()  # the process dies inside the block: nothing gives the lease back
    with pytest.raises(StrategyBusyError), fresh.hold("u", "s", wait_s=0):
        pass
    clock.advance(timedelta(seconds=61))
    with fresh.hold("u", "s"):
        assert not dead.renew("u", "s")  # a run still going there stops before its next order
        assert fresh.renew("u", "s")
