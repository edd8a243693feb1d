"""The executor: runs one `StrategyRun` message through the execution service.

What it guarantees on top of the service (whose lease and ledger make every order exactly-once):
- an entry is never placed before its minute: an early message goes back to the queue for the
  seconds left;
- an entry whose message arrives later than `entry_max_lag` is stored as not entered with the
  delay as its reason, never placed late (exits always run: their target is flat);
- a strategy busy with another run sends the message back with a short delay, a bounded number
  of times, then fails it, so the queue's redrive policy and its dead-letter alarm take over.
A strategy deleted meanwhile is logged and the message is done. Any other error fails the
message: the queue delivers it again and each redelivery completes only what is missing.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared_utils.clock import Clock
from shared_utils.errors import ConfigurationError, NotFoundError, StrategyBusyError
from shared_utils.execution.models import ExecutionRecord, ExitReason
from shared_utils.execution.reports import StopLossReport
from shared_utils.execution.runs import RunKind, RunQueue, StrategyRun
from shared_utils.execution.service import ExecutionService
from shared_utils.models.signals import SignalAction
from shared_utils.tracing import tracer

logger = Logger(child=True)

# Entries refused because their run reached an executor too late: a backlog the operator must see.
LATE_ENTRY_METRIC = "EntriesTooLate"
# Open positions the minute's check could not price (no fresh quote): their stop-losses wait.
UNPRICED_METRIC = "PositionsUnpriced"
# Runs that open positions: never placed later than `entry_max_lag` after their minute.
_ENTRIES = frozenset({RunKind.ENTRY, RunKind.ARMED_ENTRY})
BUSY_DELAY_S = 5
MAX_BUSY_ATTEMPTS = 6  # about 90 s of 10 s lease waits and 5 s delays: longer than a held lease lives


class SubscriberRunner(Protocol):
    """The marketplace's side: subscriber runs and the fan-out over a basket's subscriptions."""

    def fan_out(self, run: StrategyRun) -> int:
        """Queue a run per subscription of one page, and the next page; returns the runs queued."""
        ...

    def run(self, run: StrategyRun, *, refuse: str | None) -> ExecutionRecord | None:
        """One subscriber's run; `refuse`: why an entry must place nothing (it came too late)."""
        ...


class PartitionChecker(Protocol):
    """The stop-loss check of one open-positions partition (`PositionStopLossMonitor`)."""

    def check_partition(self, partition: str, tick: datetime, trade_date: date) -> StopLossReport: ...


class KillSwitchRunner(Protocol):
    def square_off_user(self, run: StrategyRun) -> int:
        """Pause the user's strategies and queue an exit for each; returns the exits queued."""
        ...

    def exit_done(self, run: StrategyRun, record: ExecutionRecord) -> None:
        """Count an exit of a kill-switch operation as done."""
        ...


class StrategyRunExecutor:
    def __init__(
        self,
        service: ExecutionService,
        queue: RunQueue,
        clock: Clock,
        *,
        subscribers: SubscriberRunner,
        kill_switch: KillSwitchRunner,
        entry_max_lag: timedelta,
        checks: PartitionChecker | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._checks = checks
        self._metrics = metrics
        self._service = service
        self._queue = queue
        self._clock = clock
        self._subscribers = subscribers
        self._kill_switch = kill_switch
        self._entry_max_lag = entry_max_lag

    @tracer.capture_method
    def execute(self, run: StrategyRun) -> str:
        """Run one message; returns what happened, for the log."""
        early = (run.scheduled_at - self._clock.now()).total_seconds()
        if early > 0 and run.kind in _ENTRIES:
            self._queue.send([run], delay_s=math.ceil(early))
            return "early: sent back"
        try:
            outcome = self._execute(run)
        except NotFoundError:
            logger.warning("Strategy gone before its run", extra={"run": run.dedup_id()})
            return "gone"
        except StrategyBusyError:
            if run.attempt >= MAX_BUSY_ATTEMPTS:
                raise
            self._queue.send([run.model_copy(update={"attempt": run.attempt + 1})], delay_s=BUSY_DELAY_S)
            logger.info("Strategy busy: run sent back", extra={"run": run.dedup_id(), "attempt": run.attempt})
            return "busy: sent back"
        logger.info("Strategy run done", extra={"run": run.dedup_id(), "outcome": outcome})
        return outcome

    def _execute(self, run: StrategyRun) -> str:
        service = self._service
        if run.kind is RunKind.SUBSCRIBERS:
            return f"queued {self._subscribers.fan_out(run)} subscriber run(s)"
        if run.kind is RunKind.KILL_USER:
            return f"queued {self._kill_switch.square_off_user(run)} exit(s)"
        if run.kind is RunKind.CHECK:
            # Never skipped for being late: the exits it finds are due whenever it runs.
            if self._checks is None or run.partition is None:
                raise ConfigurationError("this executor has no stop-loss check for CHECK runs")
            report = self._checks.check_partition(run.partition, run.scheduled_at, run.trade_date)
            if report.positions_unpriced:
                self._count(UNPRICED_METRIC, report.positions_unpriced)
            return f"checked {report.positions_checked} position(s), queued {report.exits_count} exit(s)"
        refuse = self._too_late(run)
        if run.owner_id is not None:
            return _describe(self._subscribers.run(run, refuse=refuse))
        if run.kind is RunKind.ENTRY:
            return _describe(service.enter(run.user_id, run.strategy_id, run.trade_date, refuse=refuse))
        if run.kind is RunKind.ARMED_ENTRY:
            assert run.run_name is not None
            return _describe(
                service.enter_armed(
                    run.user_id,
                    run.strategy_id,
                    run.trade_date,
                    run.run_name,
                    run.scheduled_at,
                    refuse=refuse,
                )
            )
        if run.kind is RunKind.SIGNAL:
            assert run.run_name is not None and run.signal is not None
            record = service.run_signal(
                run.user_id, run.strategy_id, run.trade_date, run.run_name, run.signal,
                leg_no=run.leg_no, refuse=refuse,
            )  # fmt: skip
            return _describe(record)
        if run.kind is RunKind.SCHEDULED_EXIT:
            return _describe(service.scheduled_exit(run.user_id, run.strategy_id, run.trade_date))
        if run.kind is RunKind.RETRY:
            if run.run_name is None:
                raise ValueError("a RETRY run needs its run_name")
            return _describe(service.retry_run(run.user_id, run.strategy_id, run.trade_date, run.run_name))
        record = service.exit(
            run.user_id,
            run.strategy_id,
            run.trade_date,
            run.reason or ExitReason.MANUAL,
            leg_no=run.leg_no,
            cycle=run.cycle,
        )
        if run.operation_id is not None:
            self._kill_switch.exit_done(run, record)
        return _describe(record)

    def _too_late(self, run: StrategyRun) -> str | None:
        """Why an entry must not be placed any more (None: on time, or not an entry)."""
        late = self._clock.now() - run.scheduled_at
        opens = run.kind in _ENTRIES or (run.kind is RunKind.SIGNAL and run.signal is SignalAction.ENTER)
        if not opens or late <= self._entry_max_lag:
            return None
        self._count(LATE_ENTRY_METRIC, 1)
        logger.warning("Entry refused: its run came too late", extra={"run": run.dedup_id()})
        return f"the entry arrived {int(late.total_seconds())} s after its minute"

    def _count(self, name: str, value: int) -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _describe(record: ExecutionRecord | None) -> str:
    if record is None:
        return "nothing due"
    return f"{record.run_name}:{record.status.value}" + (f" ({record.reason})" if record.reason else "")
