"""Exactly-once placement of an execution plan across broker accounts.

For every planned order: ledger entry first (conditional), then the broker call carrying the tag
derived from the ledger key. A timeout (or a 5xx after sending) is reconciled by looking the order
up by its tag, never by sending it again.

A plain first attempt claims every order of the run in one transaction with the run item (already
on the retry sweep's list) and, for an entry, the checks it must pass; it keeps the outcomes and
stores them with the positions, the history record and the retry flag in one transaction after
the last order (`run_transactions`). Orders never attempted are taken back in that write; an
order whose placement failed inside the engine keeps its claim (it may be at the broker). If the
first transaction is cancelled (a retry, a refusal), nothing was written and the run goes step by
step: a retry reuses the plan stored by the first attempt and only completes what is missing:
FILLED and REJECTED entries are final, PLACED ones are refreshed, UNKNOWN / stale PENDING ones are
reconciled by tag, NOT_SENT ones are placed again under the same tag. If the last one is
cancelled, each outcome is stored on its own the same way.

Broker accounts run in parallel (one thread each, bounded); inside an account orders go one by
one in plan order, and the first order that does not fill stops that account's remaining orders
(a sell leg never goes out without its hedge). Before each order the run renews the strategy's
lease when it is due (a run that lost it stops), and an entry reads the kill switch again once
`kill_switch_recheck` has passed since the last read: a press stops the orders not yet sent.

A closing order never sends more than is still open on its leg, less what other closing orders
have in flight (`ClosingRoom`): a replayed or overlapping exit closes nothing twice and never
reverses a position; an order with nothing left to close is NOT_NEEDED, never sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared_utils.brokers.models import BrokerName, OrderRequest, OrderResult, OrderState
from shared_utils.brokers.port import Broker, BrokerError, BrokerLoginNeededError, BrokerRejectedError
from shared_utils.brokers.tag import broker_tag
from shared_utils.clock import Clock
from shared_utils.errors import ConflictError, DomainError
from shared_utils.execution.closing import ClosingRoom
from shared_utils.execution.leases import RunLease
from shared_utils.execution.ledger_store import OutcomeWrite, stored_entry
from shared_utils.execution.models import (
    BrokerOutcome,
    BrokerStatus,
    ExecutionPlan,
    ExecutionRecord,
    ExecutionStatus,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    LedgerStatus,
    OrderOutcome,
    PlannedOrder,
    PositionView,
    ScheduleKind,
)
from shared_utils.execution.risk import has_limits, risk_blocks
from shared_utils.execution.run_names import is_entry, refused_after
from shared_utils.models.allocation import AllocationLimits
from shared_utils.models.broker_account import LOGIN_NEEDED_REASON
from shared_utils.tracing import tracer

logger = Logger(child=True)

PENDING_LEASE = timedelta(seconds=60)
KILL_SWITCH_RECHECK = timedelta(seconds=1)
MAX_ATTEMPTS = 10
# An entry left unplaced because no fresh quote priced it (alarmed: the market data is down).
NO_FRESH_QUOTE_METRIC = "EntriesWithoutFreshQuote"
# An entry placed nothing on an account without a live broker session ("broker login needed").
LOGIN_NEEDED_METRIC = "EntriesNeedingBrokerLogin"
_RETRYABLE = (LedgerStatus.PENDING, LedgerStatus.PLACED, LedgerStatus.UNKNOWN, LedgerStatus.NOT_SENT, None)
NOT_ATTEMPTED = "not attempted: an earlier order of this broker account did not fill"
KILLED = "not placed: the kill switch was pressed during the entry"
LEASE_LOST = "not placed: the run lost the strategy's lease to another run"
NOTHING_TO_CLOSE = "not sent: nothing left open to close (closed, or being closed, by another run)"


class EngineStore(Protocol):
    """What the engine needs of the execution history (the DynamoDB `ExecutionStore` in production)."""

    def begin_run(
        self, plan: ExecutionPlan, started_at: datetime, entries: Sequence[LedgerEntry]
    ) -> str | None: ...
    def finish_run(
        self,
        plan: ExecutionPlan,
        writes: Sequence[OutcomeWrite],
        unclaimed: Sequence[LedgerEntry],
        record: ExecutionRecord | None,
        record_sk: str,
        *,
        retry: bool,
        now: datetime,
        open_nets: Mapping[str, int] | None = None,
    ) -> list[LedgerEntry] | None: ...
    def unclaim(self, entry: LedgerEntry) -> None: ...
    def start_run(self, plan: ExecutionPlan, started_at: datetime) -> tuple[ExecutionPlan, str, int]: ...
    def mark_retry(self, plan: ExecutionPlan, pending: bool) -> None: ...
    def put_record(self, record: ExecutionRecord, record_sk: str) -> None: ...
    def get_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> ExecutionPlan | None: ...
    def kill_switches(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]: ...
    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]: ...
    def ledger_of_day(self, user_id: str, trade_date: date, strategy_id: str) -> list[LedgerEntry]: ...
    def get_ledger(self, user_id: str, order_key: str) -> LedgerEntry | None: ...
    def claim(self, entry: LedgerEntry, trade_date: date) -> LedgerEntry | None: ...
    def take_over(self, entry: LedgerEntry, now: datetime) -> LedgerEntry | None: ...
    def record(
        self,
        entry: LedgerEntry,
        order: PlannedOrder,
        *,
        status: LedgerStatus,
        now: datetime,
        broker_order_id: str | None = None,
        filled_quantity: int = 0,
        average_price: Decimal | None = None,
        reason: str | None = None,
        user_id: str,
        strategy_id: str,
        opening: bool,
    ) -> LedgerEntry: ...


class BrokerProvider(Protocol):
    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        """The broker of one account; raises a `DomainError` when it cannot be built."""
        ...


@dataclass(frozen=True)
class EngineConfig:
    max_workers: int = 8
    pending_lease: timedelta = PENDING_LEASE
    fill_polls: int = 3
    fill_poll_interval_s: float = 0.2
    # Between two orders of an entry the kill switch is read again once this long has passed
    # since the last read (the run's start checked it): a press reaches a running entry within
    # this time, and the press's own square-off closes whatever went out before.
    kill_switch_recheck: timedelta = KILL_SWITCH_RECHECK


@dataclass
class _Run:
    """One run's working state, shared by its broker-account threads."""

    plan: ExecutionPlan
    room: ClosingRoom | None
    kill_checked_at: datetime
    # Claimed in one transaction before the first order: outcomes are kept here and stored in one
    # transaction after the last (None: every step writes as it goes).
    claimed: dict[str, LedgerEntry] | None = None
    writes: dict[str, OutcomeWrite] = field(default_factory=dict)
    attempted: set[str] = field(default_factory=set)
    resolved: dict[str, Broker | DomainError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ExecutionEngine:
    def __init__(
        self,
        store: EngineStore,
        brokers: BrokerProvider,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        config: EngineConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,  # between fill polls; tests pass their own
        lease: RunLease | None = None,
        on_login_needed: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self._store = store
        self._on_login_needed = on_login_needed
        self._lease = lease
        self._brokers = brokers
        self._clock = clock
        self._metrics = metrics
        self._config = config or EngineConfig()
        self._sleep = sleep

    # ------------------------------------------------------------------ runs

    @tracer.capture_method
    def run(
        self,
        plan: ExecutionPlan,
        limits: Mapping[str, AllocationLimits] | None = None,
        *,
        positions: list[PositionView] | None = None,
    ) -> ExecutionRecord:
        """Place (or complete) one run and store its history record. `limits` by broker account
        are checked before an entry places anything on that account. `positions`: the strategy's
        positions as the caller read them holding its lease (an exit then does not read them
        again)."""
        started = self._clock.now()
        resolved: dict[str, Broker | DomainError] = {}  # each account's broker built once per run
        return self._run_claimed_together(
            plan, limits or {}, started, resolved, positions
        ) or self._run_stepwise(plan, limits or {}, started, resolved)

    def _broker(self, resolved: dict[str, Broker | DomainError], account: str, name: str) -> Broker:
        """The account's broker; raises the `DomainError` that says why it cannot be built."""
        if account not in resolved:
            try:
                resolved[account] = self._brokers.broker_for(account, name)
            except DomainError as error:
                resolved[account] = error
        found = resolved[account]
        if isinstance(found, DomainError):
            raise found
        return found

    def _base_record(self, plan: ExecutionPlan, started: datetime, attempts: int) -> ExecutionRecord:
        return ExecutionRecord(
            user_id=plan.user_id,
            strategy_id=plan.strategy_id,
            action=plan.action,
            run_name=plan.run_name,
            trade_date=plan.trade_date,
            started_at=started,
            updated_at=started,
            attempts=attempts,
            status=ExecutionStatus.NOT_ENTERED,
            exit_reason=plan.reason,
            provisional_calendar=plan.provisional_calendar,
        )

    def _run_claimed_together(
        self,
        plan: ExecutionPlan,
        limits: Mapping[str, AllocationLimits],
        started: datetime,
        resolved: dict[str, Broker | DomainError],
        known_positions: list[PositionView] | None,
    ) -> ExecutionRecord | None:
        """A first attempt with orders to place: every claim in one transaction before the first
        broker call, every outcome in one after the last. None when the run is not a plain
        first attempt (a retry, a refusal, a claim already there): nothing was written and the
        step-by-step path takes it."""
        if plan.unresolved_reason is not None or not plan.orders:
            return None
        blocked = self._entry_blocks(plan, limits, resolved) if plan.action is ScheduleKind.ENTRY else {}
        outcomes = self._blocked(plan, blocked)
        brokers: dict[str, Broker] = {}
        unavailable: dict[str, DomainError] = {}
        for account in plan.accounts():
            if account in blocked:
                continue
            try:
                brokers[account] = self._broker(resolved, account, plan.orders_of(account)[0].broker)
            except DomainError as error:
                unavailable[account] = error
        if not brokers:
            return None
        positions: list[PositionView] = []
        if plan.action is ScheduleKind.EXIT:
            positions = (
                known_positions
                if known_positions is not None
                else self._store.positions(plan.user_id, plan.strategy_id)
            )
        room = (
            ClosingRoom(positions, self._store.ledger_of_day(plan.user_id, plan.trade_date, plan.strategy_id))
            if plan.action is ScheduleKind.EXIT
            else None
        )
        entries = {
            order.order_key: self._new_entry(plan, order, broker, started)
            for account, broker in brokers.items()
            for order in plan.orders_of(account)
        }
        record_sk = self._store.begin_run(plan, started, list(entries.values()))
        if record_sk is None:
            return None
        run = _Run(plan=plan, room=room, kill_checked_at=started, claimed=entries)
        outcomes |= {
            account: self._unavailable(plan, account, error) for account, error in unavailable.items()
        }
        outcomes |= self._place_accounts(run, brokers)
        accounts = [outcomes[account] for account in plan.accounts()]
        now = self._clock.now()
        record = self._finished_record(self._base_record(plan, started, 1), accounts, now)
        self._report_login_needed(plan, accounts)
        unclaimed = [entry for key, entry in entries.items() if key not in run.attempted]
        writes = list(run.writes.values())
        exiting = plan.action is ScheduleKind.EXIT
        stored = self._store.finish_run(
            plan,
            writes,
            unclaimed,
            None if exiting else record,
            record_sk,
            retry=_retryable(accounts),
            now=now,
            open_nets={p.position_sk: p.net_quantity for p in positions} if exiting else None,
        )
        if stored is None:
            # A condition failed (a fill counted by another attempt, an entry moved on): store each
            # outcome on its own, the way the step-by-step path does, and take what it says.
            self._metric("RunTransactionsCancelled")
            written = {write.order.order_key: self._write_now(plan, write) for write in writes}
            for entry in unclaimed:
                self._store.unclaim(entry)
            accounts = [_with_outcomes(account, written) for account in accounts]
            record = self._finished_record(record, accounts, now)
            if not exiting:
                self._store.put_record(record, record_sk)
            self._store.mark_retry(plan, _retryable(accounts))
        if exiting:
            record = record.model_copy(update={"realised_pnl": self._realised(plan)})
            self._store.put_record(record, record_sk)
        self._done(plan, record)
        return record

    def _run_stepwise(
        self,
        plan: ExecutionPlan,
        limits: Mapping[str, AllocationLimits],
        started: datetime,
        resolved: dict[str, Broker | DomainError],
    ) -> ExecutionRecord:
        """Every step its own conditional write: retries, refusals, and whatever the claimed-
        together path could not start."""
        plan, record_sk, attempts = self._store.start_run(plan, started)
        record = self._base_record(plan, started, attempts)
        # The kill switch and the day's exit first: they say more than a pause they caused.
        refusal = (self._entry_refusal(plan) if plan.action is ScheduleKind.ENTRY else None) or (
            plan.unresolved_reason
        )
        if refusal is not None:
            if attempts > 1:
                # A retry refused: the first attempt's record (what it did place) stands.
                self._store.mark_retry(plan, False)
                logger.info("Retry refused", extra={"strategy_id": plan.strategy_id, "reason": refusal})
                return record.model_copy(update={"reason": refusal})
            record = record.model_copy(update={"reason": refusal})
            self._store.put_record(record, record_sk)
            self._metric("ExecutionsNotEntered")
            if plan.no_fresh_quote:
                self._metric(NO_FRESH_QUOTE_METRIC)
            logger.info("Execution not entered", extra={"strategy_id": plan.strategy_id, "reason": refusal})
            return record
        if not plan.orders:
            record = record.model_copy(
                update={"status": ExecutionStatus.COMPLETE, "reason": "nothing to place"}
            )
            self._store.put_record(record, record_sk)
            return record
        blocked = self._entry_blocks(plan, limits, resolved) if plan.action is ScheduleKind.ENTRY else {}
        outcomes = self._blocked(plan, blocked)
        to_place = [account for account in plan.accounts() if account not in blocked]
        room = (
            ClosingRoom(
                self._store.positions(plan.user_id, plan.strategy_id),
                self._store.ledger_of_day(plan.user_id, plan.trade_date, plan.strategy_id),
            )
            if plan.action is ScheduleKind.EXIT and to_place
            else None
        )
        if to_place and attempts == 1:
            # On the sweep's list before the first order: if this process dies mid-run (a SIGKILL,
            # the Lambda timeout), the minute's sweep finishes the run from its ledger.
            self._store.mark_retry(plan, True)
        run = _Run(plan=plan, room=room, kill_checked_at=started, resolved=resolved)
        outcomes |= self._place_accounts(run, dict.fromkeys(to_place))
        accounts = [outcomes[account] for account in plan.accounts()]
        record = self._finished_record(record, accounts, self._clock.now())
        self._report_login_needed(plan, accounts)
        if plan.action is ScheduleKind.EXIT:
            record = record.model_copy(update={"realised_pnl": self._realised(plan)})
        self._store.put_record(record, record_sk)
        retry = _retryable(accounts) and attempts < MAX_ATTEMPTS
        if to_place or attempts > 1:
            self._store.mark_retry(plan, retry)
        self._done(plan, record)
        return record

    def _blocked(self, plan: ExecutionPlan, blocked: Mapping[str, str]) -> dict[str, BrokerOutcome]:
        return {
            account: BrokerOutcome(
                broker_account_id=account,
                broker=plan.orders_of(account)[0].broker,
                status=BrokerStatus.BLOCKED,
                reason=reason,
            )
            for account, reason in blocked.items()
        }

    def _place_accounts(self, run: _Run, brokers: Mapping[str, Broker | None]) -> dict[str, BrokerOutcome]:
        """Broker accounts in parallel (one thread each, bounded), each account's orders in plan order."""
        if not brokers:
            return {}
        workers = max(1, min(len(brokers), self._config.max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="broker") as pool:
            futures = {
                account: pool.submit(self._place_account, run, account, broker)
                for account, broker in brokers.items()
            }
            return {account: future.result() for account, future in futures.items()}

    def _finished_record(
        self, record: ExecutionRecord, accounts: Sequence[BrokerOutcome], now: datetime
    ) -> ExecutionRecord:
        return record.model_copy(
            update={
                "status": _overall(accounts),
                "brokers": list(accounts),
                "updated_at": now,
                "reason": _summary(accounts),
            }
        )

    def _realised(self, plan: ExecutionPlan) -> Decimal:
        touched = {order.position_sk for order in plan.orders}
        return sum(
            (
                p.realised_pnl
                for p in self._store.positions(plan.user_id, plan.strategy_id)
                if p.position_sk in touched
            ),
            Decimal("0"),
        )

    def _done(self, plan: ExecutionPlan, record: ExecutionRecord) -> None:
        self._metric(f"Executions{record.status.value.title()}")
        logger.info(
            "Execution done",
            extra={
                "strategy_id": plan.strategy_id,
                "run": plan.run_name,
                "status": record.status.value,
                "attempt": record.attempts,
            },
        )

    def _entry_refusal(self, plan: ExecutionPlan) -> str | None:
        user, everyone = self._store.kill_switches(plan.user_id)
        if everyone.state is KillSwitchState.TRIGGERED:
            return "kill switch: trading is stopped for all users"
        if user.state is KillSwitchState.TRIGGERED:
            return "kill switch: trading is stopped for this user until it is re-armed"
        if self._store.get_run(plan.user_id, plan.trade_date, plan.strategy_id, refused_after(plan.run_name)):
            # The day's exit (scheduled, stop-loss, kill switch) set the target to flat: a retried,
            # redelivered or late entry must not open what that exit will never close. A
            # re-entry may follow a stop-loss exit, never an exit that ended the day.
            if is_entry(plan.run_name):
                return "the day's exit already ran: nothing enters after it"
            return "the day has ended for this strategy (its exit, square-off, kill switch or portfolio exit)"
        return None

    def _entry_blocks(
        self,
        plan: ExecutionPlan,
        limits: Mapping[str, AllocationLimits],
        resolved: dict[str, Broker | DomainError],
    ) -> dict[str, str]:
        """The accounts an entry places nothing on, and why: a risk limit, or no broker session
        the broker accepts ("broker login needed": nothing is sent, nothing retried; an entry
        every account of which needs a login is not entered)."""
        blocked = self._risk_blocks(plan, limits)
        for account in plan.accounts():
            if account in blocked:
                continue
            try:
                self._broker(resolved, account, plan.orders_of(account)[0].broker)
            except BrokerLoginNeededError as error:
                blocked[account] = error.message
            except DomainError:
                continue  # recorded as unavailable where its orders would go
        return blocked

    def _report_login_needed(self, plan: ExecutionPlan, accounts: Sequence[BrokerOutcome]) -> None:
        """The hook the notifications work listens on: which of the user's accounts need a login."""
        needing = [a.broker_account_id for a in accounts if _needs_login(a)]
        if not needing:
            return
        self._metric(LOGIN_NEEDED_METRIC)
        logger.warning(
            "Entry not placed on accounts that need a broker login",
            extra={"user_id": plan.user_id, "strategy_id": plan.strategy_id, "broker_accounts": needing},
        )
        if self._on_login_needed is not None:
            self._on_login_needed(plan.user_id, needing)

    def _risk_blocks(self, plan: ExecutionPlan, limits: Mapping[str, AllocationLimits]) -> dict[str, str]:
        if not has_limits(limits):
            return {}
        return risk_blocks(
            plan,
            limits,
            self._store.ledger_of_day(plan.user_id, plan.trade_date, plan.strategy_id),
            self._store.positions(plan.user_id, plan.strategy_id),
        )

    # ------------------------------------------------------------------ one account

    def _halt(self, run: _Run, first: bool) -> str | None:
        """Why the run must stop before its next order (None: go on)."""
        plan = run.plan
        if self._lease is not None and not self._lease.renew(plan.user_id, plan.strategy_id):
            self._metric("LeasesLost")
            return LEASE_LOST
        if plan.action is not ScheduleKind.ENTRY or first:  # the run's start checked the first order
            return None
        now = self._clock.now()
        with run.lock:
            due = now - run.kill_checked_at >= self._config.kill_switch_recheck
            if due:
                run.kill_checked_at = now
        if due:
            user, everyone = self._store.kill_switches(plan.user_id)
            if KillSwitchState.TRIGGERED in (user.state, everyone.state):
                return KILLED
        return None

    def _unavailable(self, plan: ExecutionPlan, account: str, error: DomainError) -> BrokerOutcome:
        self._metric("BrokerUnavailable")
        orders = plan.orders_of(account)
        return BrokerOutcome(
            broker_account_id=account,
            broker=orders[0].broker,
            status=BrokerStatus.FAILED,
            reason=f"{error.code}: {error.message}",
            orders=[_not_attempted(order, f"broker not available: {error.message}") for order in orders],
        )

    def _place_account(self, run: _Run, account: str, broker: Broker | None) -> BrokerOutcome:
        plan = run.plan
        orders = plan.orders_of(account)
        if broker is None:
            try:  # each account's thread builds only its own entry of `resolved`
                broker = self._broker(run.resolved, account, orders[0].broker)
            except DomainError as error:
                return self._unavailable(plan, account, error)
        results: list[OrderOutcome] = []
        stopped: str | None = None
        halted: str | None = None
        for number, order in enumerate(orders):
            if stopped is None:
                halted = stopped = self._halt(run, first=number == 0)
            if stopped is not None:
                results.append(_not_attempted(order, halted or NOT_ATTEMPTED))
                continue
            try:
                outcome = self._place_one(run, order, broker)
            except Exception as error:  # an unexpected failure stays with this account only
                logger.exception("Order placement failed", extra={"order_key": order.order_key})
                outcome = _not_attempted(order, f"internal error: {type(error).__name__}")
            results.append(outcome)
            if outcome.status is None or not outcome.status.done:
                stopped = outcome.reason or (outcome.status.value if outcome.status else "not placed")
        return _account_outcome(account, orders[0].broker, results)

    def _new_entry(
        self, plan: ExecutionPlan, order: PlannedOrder, broker: Broker, now: datetime
    ) -> LedgerEntry:
        return LedgerEntry(
            order_key=order.order_key,
            user_id=plan.user_id,
            strategy_id=plan.strategy_id,
            broker_account_id=order.broker_account_id,
            broker=order.broker,
            leg_no=order.leg_no,
            slice_no=order.slice_no,
            tag=broker_tag(order.order_key, BrokerName(broker.name)),
            side=order.side,
            quantity=order.quantity,
            instrument_key=order.instrument.key,
            position_sk=order.position_sk,
            status=LedgerStatus.PENDING,
            attempt=1,
            created_at=now,
            updated_at=now,
        )

    def _place_one(self, run: _Run, order: PlannedOrder, broker: Broker) -> OrderOutcome:
        plan = run.plan
        if run.claimed is not None:
            with run.lock:
                run.attempted.add(order.order_key)
            return self._send(run, order, broker, run.claimed[order.order_key])
        now = self._clock.now()
        entry = self._new_entry(plan, order, broker, now)
        tag = entry.tag
        existing = self._store.claim(entry, plan.trade_date)
        if existing is None:
            return self._send(run, order, broker, entry)
        if existing.status.is_final:
            return _outcome(order, existing)
        if existing.status is LedgerStatus.PENDING and now - existing.updated_at < self._config.pending_lease:
            return _outcome(order, existing, "in progress in another process")
        taken = self._store.take_over(existing, now)
        if taken is None:
            return _outcome(order, existing, "taken over by another process")
        if existing.status is LedgerStatus.PLACED and existing.broker_order_ids:
            try:
                result = broker.order_status(existing.broker_order_ids[-1])
            except BrokerError as error:
                return self._store_outcome(run, order, taken, LedgerStatus.PLACED, reason=error.message)
            return self._settle(run, order, broker, taken, result)
        if existing.status is not LedgerStatus.NOT_SENT:
            # The broker may hold this order (an answer lost, a process killed mid-call): only its
            # own lookup can say no. While the lookup fails the order stays UNKNOWN, never resent.
            try:
                found = broker.find_order_by_tag(tag)
            except BrokerError as error:
                self._metric("OrderLookupsFailed")
                reason = (
                    f"outcome unknown, not resent: the broker's lookup failed ({error.code}: {error.message})"
                )
                return self._store_outcome(run, order, taken, LedgerStatus.UNKNOWN, reason=reason)
            if found is not None:
                self._metric("OrdersReconciled")
                return self._settle(run, order, broker, taken, found)
        return self._send(run, order, broker, taken)

    def _find(self, broker: Broker, tag: str) -> OrderResult | None:
        """The order behind a lost answer, if the lookup can tell (None when it cannot: the
        caller keeps the order UNKNOWN either way)."""
        try:
            return broker.find_order_by_tag(tag)
        except BrokerError:
            return None

    def _send(self, run: _Run, order: PlannedOrder, broker: Broker, entry: LedgerEntry) -> OrderOutcome:
        if run.room is not None:
            allowed = run.room.take(order)
            if allowed == 0:
                self._metric("ClosingOrdersNotNeeded")
                return self._store_outcome(
                    run, order, entry, LedgerStatus.NOT_NEEDED, reason=NOTHING_TO_CLOSE
                )
            if allowed < order.quantity:
                logger.warning(
                    "Closing order cut to what is still open",
                    extra={"order_key": order.order_key, "planned": order.quantity, "sent": allowed},
                )
                order = order.model_copy(update={"quantity": allowed})
                entry = entry.model_copy(update={"quantity": allowed})
        request = OrderRequest(
            order_key=order.order_key,
            tag=entry.tag,
            instrument=order.instrument,
            side=order.side,
            quantity=order.quantity,
            product=order.product,
        )
        try:
            result = broker.place(request)
        except BrokerRejectedError as error:
            return self._store_outcome(
                run, order, entry, LedgerStatus.REJECTED, reason=error.reason or error.message
            )
        except BrokerError as error:
            if error.order_may_exist:
                found = self._find(broker, entry.tag)
                if found is not None:
                    self._metric("OrdersReconciled")
                    return self._settle(run, order, broker, entry, found)
                return self._store_outcome(
                    run, order, entry, LedgerStatus.UNKNOWN, reason=f"{error.code}: {error.message}"
                )
            return self._store_outcome(
                run, order, entry, LedgerStatus.NOT_SENT, reason=f"{error.code}: {error.message}"
            )
        self._metric("OrdersPlaced")
        return self._settle(run, order, broker, entry, result)

    def _settle(
        self, run: _Run, order: PlannedOrder, broker: Broker, entry: LedgerEntry, result: OrderResult
    ) -> OrderOutcome:
        polls = 0
        while not result.status.is_final and polls < self._config.fill_polls:
            polls += 1
            self._sleep(self._config.fill_poll_interval_s)
            try:
                result = broker.order_status(result.broker_order_id)
            except BrokerError:
                break
        if result.status is OrderState.COMPLETE:
            return self._store_outcome(
                run,
                order,
                entry,
                LedgerStatus.FILLED,
                broker_order_id=result.broker_order_id,
                filled=result.filled_quantity or order.quantity,
                price=result.average_price,
            )
        if result.status in (OrderState.REJECTED, OrderState.CANCELLED):
            return self._store_outcome(
                run,
                order,
                entry,
                LedgerStatus.REJECTED,
                broker_order_id=result.broker_order_id,
                filled=result.filled_quantity,
                reason=result.reason or result.status.value,
            )
        return self._store_outcome(
            run,
            order,
            entry,
            LedgerStatus.PLACED,
            broker_order_id=result.broker_order_id,
            filled=result.filled_quantity,
            reason="open at the broker, not filled yet",
        )

    def _store_outcome(
        self,
        run: _Run,
        order: PlannedOrder,
        entry: LedgerEntry,
        status: LedgerStatus,
        *,
        broker_order_id: str | None = None,
        filled: int = 0,
        price: Decimal | None = None,
        reason: str | None = None,
    ) -> OrderOutcome:
        write = OutcomeWrite(entry, order, status, broker_order_id, filled, price, reason)
        if run.claimed is None:
            return self._write_now(run.plan, write)
        with run.lock:
            run.writes[order.order_key] = write
        self._count_outcome(status)
        return _outcome(order, stored_entry(write, self._clock.now()))

    def _write_now(self, plan: ExecutionPlan, write: OutcomeWrite) -> OrderOutcome:
        order = write.order
        try:
            stored = self._store.record(
                write.entry,
                order,
                status=write.status,
                now=self._clock.now(),
                broker_order_id=write.broker_order_id,
                filled_quantity=write.filled_quantity,
                average_price=write.average_price,
                reason=write.reason,
                user_id=plan.user_id,
                strategy_id=plan.strategy_id,
                opening=plan.action is ScheduleKind.ENTRY,
            )
        except ConflictError as error:
            current = self._store.get_ledger(plan.user_id, order.order_key) or write.entry
            return _outcome(order, current, error.message)
        self._count_outcome(write.status)
        return _outcome(order, stored)

    def _count_outcome(self, status: LedgerStatus) -> None:
        if status in (LedgerStatus.UNKNOWN, LedgerStatus.NOT_SENT, LedgerStatus.REJECTED):
            self._metric(f"Orders{status.value.title().replace('_', '')}")

    def _metric(self, name: str) -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _account_outcome(account: str, broker: str, results: list[OrderOutcome]) -> BrokerOutcome:
    """One account's outcome from its orders' (in plan order): the first that is not done says
    why the account stopped."""
    stopped = next(
        (
            outcome.reason or (outcome.status.value if outcome.status else "not placed")
            for outcome in results
            if outcome.status is None or not outcome.status.done
        ),
        None,
    )
    done = sum(1 for outcome in results if outcome.status is not None and outcome.status.done)
    filled = sum(1 for outcome in results if outcome.status is LedgerStatus.FILLED)
    if done == len(results):
        status, reason = BrokerStatus.COMPLETE, None
    else:
        status = BrokerStatus.FAILED if filled == 0 else BrokerStatus.PARTIAL
        reason = stopped
    return BrokerOutcome(
        broker_account_id=account, broker=broker, status=status, reason=reason, orders=results
    )


def _with_outcomes(account: BrokerOutcome, written: Mapping[str, OrderOutcome]) -> BrokerOutcome:
    if account.status is BrokerStatus.BLOCKED or not account.orders:
        return account
    results = [written.get(outcome.order_key, outcome) for outcome in account.orders]
    return _account_outcome(account.broker_account_id, account.broker, results)


def _outcome(order: PlannedOrder, entry: LedgerEntry, reason: str | None = None) -> OrderOutcome:
    return OrderOutcome(
        order_key=order.order_key,
        leg_no=order.leg_no,
        slice_no=order.slice_no,
        instrument=order.instrument.key,
        side=order.side,
        quantity=order.quantity,
        status=entry.status,
        filled_quantity=entry.filled_quantity,
        average_price=entry.average_price,
        broker_order_id=entry.broker_order_ids[-1] if entry.broker_order_ids else None,
        reason=reason or entry.reason,
    )


def _not_attempted(order: PlannedOrder, reason: str) -> OrderOutcome:
    return OrderOutcome(
        order_key=order.order_key,
        leg_no=order.leg_no,
        slice_no=order.slice_no,
        instrument=order.instrument.key,
        side=order.side,
        quantity=order.quantity,
        status=None,
        reason=reason,
    )


def _retryable(brokers: Sequence[BrokerOutcome]) -> bool:
    """Is anything missing that a later attempt can still complete (not blocked, not rejected)?"""
    return any(
        order.status in _RETRYABLE
        for broker in brokers
        if broker.status is not BrokerStatus.BLOCKED
        for order in broker.orders
    )


def _needs_login(outcome: BrokerOutcome) -> bool:
    return outcome.status is BrokerStatus.BLOCKED and (outcome.reason or "").startswith(LOGIN_NEEDED_REASON)


def _overall(brokers: Sequence[BrokerOutcome]) -> ExecutionStatus:
    if brokers and all(_needs_login(b) for b in brokers):
        return ExecutionStatus.NOT_ENTERED  # refused before any order: no account could trade
    if all(b.status is BrokerStatus.COMPLETE for b in brokers):
        return ExecutionStatus.COMPLETE
    if any(b.status in (BrokerStatus.COMPLETE, BrokerStatus.PARTIAL) for b in brokers):
        return ExecutionStatus.PARTIAL
    return ExecutionStatus.FAILED


def _summary(brokers: Sequence[BrokerOutcome]) -> str | None:
    problems = [
        f"{b.broker_account_id}: {b.reason}" for b in brokers if b.status is not BrokerStatus.COMPLETE
    ]
    return "; ".join(problems) if problems else None
