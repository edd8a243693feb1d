"""Use cases over the engine: enter a strategy, exit it (all legs or one), complete a run left
incomplete, and the scheduled exit; the executor runs them for the queue's messages.

Each command holds the strategy's lease (`StrategyLeases`) from before it reads positions until
its run is stored: the runs of one strategy never overlap, different strategies run in parallel.
A command that cannot get the lease raises `StrategyBusyError` having done nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics

from shared_utils.clock import Clock, to_ist
from shared_utils.errors import ConfigurationError, NotFoundError
from shared_utils.execution.armed import ArmedEntry, expired_reason
from shared_utils.execution.engine import BrokerProvider, EngineConfig, ExecutionEngine
from shared_utils.execution.leases import LeaseHolder
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    PositionView,
)
from shared_utils.execution.planning import MarketSnapshot, plan_entry, plan_exit
from shared_utils.execution.re_entry import re_entry_after, scheduled_minute, still_wanted, waits_after
from shared_utils.execution.run_names import (
    DAY_END_RUN,
    ENTRY_RUN,
    cycle_name,
    cycle_numbers,
    cycle_of,
    exit_run_name,
    is_armed_entry,
    is_entry,
    leg_of,
    signal_number,
)
from shared_utils.execution.store import ExecutionHistory
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable
from shared_utils.market_data.listing import InstrumentListing
from shared_utils.models.allocation import BrokerAllocation
from shared_utils.models.common import StrategyStatus
from shared_utils.models.signals import SignalAction
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import StrategyDetail
from shared_utils.tracing import tracer

logger = Logger(child=True)

# Follow-up exit runs of one strategy on one day: more would mean fills keep arriving after every
# exit, which is for an operator to look at.
MAX_EXIT_RUNS = 5


class StrategyReader(Protocol):
    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...
    def get_strategy_with_allocations(self, user_id: str, strategy_id: str) -> StrategyDetail: ...


class SubscribedStrategies(Protocol):
    def subscribed_strategy(self, user_id: str, strategy_id: str) -> tuple[Strategy, str]:
        """A marketplace strategy the user subscribes to, as the user sees it, and its owner;
        raises `NotFoundError`."""
        ...


# The brokers of one user's accounts (built by the broker registry in production).
BrokersForUser = Callable[[str], BrokerProvider]


class ExecutionService:
    def __init__(
        self,
        store: ExecutionHistory,
        strategies: StrategyReader,
        brokers_for_user: BrokersForUser,
        market: MarketSnapshot,
        calendar: TradingCalendar,
        clock: Clock,
        *,
        leases: LeaseHolder,
        metrics: Metrics | None = None,
        engine_config: EngineConfig | None = None,
        specs: SpecTable | None = None,
        listing: Callable[[date], InstrumentListing | None] | None = None,
        subscribed: SubscribedStrategies | None = None,
    ) -> None:
        """`subscribed`: where a strategy that is not the user's own is found when its exit arms
        a re-entry (a marketplace subscriber's copy: the re-entry runs through the subscriber
        runner, under the owner's strategy and the subscriber's allocations)."""
        self._subscribed = subscribed
        self._store = store
        self._leases = leases
        self._strategies = strategies
        self._brokers_for_user = brokers_for_user
        self._market = market
        self._calendar = calendar
        self._clock = clock
        self._metrics = metrics
        self._engine_config = engine_config
        self._specs = specs
        # The exchange's listing (a real market-data source): its expiries and lots win.
        self._listing = listing

    @property
    def store(self) -> ExecutionHistory:
        return self._store

    def today(self) -> date:
        return to_ist(self._clock.now()).date()

    def _engine(self, user_id: str) -> ExecutionEngine:
        return ExecutionEngine(
            self._store,
            self._brokers_for_user(user_id),
            self._clock,
            metrics=self._metrics,
            config=self._engine_config,
            lease=self._leases,
        )

    @tracer.capture_method
    def enter(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        *,
        refuse: str | None = None,
        owner_id: str | None = None,
    ) -> ExecutionRecord:
        """Enter the strategy (or complete a previous attempt of the same day's entry: the engine
        then places the plan the first attempt stored, whatever this one computed). `refuse`: why
        this entry must place nothing (its message came too late); stored as the run's reason
        unless an earlier attempt already stored the plan. `owner_id`: a marketplace subscriber's
        copy of that owner's strategy (its wait-and-trade legs are armed as the subscriber's)."""
        with self._leases.hold(user_id, strategy_id):
            detail = self._strategies.get_strategy_with_allocations(user_id, strategy_id)
            allocations = detail.allocations.allocations
            plan = self._plan_entry(detail.strategy, allocations, trade_date)
            if detail.strategy.status is not StrategyStatus.ACTIVE:
                # Paused (by the trader or the kill switch): the day's target is flat.
                refuse = "the strategy is paused"
            if refuse is not None:
                plan = plan.model_copy(update={"unresolved_reason": refuse, "orders": [], "waiting": []})
            record = self._engine(user_id).run(plan, {a.broker_account_id: a for a in allocations})
            if plan.waiting:
                self._arm_waits(detail.strategy, trade_date, record, owner_id)
            return record

    def _plan_entry(
        self, strategy: Strategy, allocations: list[BrokerAllocation], trade_date: date, **armed: Any
    ) -> ExecutionPlan:
        """`plan_entry` on this service's market, calendar, specs and listing; `armed`: the run
        name, legs, cycle and contracts of an armed entry."""
        listing = self._listing(trade_date) if self._listing is not None else None
        return plan_entry(
            strategy, allocations, trade_date, self._market, self._calendar, self._specs, listing, **armed
        )

    def _arm_waits(
        self, strategy: Strategy, trade_date: date, record: ExecutionRecord, owner_id: str | None
    ) -> None:
        """Arm the wait-and-trade legs from the plan the entry stored (its first attempt's
        prices), once the legs entered at once are complete (or there were none): a leg never
        waits to join an entry that failed, was refused or is still being retried."""
        stored = self._store.get_run(strategy.user_id, trade_date, strategy.strategy_id, ENTRY_RUN)
        if stored is None or not stored.waiting:
            return
        waits_only = not stored.orders and record.reason == stored.unresolved_reason
        if record.status is not ExecutionStatus.COMPLETE and not waits_only:
            logger.warning(
                "Wait and trade not armed: the entry is not complete",
                extra={"strategy_id": strategy.strategy_id, "status": record.status.value},
            )
            return
        for armed in waits_after(strategy, stored, scheduled_minute(trade_date, strategy), owner_id):
            if self._store.arm(armed):
                logger.info(
                    "Wait and trade armed", extra={"strategy_id": armed.strategy_id, "run": armed.run_name}
                )

    @tracer.capture_method
    def enter_armed(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        run_name: str,
        decided_at: datetime,
        *,
        refuse: str | None = None,
    ) -> ExecutionRecord | None:
        """Place an armed entry (a re-entry, a wait-and-trade leg) the tick found due at
        `decided_at`, or store why it is not entered (past its cut-off or time-out, the strategy
        paused, its legs still open, the message too late: `refuse`), then disarm it. A run
        already stored (a redelivered message, a tick that queued it twice) is completed with
        its stored plan, never planned again. None: nothing armed under that name."""
        with self._leases.hold(user_id, strategy_id):
            stored = self._store.get_run(user_id, trade_date, strategy_id, run_name)
            if stored is not None:
                record = self._engine(user_id).run(stored)
                self._store.disarm(user_id, trade_date, strategy_id, run_name)
                return record
            armed = self._store.get_armed(user_id, trade_date, strategy_id, run_name)
            if armed is None:
                return None
            try:
                detail = self._strategies.get_strategy_with_allocations(user_id, strategy_id)
            except NotFoundError:
                self._store.disarm(user_id, trade_date, strategy_id, run_name)  # deleted meanwhile
                raise
            allocations = detail.allocations.allocations
            if decided_at >= armed.not_after:
                refuse = expired_reason(armed)
            elif detail.strategy.status is not StrategyStatus.ACTIVE:
                refuse = refuse or "the strategy is paused"
            elif any(
                p.net_quantity and p.leg_no in armed.legs and p.entry_date == trade_date
                for p in self._store.positions(user_id, strategy_id)
            ):
                refuse = refuse or "not entered again: the leg is still open"
            elif not still_wanted(detail.strategy, armed):
                refuse = refuse or "not entered: the strategy no longer has this rule (edited since)"
            elif len(armed.legs) < len(detail.strategy.legs) and self._strategy_exited(armed):
                # A leg's re-entry or wait belongs with the other legs of its cycle: once the
                # strategy's own stop-loss or target closed them, a lone leg must not open.
                refuse = refuse or "not entered: the strategy's exit closed its other legs first"
            plan = self._plan_entry(
                detail.strategy,
                allocations,
                trade_date,
                run_name=run_name,
                legs=armed.legs,
                cycle=armed.cycle,
                contracts=None if armed.fresh_strikes else {c.leg_no: c.instrument for c in armed.watched},
            )
            if refuse is not None:
                plan = plan.model_copy(update={"unresolved_reason": refuse, "orders": []})
            record = self._engine(user_id).run(plan, {a.broker_account_id: a for a in allocations})
            self._store.disarm(user_id, trade_date, strategy_id, run_name)
            return record

    @tracer.capture_method
    def run_signal(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        run_name: str,
        signal: SignalAction,
        *,
        leg_no: int | None = None,
        refuse: str | None = None,
    ) -> ExecutionRecord:
        """Act on the day's signal `run_name` (SIG{n}): enter every leg in a strategy cycle of its
        own (refused while the strategy holds a position, is paused, or its day has ended), or
        close everything open (one leg with EXIT_LEG). A redelivered signal completes its stored
        run; one that arrives after a later signal of the strategy ran is refused (a stale exit
        must not close what a later entry opened, a stale entry must not reopen what a later exit
        closed). `refuse`: why an entry must place nothing (it came too late)."""
        number = signal_number(run_name)
        if number is None:
            raise ValueError(f"not a signal run: {run_name}")
        with self._leases.hold(user_id, strategy_id):
            stored = self._store.get_run(user_id, trade_date, strategy_id, run_name)
            if stored is not None:
                return self._engine(user_id).run(stored)
            if not self._store.signal_ran(user_id, strategy_id, trade_date, number):
                refuse = "a later signal of this strategy ran first: this one is out of date"
            detail = self._strategies.get_strategy_with_allocations(user_id, strategy_id)
            strategy = detail.strategy
            open_now = self._store.positions(user_id, strategy_id)
            if signal is not SignalAction.ENTER:
                plan = plan_exit(
                    user_id,
                    strategy_id,
                    open_now,
                    trade_date,
                    ExitReason.SIGNAL,
                    leg_no=leg_no,
                    run_name=run_name,
                )
                if refuse is not None:
                    plan = plan.model_copy(update={"orders": [], "unresolved_reason": refuse})
                return self._engine(user_id).run(plan, positions=open_now)
            allocations = detail.allocations.allocations
            if strategy.status is not StrategyStatus.ACTIVE:
                refuse = refuse or "the strategy is paused"
            elif any(p.net_quantity for p in open_now):
                refuse = refuse or "the strategy already holds a position: exit it first"
            cycles = [cycle_numbers(p.cycle)[0] for p in open_now if p.entry_date == trade_date]
            plan = self._plan_entry(
                strategy,
                allocations,
                trade_date,
                run_name=run_name,
                legs=list(range(1, len(strategy.legs) + 1)),
                cycle=cycle_name(max(cycles, default=0) + 1),
            )
            if refuse is not None:
                plan = plan.model_copy(update={"unresolved_reason": refuse, "orders": []})
            return self._engine(user_id).run(plan, {a.broker_account_id: a for a in allocations})

    def _strategy_exited(self, armed: ArmedEntry) -> bool:
        strategy_cycle = cycle_name(cycle_numbers(armed.cycle)[0])
        exit_run = exit_run_name(None, 1, strategy_cycle)
        return self._store.get_run(armed.user_id, armed.trade_date, armed.strategy_id, exit_run) is not None

    @tracer.capture_method
    def exit(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        reason: ExitReason,
        *,
        leg_no: int | None = None,
        positions: list[PositionView] | None = None,
        wait_s: float | None = None,
        cycle: str | None = None,
    ) -> ExecutionRecord:
        """Close what is open (one leg with `leg_no`; only `positions` when given, e.g. those N
        days before their expiry), mirroring the open quantities per broker. A run not finished
        yet is completed with the plan it stored. Closing everything, once that run is complete,
        what is still open (filled after it was planned: an entry order in flight when the kill
        switch was pressed) is closed by a follow-up run, so a second press or the square-off
        always leaves the strategy flat. `wait_s`: how long to wait for a busy strategy.

        An exit that ends the day (`ExitReason.ends_day`) first stores the day's end, so no armed
        entry places anything after it, and closes every cycle. Any other exit (a stop-loss,
        target, trailing stop) closes only the positions of `cycle`, the re-entry it judged: a
        late or redelivered one never closes a later re-entry; once it is done, the re-entry it
        allows (if any) is armed."""
        with self._leases.hold(user_id, strategy_id, wait_s=wait_s):
            if reason.ends_day:
                self._end_day(user_id, strategy_id, trade_date, reason)
            if not reason.judges_cycle:
                cycle = None
            elif cycle is None:
                cycle = ""
            record = self._exit(
                user_id, strategy_id, trade_date, reason, leg_no=leg_no, positions=positions, cycle=cycle
            )
            if reason.judges_cycle:
                self._arm_re_entry(user_id, strategy_id, trade_date, exit_run_name(leg_no, 1, cycle))
            return record

    def _end_day(self, user_id: str, strategy_id: str, trade_date: date, reason: ExitReason) -> None:
        if self._store.get_run(user_id, trade_date, strategy_id, DAY_END_RUN) is None:
            day_end = plan_exit(user_id, strategy_id, [], trade_date, reason, run_name=DAY_END_RUN)
            self._store.start_run(day_end, self._clock.now())

    def _arm_re_entry(self, user_id: str, strategy_id: str, trade_date: date, run_name: str) -> None:
        """Arm the re-entry the exit run allows, if any (again on a redelivered exit: storing it
        is conditional, and a re-entry already made is completed, never repeated)."""
        owner_id: str | None = None
        try:
            try:
                strategy = self._strategies.get_strategy(user_id, strategy_id)
            except NotFoundError:
                if self._subscribed is None:
                    raise
                strategy, owner_id = self._subscribed.subscribed_strategy(user_id, strategy_id)
        except NotFoundError:  # deleted since (its exit is done): nothing to re-enter
            logger.info("Re-entry not armed: strategy not found", extra={"strategy_id": strategy_id})
            return
        legs_with_rule = strategy.re_entry is not None or any(leg.re_entry for leg in strategy.legs)
        exit_plan = (
            self._store.get_run(user_id, trade_date, strategy_id, run_name) if legs_with_rule else None
        )
        if exit_plan is None or self._store.get_run(user_id, trade_date, strategy_id, DAY_END_RUN):
            return
        armed = re_entry_after(
            strategy, exit_plan, self._store.positions(user_id, strategy_id), self._clock.now(), owner_id
        )
        if armed is not None and self._store.arm(armed):
            logger.info("Re-entry armed", extra={"strategy_id": strategy_id, "run": armed.run_name})

    def _exit(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        reason: ExitReason,
        *,
        leg_no: int | None,
        positions: list[PositionView] | None,
        open_now: list[PositionView] | None = None,
        cycle: str | None = None,
    ) -> ExecutionRecord:
        """`open_now`: every position of the strategy, read under this lease moments ago;
        `cycle`: only that re-entry's positions (None: all)."""
        previous: ExecutionPlan | None = None
        for number in range(1, MAX_EXIT_RUNS + 1):
            run_name = exit_run_name(leg_no, number, cycle)
            stored = self._store.get_run(user_id, trade_date, strategy_id, run_name)
            if stored is not None and (
                positions is not None
                or not self._complete(stored)
                or not self._still_open(stored, leg_no, cycle)
            ):
                return self._engine(user_id).run(stored)
            if stored is None:
                if positions is not None:
                    open_now = positions
                elif open_now is None or previous is not None:
                    open_now = self._store.positions(user_id, strategy_id)
                open_now = _of_cycle(open_now, leg_no, cycle)
                if previous is not None and positions is None and not _open(open_now, leg_no):
                    # Flat since the last exit (this exit was asked twice: two minutes' checks,
                    # a redelivered message): that exit's outcome stands, no empty follow-up run.
                    return self._engine(user_id).run(previous)
                plan = plan_exit(
                    user_id,
                    strategy_id,
                    open_now,
                    trade_date,
                    reason,
                    leg_no=leg_no,
                    specs=self._specs,
                    run_name=run_name,
                )
                provisional = any(self._calendar.is_provisional(o.instrument.expiry) for o in plan.orders)
                return self._engine(user_id).run(
                    plan.model_copy(update={"provisional_calendar": provisional}),
                    positions=open_now if positions is None else None,
                )
            previous = stored
        raise ConfigurationError(f"{strategy_id}: still open after {MAX_EXIT_RUNS} exit runs on {trade_date}")

    def _complete(self, plan: ExecutionPlan) -> bool:
        """Every order of the run has a final outcome (nothing in flight, nothing to retry)."""
        final = {
            entry.order_key
            for entry in self._store.ledger_of_run(
                plan.user_id, plan.trade_date, plan.strategy_id, plan.run_name
            )
            if entry.status.is_final
        }
        return all(order.order_key in final for order in plan.orders)

    def _still_open(self, plan: ExecutionPlan, leg_no: int | None, cycle: str | None) -> bool:
        return _open(_of_cycle(self._store.positions(plan.user_id, plan.strategy_id), leg_no, cycle), leg_no)

    @tracer.capture_method
    def retry_run(self, user_id: str, strategy_id: str, trade_date: date, run_name: str) -> ExecutionRecord:
        """Complete one run of the day's retry list (a retryable failure left it incomplete: broker
        down, timeout, order still open, a process killed mid-run) with the plan it stored."""
        if is_entry(run_name):
            return self.enter(user_id, strategy_id, trade_date)
        if signal_number(run_name) is not None:
            with self._leases.hold(user_id, strategy_id):
                stored = self._store.get_run(user_id, trade_date, strategy_id, run_name)
                if stored is None:
                    raise ConfigurationError(
                        f"{strategy_id}: {run_name} is listed for a retry but not stored"
                    )
                return self._engine(user_id).run(stored)
        if is_armed_entry(run_name):
            record = self.enter_armed(user_id, strategy_id, trade_date, run_name, self._clock.now())
            if record is None:
                raise ConfigurationError(
                    f"{strategy_id}: {run_name} is on the retry list but was never stored"
                )
            return record
        stored = self._store.get_run(user_id, trade_date, strategy_id, run_name)
        reason = stored.reason if stored is not None and stored.reason is not None else ExitReason.SCHEDULED
        return self.exit(
            user_id, strategy_id, trade_date, reason, leg_no=leg_of(run_name), cycle=cycle_of(run_name)
        )

    @tracer.capture_method
    def scheduled_exit(self, user_id: str, strategy_id: str, trade_date: date) -> ExecutionRecord | None:
        """The strategy's scheduled exit: on the day, or N trading days before each position's expiry."""
        with self._leases.hold(user_id, strategy_id):
            return self._scheduled_exit(user_id, strategy_id, trade_date)

    def _scheduled_exit(self, user_id: str, strategy_id: str, trade_date: date) -> ExecutionRecord | None:
        strategy = self._strategies.get_strategy(user_id, strategy_id)
        every = self._store.positions(user_id, strategy_id)
        positions = [p for p in every if p.net_quantity != 0]
        days_before = strategy.exit.days_before_expiry if strategy.exit is not None else None
        if days_before is not None:
            positions = [
                p for p in positions if self._days_to_expiry(trade_date, p.instrument.expiry) <= days_before
            ]
        else:
            self._end_day(user_id, strategy_id, trade_date, ExitReason.SCHEDULED)
        # Nothing open and no exit under way (never entered, or already out): no exit record. An
        # intraday exit still stores its (empty) run: the day's target is flat, so a late entry
        # trigger after it is refused like one after any exit.
        if (
            not positions
            and self._store.get_run(user_id, trade_date, strategy_id, exit_run_name(None)) is None
        ):
            if days_before is None:
                flat = plan_exit(user_id, strategy_id, [], trade_date, ExitReason.SCHEDULED)
                self._store.start_run(flat, self._clock.now())
            return None
        due = positions if days_before is not None else None  # None: everything open, follow-ups too
        return self._exit(
            user_id, strategy_id, trade_date, ExitReason.SCHEDULED, leg_no=None, positions=due, open_now=every
        )

    def _days_to_expiry(self, trade_date: date, expiry: date) -> int:
        if expiry <= trade_date:
            return 0
        return len(self._calendar.trading_days(trade_date, expiry)) - 1


def _of_cycle(positions: list[PositionView], leg_no: int | None, cycle: str | None) -> list[PositionView]:
    """The positions an exit of `cycle` closes: one leg's of exactly that cycle; the whole
    strategy's of that strategy re-entry (its legs' own re-entries included); None: all."""
    if cycle is None:
        return positions
    if leg_no is not None:
        return [p for p in positions if p.leg_no != leg_no or p.cycle == cycle]
    wanted = cycle_numbers(cycle)[0]
    return [p for p in positions if cycle_numbers(p.cycle)[0] == wanted]


def _open(positions: list[PositionView], leg_no: int | None) -> bool:
    return any(p.net_quantity and (leg_no is None or p.leg_no == leg_no) for p in positions)
