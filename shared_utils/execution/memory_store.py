"""The execution store and the strategy leases in memory: the backtester's adapters of the ports
the DynamoDB ones implement (`store.ExecutionStore`, `leases.StrategyLeases`).

Every write keeps the DynamoDB adapter's conditions (a ledger entry claimed once, outcomes guarded
by the entry's attempt and never over a FILLED entry, a fill counted once per position by its
order key, a transaction that writes all or nothing) and every read its order and paging, so the
engine behaves the same on both; `tests/integration/execution/test_store_contract.py` runs one
suite against both. Items are kept as the domain's models (positions in the attribute shape
`position_from_item` reads), with no serialisation: a backtest reads positions every minute of
every simulated day. One lock makes each method atomic, as DynamoDB makes each write."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import ConflictError, StrategyBusyError
from shared_utils.execution.armed import ArmedEntry
from shared_utils.execution.history_table import utc
from shared_utils.execution.ledger_store import OutcomeWrite, stored_entry
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    KillSwitchOperation,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    LedgerStatus,
    PlannedOrder,
    PositionView,
    ScheduleKind,
)
from shared_utils.execution.portfolio import PortfolioExit, PortfolioScope, PortfolioState
from shared_utils.execution.portfolio_store import portfolio_state, scope_attributes
from shared_utils.execution.position_store import position_from_item
from shared_utils.execution.reports import ContractDifference
from shared_utils.execution.run_names import refused_after
from shared_utils.execution.run_store import record_key
from shared_utils.execution.run_transactions import ENTRY_CHECKS, TRANSACTION_LIMIT
from shared_utils.market.options import Action
from shared_utils.pagination import CursorCodec

REASON_LIMIT = 500  # the DynamoDB adapter stores a reason's first 500 characters


@dataclass
class _Ledger:
    entry: LedgerEntry
    trade_date: date
    flags: dict[str, Any] = field(default_factory=dict)

    @property
    def index_key(self) -> str:
        return keys.ledger_gsi1sk(utc(self.entry.created_at), self.entry.order_key)


@dataclass
class _Run:
    plan: ExecutionPlan
    record_sk: str
    attempts: int
    retry: bool


@dataclass
class _Position:
    data: dict[str, Any]  # the attributes `position_from_item` reads
    applied: set[str] = field(default_factory=set)
    open_partition: str | None = None
    view: PositionView | None = None  # `position_from_item(data)` until the next write

    def read(self) -> PositionView:
        if self.view is None:
            self.view = position_from_item(self.data)
        return self.view


class InMemoryExecutionStore:
    """Ledger, runs and records, positions, trailing peaks, mismatches and kill switches."""

    def __init__(self, cursor_codec: CursorCodec | None = None) -> None:
        self._lock = threading.RLock()
        self._cursors = cursor_codec or CursorCodec()
        self._ledger: dict[tuple[str, str], _Ledger] = {}  # (user, order key)
        # (user, trade date, strategy) -> order key -> entry: a run's and a day's orders
        self._ledger_of_day: dict[tuple[str, date, str], dict[str, _Ledger]] = {}
        self._runs: dict[tuple[str, str], _Run] = {}  # (user, run sk)
        self._records: dict[tuple[str, str], ExecutionRecord] = {}  # (user, record sk)
        self._positions: dict[str, dict[str, _Position]] = {}  # user -> position sk -> position
        self._open: dict[str, dict[tuple[str, str], _Position]] = {}  # partition -> (user, sk)
        self._peaks: dict[tuple[str, str], Decimal] = {}  # (user, trail sk)
        self._portfolio: dict[tuple[str, str], dict[str, Any]] = {}  # (user, portfolio sk)
        self._armed: dict[tuple[str, date, str, str], ArmedEntry] = {}  # (user, day, strategy, run)
        self._signals: dict[tuple[str, date, str], tuple[int, int]] = {}  # -> (issued, highest run)
        self._mismatches: dict[tuple[str, str], dict[str, Any]] = {}
        self._switches: dict[str, KillSwitchView] = {}  # pk
        self._operations: dict[str, dict[str, Any]] = {}  # pk

    # ------------------------------------------------------------------ ledger

    def claim(self, entry: LedgerEntry, trade_date: date) -> LedgerEntry | None:
        with self._lock:
            found = self._ledger.get((entry.user_id, entry.order_key))
            if found is not None:
                return found.entry
            self._add_ledger(entry, trade_date)
            return None

    def _add_ledger(self, entry: LedgerEntry, trade_date: date) -> None:
        item = _Ledger(entry, trade_date)
        self._ledger[(entry.user_id, entry.order_key)] = item
        day = self._ledger_of_day.setdefault((entry.user_id, trade_date, entry.strategy_id), {})
        day[entry.order_key] = item

    def _remove_ledger(self, entry: LedgerEntry) -> None:
        item = self._ledger.pop((entry.user_id, entry.order_key))
        self._ledger_of_day[(entry.user_id, item.trade_date, entry.strategy_id)].pop(entry.order_key)

    def get_ledger(self, user_id: str, order_key: str) -> LedgerEntry | None:
        found = self._ledger.get((user_id, order_key))
        return found.entry if found is not None else None

    def take_over(self, entry: LedgerEntry, now: datetime) -> LedgerEntry | None:
        with self._lock:
            found = self._ledger.get((entry.user_id, entry.order_key))
            if (
                found is None
                or found.entry.attempt != entry.attempt
                or found.entry.status is not entry.status
            ):
                return None
            found.entry = found.entry.model_copy(
                update={"status": LedgerStatus.PENDING, "attempt": entry.attempt + 1, "updated_at": now}
            )
            return found.entry

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
    ) -> LedgerEntry:
        write = OutcomeWrite(entry, order, status, broker_order_id, filled_quantity, average_price, reason)
        with self._lock:
            if write.moves_position:
                if self._position_allowed([write], user_id, None):
                    self._move_position([write], user_id, strategy_id, opening, now, None)
                if not opening:
                    position = self._position(user_id, order.position_sk)
                    if position is not None and int(position.data.get("net_quantity", 0)) == 0:
                        self._set_open(user_id, position, None)
            if not self._outcome_allowed(write):
                raise ConflictError(f"ledger entry {entry.order_key} moved on under another attempt")
            return self._store_outcome(write, now)

    def _outcome_allowed(self, write: OutcomeWrite) -> bool:
        found = self._ledger.get((write.entry.user_id, write.entry.order_key))
        return (
            found is not None
            and found.entry.attempt == write.entry.attempt
            and found.entry.status is not LedgerStatus.FILLED
        )

    def _store_outcome(self, write: OutcomeWrite, now: datetime) -> LedgerEntry:
        found = self._ledger[(write.entry.user_id, write.entry.order_key)]
        stored = stored_entry(write, now)  # what the caller gets back, as from the DynamoDB store
        kept = stored.model_copy(update={"reason": write.reason[:REASON_LIMIT]}) if write.reason else stored
        found.entry = found.entry.model_copy(
            update={
                field_name: getattr(kept, field_name)
                for field_name in (
                    "status",
                    "quantity",
                    "broker_order_ids",
                    "filled_quantity",
                    "average_price",
                    "reason",
                    "updated_at",
                )
            }
        )
        return stored

    def _position_allowed(self, fills: Sequence[OutcomeWrite], user_id: str, flat_from: int | None) -> bool:
        """The DynamoDB update's condition: no fill counted before; closing from `flat_from` to
        flat, the net quantity still `flat_from`."""
        position = self._position(user_id, fills[0].order.position_sk)
        applied = position.applied if position is not None else set()
        if any(fill.order.order_key in applied for fill in fills):
            return False
        if flat_from is not None and flat_from + _signed(fills) == 0:
            return position is not None and int(position.data.get("net_quantity", 0)) == flat_from
        return True

    def _move_position(
        self,
        fills: Sequence[OutcomeWrite],
        user_id: str,
        strategy_id: str,
        opening: bool,
        now: datetime,
        flat_from: int | None,
    ) -> None:
        order = fills[0].order
        position = self._position(user_id, order.position_sk)
        if position is None:
            position = self._positions.setdefault(user_id, {})[order.position_sk] = _Position(
                data={
                    "sk": order.position_sk,
                    "user_id": user_id,
                    "strategy_id": strategy_id,
                    "broker_account_id": order.broker_account_id,
                    "broker": order.broker,
                    "leg_no": order.leg_no,
                    "instrument": order.instrument,
                    "product": order.product,
                    "entry_date": order.position_sk.split(keys.SEPARATOR)[2],
                }
            )
        data = position.data
        data["updated_at"] = now
        position.view = None
        if opening:
            self._set_open(user_id, position, keys.open_positions_gsi1pk(user_id))
        signed = _signed(fills)
        data["net_quantity"] = int(data.get("net_quantity", 0)) + signed
        for fill in fills:
            assert fill.average_price is not None
            side = "buy" if fill.order.side is Action.BUY else "sell"
            data[f"{side}_quantity"] = int(data.get(f"{side}_quantity", 0)) + fill.filled_quantity
            data[f"{side}_value"] = Decimal(data.get(f"{side}_value", 0)) + (
                fill.average_price * fill.filled_quantity
            )
            position.applied.add(fill.order.order_key)
        if flat_from is not None and flat_from + signed == 0:
            self._set_open(user_id, position, None)

    def _position(self, user_id: str, position_sk: str) -> _Position | None:
        return self._positions.get(user_id, {}).get(position_sk)

    def _set_open(self, user_id: str, position: _Position, partition: str | None) -> None:
        """Put the position on (or take it off) the open-positions index."""
        key = (user_id, position.data["sk"])
        if position.open_partition is not None:
            self._open.get(position.open_partition, {}).pop(key, None)
        position.open_partition = partition
        if partition is not None:
            self._open.setdefault(partition, {})[key] = position

    def unclaim(self, entry: LedgerEntry) -> None:
        with self._lock:
            if self._unclaim_allowed(entry):
                self._remove_ledger(entry)

    def _unclaim_allowed(self, entry: LedgerEntry) -> bool:
        found = self._ledger.get((entry.user_id, entry.order_key))
        return (
            found is not None
            and found.entry.attempt == entry.attempt
            and found.entry.status is LedgerStatus.PENDING
        )

    def _ledger_with_prefix(
        self, user_id: str, trade_date: date, strategy_id: str, prefix: str
    ) -> list[LedgerEntry]:
        day = self._ledger_of_day.get((user_id, trade_date, strategy_id), {})
        found = [
            (keys.ledger_sk(order_key), item.entry)
            for order_key, item in list(day.items())
            if keys.ledger_sk(order_key).startswith(prefix)
        ]
        return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]

    def ledger_of_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> list[LedgerEntry]:
        prefix = keys.ledger_run_prefix(trade_date, strategy_id, run_name)
        return self._ledger_with_prefix(user_id, trade_date, strategy_id, prefix)

    def ledger_of_day(self, user_id: str, trade_date: date, strategy_id: str) -> list[LedgerEntry]:
        prefix = keys.ledger_day_prefix(trade_date, strategy_id)
        return self._ledger_with_prefix(user_id, trade_date, strategy_id, prefix)

    def _ledger_of_date(self, trade_date: date) -> list[_Ledger]:
        found = [item for item in list(self._ledger.values()) if item.trade_date == trade_date]
        return sorted(found, key=lambda item: item.index_key)

    def ledger_created_between(self, trade_date: date, start: datetime, end: datetime) -> list[LedgerEntry]:
        low, high = utc(start), utc(end)
        return [item.entry for item in self._ledger_of_date(trade_date) if low <= item.index_key <= high]

    def flag_duplicate(self, user_id: str, order_key: str, finding: str, now: datetime) -> None:
        with self._lock:
            found = self._ledger.get((user_id, order_key))
            if found is not None:
                found.flags.update(duplicate_finding=finding, duplicate_flagged_at=now)

    def flag_overdue(self, user_id: str, order_key: str, now: datetime) -> bool:
        with self._lock:
            found = self._ledger.get((user_id, order_key))
            if found is None or "overdue_flagged_at" in found.flags:
                return False
            found.flags["overdue_flagged_at"] = now
            return True

    def unfinished_orders(self, trade_date: date) -> list[LedgerEntry]:
        return [item.entry for item in self._ledger_of_date(trade_date) if item.entry.status.in_flight]

    # ------------------------------------------------------------------ runs and records

    def start_run(self, plan: ExecutionPlan, started_at: datetime) -> tuple[ExecutionPlan, str, int]:
        with self._lock:
            key = (plan.user_id, keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name))
            run = self._runs.get(key)
            if run is None:
                self._runs[key] = _Run(plan, record_key(plan, started_at), 1, retry=False)
                return plan, record_key(plan, started_at), 1
            run.attempts += 1
            return run.plan, run.record_sk, run.attempts

    def mark_retry(self, plan: ExecutionPlan, pending: bool) -> None:
        with self._lock:
            run = self._runs.get(
                (plan.user_id, keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name))
            )
            if run is not None:
                run.retry = pending

    def runs_to_retry(self, trade_date: date) -> list[tuple[str, str, str]]:
        found = [
            (user, run.plan.strategy_id, run.plan.run_name)
            for (user, _sk), run in list(self._runs.items())
            if run.retry and run.plan.trade_date == trade_date
        ]
        return sorted(found, key=lambda triple: keys.retry_gsi1sk(*triple))

    def get_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> ExecutionPlan | None:
        run = self._runs.get((user_id, keys.run_sk(trade_date, strategy_id, run_name)))
        return run.plan if run is not None else None

    def put_record(self, record: ExecutionRecord, record_sk: str) -> None:
        with self._lock:
            self._records[(record.user_id, record_sk)] = record

    def list_records(
        self,
        user_id: str,
        start: datetime,
        end: datetime,
        *,
        strategy_id: str | None = None,
        limit: int = 25,
        next_token: str | None = None,
    ) -> tuple[list[ExecutionRecord], str | None]:
        """Newest first, `limit` index items a page; with `strategy_id`, that strategy's records
        (as DynamoDB's index query with its filter: a page may hold fewer than `limit`)."""
        low, high = utc(start), utc(end) + "~"
        scope = f"executions:{user_id}" if strategy_id is None else f"executions:{user_id}:{strategy_id}"
        begin = self._cursors.decode(next_token, scope)
        after = begin["sk"]["S"] if begin is not None else None
        rows: list[tuple[str, ExecutionRecord | None]] = []
        for (user, record_sk), record in list(self._records.items()):
            if strategy_id is None:
                if user == user_id and low <= record_sk <= high:
                    rows.append((record_sk, record))
            elif record.strategy_id == strategy_id:
                started = record_sk.split(keys.SEPARATOR)[0]
                index_key = keys.execution_record_gsi1sk(started, record.run_name)
                if low <= index_key <= high:
                    # Read from the index, then filtered on the user: it still counts to the limit.
                    rows.append(
                        (f"{index_key}{keys.SEPARATOR}{record_sk}", record if user == user_id else None)
                    )
        rows.sort(key=lambda row: row[0], reverse=True)
        if after is not None:
            rows = [row for row in rows if row[0] < after]
        page = rows[:limit]
        token = self._cursors.encode({"sk": {"S": page[-1][0]}}, scope) if len(page) == limit else None
        return [record for _, record in page if record is not None], token

    def annotate_record(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str, note: str
    ) -> None:
        with self._lock:
            run = self._runs.get((user_id, keys.run_sk(trade_date, strategy_id, run_name)))
            record = self._records.get((user_id, run.record_sk)) if run is not None else None
            if run is None or record is None or note in (record.reason or ""):
                return
            reason = f"{record.reason}; {note}" if record.reason else note
            self._records[(user_id, run.record_sk)] = record.model_copy(update={"reason": reason})

    # ------------------------------------------------------------------ transactions

    def begin_run(
        self, plan: ExecutionPlan, started_at: datetime, entries: Sequence[LedgerEntry]
    ) -> str | None:
        if len(entries) + 1 + ENTRY_CHECKS > TRANSACTION_LIMIT:
            return None
        with self._lock:
            run_key = (plan.user_id, keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name))
            if run_key in self._runs or any((e.user_id, e.order_key) in self._ledger for e in entries):
                return None
            if plan.action is ScheduleKind.ENTRY:
                switches = (keys.user_pk(plan.user_id), keys.GLOBAL_KILL_SWITCH_PK)
                if any(self._pressed(pk) for pk in switches):
                    return None
                exit_sk = keys.run_sk(plan.trade_date, plan.strategy_id, refused_after(plan.run_name))
                if (plan.user_id, exit_sk) in self._runs:
                    return None
            record_sk = record_key(plan, started_at)
            self._runs[run_key] = _Run(plan, record_sk, 1, retry=True)
            for entry in entries:
                self._add_ledger(entry, plan.trade_date)
            return record_sk

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
    ) -> list[LedgerEntry] | None:
        opening = plan.action is ScheduleKind.ENTRY
        by_position: dict[str, list[OutcomeWrite]] = {}
        for write in writes:
            if write.moves_position:
                by_position.setdefault(write.order.position_sk, []).append(write)
        items = len(writes) + len(by_position) + len(unclaimed) + (record is not None) + (not retry)
        if items > TRANSACTION_LIMIT:
            return None

        def flat_from(position_sk: str) -> int | None:
            return None if opening or open_nets is None else open_nets.get(position_sk)

        with self._lock:
            if not (
                all(self._outcome_allowed(write) for write in writes)
                and all(
                    self._position_allowed(fills, plan.user_id, flat_from(sk))
                    for sk, fills in by_position.items()
                )
                and all(self._unclaim_allowed(entry) for entry in unclaimed)
            ):
                return None
            stored = [self._store_outcome(write, now) for write in writes]
            for position_sk, fills in by_position.items():
                self._move_position(
                    fills, plan.user_id, plan.strategy_id, opening, now, flat_from(position_sk)
                )
            for entry in unclaimed:
                self._remove_ledger(entry)
            if record is not None:
                self._records[(plan.user_id, record_sk)] = record
            if not retry:
                run = self._runs.get(
                    (plan.user_id, keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name))
                )
                if run is not None:
                    run.retry = False
            return stored

    # ------------------------------------------------------------------ positions

    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]:
        prefix = keys.strategy_positions_prefix(strategy_id) if strategy_id else keys.POSITION_SK_PREFIX
        found = [(sk, p) for sk, p in list(self._positions.get(user_id, {}).items()) if sk.startswith(prefix)]
        return [position.read() for _, position in sorted(found, key=lambda pair: pair[0])]

    def open_positions(self, partition: str | None = None) -> list[PositionView]:
        partitions = [partition] if partition is not None else keys.open_positions_partitions()
        found: list[PositionView] = []
        for shard in partitions:
            held = [
                (f"{user}{keys.SEPARATOR}{sk}", position)
                for (user, sk), position in list(self._open.get(shard, {}).items())
            ]
            found += [position.read() for _, position in sorted(held, key=lambda p: p[0])]
        return [position for position in found if position.net_quantity != 0]

    def open_contracts(self) -> set[OptionInstrument]:
        return {position.instrument for position in self.open_positions()}

    def mtm_peaks(
        self, wanted: Iterable[tuple[str, str]], trade_date: date
    ) -> dict[tuple[str, str], Decimal]:
        found: dict[tuple[str, str], Decimal] = {}
        for user, strategy in dict.fromkeys(wanted):
            peak = self._peaks.get((user, keys.trail_sk(strategy, trade_date)))
            if peak is not None:
                found[(user, strategy)] = peak
        return found

    def next_signal_number(self, user_id: str, strategy_id: str, trade_date: date) -> int:
        with self._lock:
            key = (user_id, trade_date, strategy_id)
            issued, ran = self._signals.get(key, (0, 0))
            self._signals[key] = (issued + 1, ran)
            return issued + 1

    def signal_ran(self, user_id: str, strategy_id: str, trade_date: date, number: int) -> bool:
        with self._lock:
            key = (user_id, trade_date, strategy_id)
            issued, ran = self._signals.get(key, (0, 0))
            if ran > number:
                return False
            self._signals[key] = (issued, number)
            return True

    def arm(self, armed: ArmedEntry) -> bool:
        key = (armed.user_id, armed.trade_date, armed.strategy_id, armed.run_name)
        with self._lock:
            if key in self._armed:
                return False
            self._armed[key] = armed
            return True

    def armed_entries(self, trade_date: date) -> list[ArmedEntry]:
        return [armed for key, armed in sorted(self._armed.items()) if key[1] == trade_date]

    def get_armed(self, user_id: str, trade_date: date, strategy_id: str, run_name: str) -> ArmedEntry | None:
        return self._armed.get((user_id, trade_date, strategy_id, run_name))

    def disarm(self, user_id: str, trade_date: date, strategy_id: str, run_name: str) -> None:
        self._armed.pop((user_id, trade_date, strategy_id, run_name), None)

    def move_stops_to_cost(self, user_id: str, position_sks: Iterable[str]) -> None:
        for sk in position_sks:
            position = self._position(user_id, sk)
            if position is not None:
                position.data["stop_at_cost"] = True
                position.view = None

    # ------------------------------------------------------------------ portfolio days

    def day_positions(self, user_id: str, trade_date: date, held: Iterable[str] = ()) -> list[PositionView]:
        touched = {
            item.entry.position_sk
            for (user, day, _strategy), entries in list(self._ledger_of_day.items())
            if user == user_id and day == trade_date
            for item in list(entries.values())
        }
        wanted = touched | set(held)
        found = [p.read() for sk, p in sorted(self._positions.get(user_id, {}).items()) if sk in wanted]
        return [p for p in found if p.entry_date == trade_date or p.net_quantity != 0]

    def portfolio_states(
        self, scopes: Iterable[PortfolioScope], trade_date: date
    ) -> dict[PortfolioScope, PortfolioState]:
        found: dict[PortfolioScope, PortfolioState] = {}
        for scope in dict.fromkeys(scopes):
            item = self._portfolio.get((scope.user_id, keys.portfolio_sk(trade_date, scope.basket_id)))
            if item is not None:
                found[scope] = portfolio_state(item)
        return found

    def portfolio_day(self, user_id: str, trade_date: date) -> list[PortfolioState]:
        prefix = keys.portfolio_day_prefix(trade_date)
        held = {sk: item for (user, sk), item in list(self._portfolio.items()) if user == user_id}
        return [portfolio_state(held[sk]) for sk in sorted(held) if sk.startswith(prefix)]

    def _portfolio_item(self, scope: PortfolioScope, trade_date: date) -> dict[str, Any]:
        item = self._portfolio.setdefault((scope.user_id, keys.portfolio_sk(trade_date, scope.basket_id)), {})
        item.update(scope_attributes(scope, trade_date))
        return item

    def raise_portfolio_peak(self, scope: PortfolioScope, trade_date: date, mtm: Decimal) -> None:
        with self._lock:
            item = self._portfolio_item(scope, trade_date)
            if item.get("peak") is None or Decimal(item["peak"]) < mtm:
                item["peak"] = mtm

    def mark_portfolio_exit(self, scope: PortfolioScope, trade_date: date, exit_: PortfolioExit) -> bool:
        with self._lock:
            item = self._portfolio_item(scope, trade_date)
            if item.get("exit_reason"):
                return False
            item.update(exit_reason=exit_.reason.value, exit_mtm=exit_.mtm, exit_at=utc(exit_.at))
            return True

    def portfolio_exit_queued(self, scope: PortfolioScope, trade_date: date, at: datetime) -> None:
        with self._lock:
            item = self._portfolio.get((scope.user_id, keys.portfolio_sk(trade_date, scope.basket_id)))
            if item is not None and item.get("exit_reason") and not item.get("queued_at"):
                item["queued_at"] = utc(at)

    def raise_peak(self, user_id: str, strategy_id: str, trade_date: date, mtm: Decimal) -> None:
        with self._lock:
            key = (user_id, keys.trail_sk(strategy_id, trade_date))
            peak = self._peaks.get(key)
            if peak is None or peak < mtm:
                self._peaks[key] = mtm

    def put_mismatch(
        self,
        user_id: str,
        broker_account_id: str,
        trade_date: date,
        differences: Sequence[ContractDifference],
        now: datetime,
    ) -> datetime:
        with self._lock:
            item = self._mismatches.setdefault((user_id, keys.mismatch_sk(trade_date, broker_account_id)), {})
            item.update(differences=list(differences), checked_at=now)
            item.setdefault("first_seen", now)
            item.pop("resolved_at", None)
            first_seen: datetime = item["first_seen"]
            return first_seen

    def clear_mismatch(self, user_id: str, broker_account_id: str, trade_date: date, now: datetime) -> None:
        with self._lock:
            item = self._mismatches.get((user_id, keys.mismatch_sk(trade_date, broker_account_id)))
            if item is not None and "first_seen" in item:
                item["resolved_at"] = now
                del item["first_seen"]

    def settle(self, user_id: str, position_sk: str, price: Decimal, now: datetime) -> None:
        """Close an open position at `price` without an order: the exchange settling an expired
        contract (a backtest holds options to expiry; live, the broker's books show it)."""
        with self._lock:
            position = self._position(user_id, position_sk)
            if position is None:
                return
            data = position.data
            position.view = None
            net = int(data.get("net_quantity", 0))
            side = "sell" if net > 0 else "buy"
            data[f"{side}_quantity"] = int(data.get(f"{side}_quantity", 0)) + abs(net)
            data[f"{side}_value"] = Decimal(data.get(f"{side}_value", 0)) + price * abs(net)
            data["net_quantity"] = 0
            data["updated_at"] = now
            self._set_open(user_id, position, None)

    def has_open_positions(self) -> bool:
        return any(self._open.values())

    def open_partitions(self) -> list[str]:
        """The open-positions partitions holding a position, in the order they are read."""
        return [p for p in keys.open_positions_partitions() if self._open.get(p)]

    def forget_day(self, trade_date: date) -> None:
        """Drop what a finished day leaves that no later day reads (its ledger, runs, records,
        trailing peaks and armed entries, and every flat position): a backtest keeps only the day
        it is in and the positions carried over, so a year costs what a day does. The caller
        reads the day first."""
        with self._lock:
            for item in list(self._ledger.values()):
                if item.trade_date == trade_date:
                    self._remove_ledger(item.entry)
            self._ledger_of_day = {key: day for key, day in self._ledger_of_day.items() if day}
            self._runs = {k: run for k, run in self._runs.items() if run.plan.trade_date != trade_date}
            self._records = {k: r for k, r in self._records.items() if r.trade_date != trade_date}
            trail = keys.SEPARATOR + trade_date.isoformat()
            self._peaks = {k: peak for k, peak in self._peaks.items() if not k[1].endswith(trail)}
            day = keys.portfolio_day_prefix(trade_date)
            self._portfolio = {k: item for k, item in self._portfolio.items() if not k[1].startswith(day)}
            self._armed = {k: armed for k, armed in self._armed.items() if k[1] != trade_date}
            self._signals = {k: numbers for k, numbers in self._signals.items() if k[1] != trade_date}
            for held in self._positions.values():
                for sk, position in list(held.items()):
                    if int(position.data.get("net_quantity", 0)) == 0 and position.open_partition is None:
                        del held[sk]

    # ------------------------------------------------------------------ kill switches

    @staticmethod
    def _switch_pk(user_id: str | None) -> str:
        return keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK

    def _pressed(self, pk: str) -> bool:
        view = self._switches.get(pk)
        return view is not None and view.state is KillSwitchState.TRIGGERED

    def kill_switch(self, user_id: str | None) -> KillSwitchView:
        view = self._switches.get(self._switch_pk(user_id))
        return view or KillSwitchView(scope="USER" if user_id else "GLOBAL", state=KillSwitchState.ARMED)

    def kill_switches(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        return self.kill_switch(user_id), self.kill_switch(None)

    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]:
        users = list(user_ids)
        return self._pressed(keys.GLOBAL_KILL_SWITCH_PK), {
            user for user in users if self._pressed(keys.user_pk(user))
        }

    def set_kill_switch(self, user_id: str | None, view: KillSwitchView) -> None:
        with self._lock:
            self._switches[self._switch_pk(user_id)] = view

    def start_operation(self, user_id: str | None, operation: KillSwitchOperation) -> None:
        with self._lock:
            self._operations[self._switch_pk(user_id)] = operation.model_dump(
                exclude={"positions_left", "flat"}
            )

    def operation(self, user_id: str | None) -> KillSwitchOperation | None:
        data = self._operations.get(self._switch_pk(user_id))
        return KillSwitchOperation.model_validate(data) if data is not None else None

    def count_operation(self, user_id: str | None, operation_id: str, **increments: int) -> None:
        with self._lock:
            data = self._operations.get(self._switch_pk(user_id))
            if data is None or data.get("operation_id") != operation_id:
                return
            for name, value in increments.items():
                data[name] = int(data.get(name, 0)) + value


