"""The executor's own rules, with a fake service: never before the minute, a busy strategy's run
sent back a bounded number of times, a deleted strategy's run done, a late entry refused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared_utils.clock import FixedClock
from shared_utils.errors import NotFoundError, StrategyBusyError
from shared_utils.execution.executor import BUSY_DELAY_S, MAX_BUSY_ATTEMPTS, StrategyRunExecutor
from shared_utils.execution.runs import RunKind, StrategyRun

AT = datetime(2026, 11, 25, 3, 52, tzinfo=UTC)


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[StrategyRun, int]] = []

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        self.sent += [(run, delay_s) for run in runs]


class Service:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.entered: list[str | None] = []

    def enter(self, user_id: str, strategy_id: str, trade_date: date, *, refuse: str | None = None) -> Any:
        if self.error is not None:
            raise self.error
        self.entered.append(refuse)
        return None


def executor(service: Service, queue: Queue, clock: FixedClock) -> StrategyRunExecutor:
    return StrategyRunExecutor(
        service,  # type: ignore[arg-type]
        queue,
        clock,
        subscribers=None,  # type: ignore[arg-type]
        kill_switch=None,  # type: ignore[arg-type]
        entry_max_lag=timedelta(seconds=120),
    )


ENTRY = StrategyRun(kind=RunKind.ENTRY, user_id="u", strategy_id="s", trade_date=AT.date(), scheduled_at=AT)


def test_an_entry_that_arrives_before_its_minute_goes_back_for_the_seconds_left() -> None:
    queue, service = Queue(), Service()

    outcome = executor(service, queue, FixedClock(AT - timedelta(seconds=2, milliseconds=300))).execute(ENTRY)

    assert outcome == "early: sent back" and service.entered == []
    assert queue.sent == [(ENTRY, 3)]


def test_a_late_entry_is_refused_with_its_delay_and_an_on_time_one_is_not() -> None:
    service = Service()
    executor(service, Queue(), FixedClock(AT + timedelta(seconds=119))).execute(ENTRY)
    executor(service, Queue(), FixedClock(AT + timedelta(seconds=121))).execute(ENTRY)

    assert service.entered == [None, "the entry arrived 121 s after its minute"]


def test_a_busy_strategys_run_goes_back_a_bounded_number_of_times_then_fails() -> None:
    queue = Queue()
    run = executor(Service(StrategyBusyError("busy")), queue, FixedClock(AT))
    message = ENTRY
    for attempt in range(MAX_BUSY_ATTEMPTS):
        assert run.execute(message) == "busy: sent back"
        message, delay = queue.sent[-1]
        assert message.attempt == attempt + 1 and delay == BUSY_DELAY_S

    with pytest.raises(StrategyBusyError):
        run.execute(message)  # the queue's redrive and DLQ alarm take over


def test_a_deleted_strategys_run_is_done() -> None:
    queue = Queue()
    assert executor(Service(NotFoundError("gone")), queue, FixedClock(AT)).execute(ENTRY) == "gone"
    assert queue.sent == []
