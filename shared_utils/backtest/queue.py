"""The strategy-run queue of a backtest: the `RunQueue` port on the simulated clock, drained in
process. A run sent with a delay (an entry early for its minute, a busy strategy) waits until the
simulated clock reaches it; runs due together run in the order they were sent, as the local
queue runs a strategy's messages."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from shared_utils.clock import Clock
from shared_utils.execution.runs import StrategyRun


class InlineRunQueue:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._order = itertools.count()
        self._waiting: list[tuple[datetime, int, StrategyRun]] = []

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        due = self._clock.now() + timedelta(seconds=delay_s)
        for run in runs:
            heapq.heappush(self._waiting, (due, next(self._order), run))

    def next_due(self) -> datetime | None:
        return self._waiting[0][0] if self._waiting else None

    def drain(self, execute: Callable[[StrategyRun], object]) -> int:
        """Run every run due by now, and what those queue for now; returns how many ran."""
        ran = 0
        now = self._clock.now()
        while self._waiting and self._waiting[0][0] <= now:
            _due, _order, run = heapq.heappop(self._waiting)
            execute(run)
            ran += 1
        return ran