def _signed(fills: Sequence[OutcomeWrite]) -> int:
    return sum(
        fill.filled_quantity if fill.order.side is Action.BUY else -fill.filled_quantity for fill in fills
    )


class InMemoryLeases:
    """One writer per strategy within this process (`StrategyLeases` without a table): re-entrant
    in the holding thread; another thread gets `StrategyBusyError` at once (a backtest runs one
    strategy command at a time, so it never waits)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[int, int]] = {}  # (thread, depth)

    @contextmanager
    def hold(self, user_id: str, strategy_id: str, *, wait_s: float | None = None) -> Iterator[None]:
        wanted, me = (user_id, strategy_id), threading.get_ident()
        with self._lock:
            thread, depth = self._held.get(wanted, (me, 0))
            if thread != me:
                raise StrategyBusyError(f"{strategy_id}: another run of this strategy is in progress")
            self._held[wanted] = (me, depth + 1)
        try:
            yield
        finally:
            with self._lock:
                thread, depth = self._held[wanted]
                if depth == 1:
                    del self._held[wanted]
                else:
                    self._held[wanted] = (thread, depth - 1)

    def renew(self, user_id: str, strategy_id: str) -> bool:
        """Still held by this process (the engine renews from its broker threads)."""
        with self._lock:
            return (user_id, strategy_id) in self._held
