"""The backtester: strategies run through trading days in process, on the platform's own domain.

Each day is the live session minute by minute, through the same code: the timer's events of
the minute in its priority order (`timer.plan.events_for`), the trigger's due entries and exits
(`timer.triggers`, schedule entries projected as the repository projects them), the stop-loss
check (`execution.exits`: square-off, MTM stop-loss and target, trailing stop, leg stops), the
executor and the execution service (planning: strikes, expiries, lots and freeze limits from the
contract specs; the engine's ledger, exactly-once placement and position bookkeeping), paper
brokers filling at the market with slippage. Only the adapters differ: the execution store, the
strategies, the leases, the run queue and the trigger claims are in memory, and the clock is the
simulated minute. Minutes where nothing can happen (nothing open, nothing due, nothing queued)
are skipped.

After each day: the day's fills with their charges (`market.charges`, effective-dated), each
strategy's P&L (the change in realised + marked value of its positions since the previous close,
so positions carried overnight count on the days they move), and notes for what was not entered,
left open after the close, or settled at expiry. Contracts still open after their expiry's close
are settled at intrinsic value against the index's closing level, as the exchange settles them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared_utils.backtest.queue import InlineRunQueue
from shared_utils.backtest.results import BacktestFill, BacktestResult, DayOutcome
from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.paper import PaperBroker, PaperConfig
from shared_utils.brokers.port import Broker
from shared_utils.clock import IST, FixedClock
from shared_utils.errors import ConfigurationError, InvalidInputError
from shared_utils.events.catalog import DetailType
from shared_utils.execution.engine import EngineConfig
from shared_utils.execution.executor import StrategyRunExecutor
from shared_utils.execution.exits import PositionStopLossMonitor
from shared_utils.execution.marking import mark_positions
from shared_utils.execution.memory_store import InMemoryExecutionStore, InMemoryLeases
from shared_utils.execution.models import ExecutionRecord, ExecutionStatus, LedgerEntry, PositionView
from shared_utils.execution.portfolio import PortfolioMonitor
from shared_utils.execution.requests import ExecutionRequest
from shared_utils.execution.runs import RunQueue, StrategyRun
from shared_utils.execution.service import ExecutionService
from shared_utils.execution.store import ExecutionHistory
from shared_utils.keys import ScheduleKind
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.charges import ChargesTable, default_charges
from shared_utils.market.options import Action, OptionType
from shared_utils.market.phases import MarketPhase, phase_boundaries, phase_within
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.strikes import OptionChain
from shared_utils.market.underlyings import EXCHANGE_OF
from shared_utils.marketplace.trading import owner_run
from shared_utils.models.common import Product
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.views import StrategyDetail
from shared_utils.repository.memory import InMemoryPortfolioRules, InMemoryStrategies
from shared_utils.timer.plan import PHASE_EVENTS, events_for
from shared_utils.timer.triggers import trigger_due_strategies

MINUTE = timedelta(minutes=1)
# Settings the live platform reads from its environment, at their defaults.
ENTRY_MAX_LAG = timedelta(seconds=120)
SQUARE_OFF_BEFORE_CLOSE = timedelta(minutes=10)


class MarketSource(StrEnum):
    SIMULATED = "SIMULATED"  # the platform's simulated market, seeded (the same seed, the same days)
    HISTORICAL = "HISTORICAL"  # minute bars the user imported (docs/historical-data.md)


class BacktestRequest(BaseModel):
    """What to run the strategies over, and how fills are priced and charged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    market: MarketSource = MarketSource.SIMULATED
    seed: int | None = Field(default=None, description="the simulated market's seed; None: the shipped one")
    slippage_bps: Decimal = Field(
        default=Decimal("5"), ge=0, le=500, description="fills move this far against the trader"
    )
    brokerage_per_order: Decimal = Field(default=Decimal("20"), ge=0, le=1000, description="rupees per order")

    @model_validator(mode="after")
    def _ordered(self) -> BacktestRequest:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class DayMarket(Protocol):
    """The market a backtest trades in, at its clock's minute: the chains planning selects
    strikes on, the prices the paper brokers fill at and the check marks at, the index levels."""

    def chain(self, underlying: str, expiry: date) -> OptionChain | None: ...
    def price(self, instrument: OptionInstrument) -> Decimal | None: ...
    def level(self, underlying: str) -> Decimal | None: ...


class _PaperBrokers:
    """One paper broker per account, kept across days (positions carried overnight stay)."""

    def __init__(self, market: DayMarket, clock: FixedClock, slippage_bps: Decimal) -> None:
        self._market = market
        self._clock = clock
        self._config = PaperConfig(slippage_bps=slippage_bps)
        self._brokers: dict[str, PaperBroker] = {}

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        found = self._brokers.get(broker_account_id)
        if found is None:
            found = PaperBroker(self._market.price, self._clock, self._config, account_id=broker_account_id)
            self._brokers[broker_account_id] = found
        return found

    def order_tags(self) -> list[str]:
        """Every order each paper broker received, by tag (a tag twice: an order sent twice)."""
        return [tag for broker in self._brokers.values() for tag in broker.order_tags()]

    def net_quantities(self) -> dict[str, int]:
        return {
            f"{account}/{p.instrument.key}": p.quantity
            for account, broker in self._brokers.items()
            for p in broker.positions()
            if p.instrument is not None and p.quantity
        }


class _NoMarketplace:
    """A backtest runs the given strategies only: no subscribers, no kill switch presses."""

    def fan_out(self, run: StrategyRun) -> int:
        raise ConfigurationError("a backtest has no marketplace subscribers")

    def run(self, run: StrategyRun, *, refuse: str | None) -> ExecutionRecord | None:
        raise ConfigurationError("a backtest has no marketplace subscribers")

    def square_off_user(self, run: StrategyRun) -> int:
        raise ConfigurationError("a backtest has no kill switch")

    def exit_done(self, run: StrategyRun, record: ExecutionRecord) -> None:
        raise ConfigurationError("a backtest has no kill switch")


class _Claims:
    """The trigger's claims in memory: each (day, strategy, action, minute) handed over once."""

    def __init__(self) -> None:
        self._claimed: set[tuple[date, str, str, ScheduleKind, datetime]] = set()

    @staticmethod
    def _key(request: ExecutionRequest) -> tuple[date, str, str, ScheduleKind, datetime]:
        return (
            request.trade_date,
            request.user_id,
            request.strategy_id,
            request.action,
            request.scheduled_at,
        )

    def claim_all(self, requests: Sequence[ExecutionRequest]) -> list[ExecutionRequest]:
        claimed = [r for r in requests if self._key(r) not in self._claimed]
        self._claimed.update(self._key(r) for r in claimed)
        return claimed

    def release_all(self, requests: Sequence[ExecutionRequest]) -> None:
        self._claimed.difference_update(self._key(r) for r in requests)

    def forget(self, day: date) -> None:
        self._claimed = {key for key in self._claimed if key[0] != day}


class _Requester:
    def __init__(self, queue: RunQueue) -> None:
        self._queue = queue

    def request_executions(self, requests: Sequence[ExecutionRequest]) -> None:
        self._queue.send([owner_run(request) for request in requests])


def trading_days(calendar: TradingCalendar, start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        if calendar.is_trading_day(day):
            yield day
        day += timedelta(days=1)


class Backtester:
    def __init__(
        self,
        details: Sequence[StrategyDetail],
        request: BacktestRequest,
        market: Callable[[FixedClock], DayMarket],
        *,
        calendar: TradingCalendar | None = None,
        specs: SpecTable | None = None,
        charges: ChargesTable | None = None,
        progress: Callable[[date], None] | None = None,
        portfolio: PortfolioRules | None = None,
    ) -> None:
        """`market` builds the market on the backtest's clock (simulated or imported history);
        `portfolio`: the baskets' and users' portfolio rules (none by default)."""
        if not details:
            raise InvalidInputError("a backtest needs at least one strategy")
        self._request = request
        self._calendar = calendar or TradingCalendar.default()
        self._specs = specs or default_specs()
        self._charges = charges or default_charges()
        self._progress = progress
        self._names = {d.strategy.strategy_id: d.strategy.name for d in details}
        self._users = sorted({d.strategy.user_id for d in details})
        self._strategies = InMemoryStrategies(details)
        self.clock = FixedClock(datetime.combine(request.start, time(0), tzinfo=IST))
        self.market = market(self.clock)
        self.store = InMemoryExecutionStore()
        history: ExecutionHistory = self.store
        self.brokers = _PaperBrokers(self.market, self.clock, request.slippage_bps)
        self._queue = InlineRunQueue(self.clock)
        self._claims = _Claims()
        service = ExecutionService(
            history,
            self._strategies,
            lambda _user: self.brokers,
            self.market,
            self._calendar,
            self.clock,
            leases=InMemoryLeases(),
            engine_config=EngineConfig(max_workers=1),
            specs=self._specs,
        )
        self._monitor = PositionStopLossMonitor(
            history,
            self._strategies,
            self.market,
            self._calendar,
            self._queue,
            square_off_before=SQUARE_OFF_BEFORE_CLOSE,
            portfolio=None
            if portfolio is None
            else PortfolioMonitor(
                self.store, InMemoryPortfolioRules(self._strategies, portfolio), self.market
            ),
        )
        marketplace = _NoMarketplace()
        self.executor = StrategyRunExecutor(
            service,
            self._queue,
            self.clock,
            subscribers=marketplace,
            kill_switch=marketplace,
            entry_max_lag=ENTRY_MAX_LAG,
            checks=self._monitor,
        )
        self._carried: dict[tuple[str, str], Decimal] = {}  # open position -> value at last close
        self.carried_over = False

    def run(self, days_to_run: Sequence[date] | None = None) -> BacktestResult:
        """Every trading day of the request (or these of them, in order); `carried_over` then
        says whether positions were still open after the last one."""
        days: list[DayOutcome] = []
        warnings: list[str] = []
        if days_to_run is None:
            days_to_run = list(trading_days(self._calendar, self._request.start, self._request.end))
        for day in days_to_run:
            if self._calendar.is_provisional(day):
                warnings.append(f"{day}: the calendar for this year is provisional (holidays not confirmed)")
            days.append(self.run_day(day))
            if self._progress is not None:
                self._progress(day)
        if not days:
            warnings.append("no trading day in the range")
        self.carried_over = self.store.has_open_positions()
        return BacktestResult.of(days, request=self.request_echo(), strategies=self._names, warnings=warnings)

    def request_echo(self) -> dict[str, object]:
        return self._request.model_dump(mode="json") | {"strategies": sorted(self._names)}

    def run_day(self, day: date) -> DayOutcome:
        for _tick in self.minutes(day):
            pass
        return self.close_day(day)

    def minutes(self, day: date) -> Iterator[datetime]:
        """Run the day minute by minute, yielding each minute once it has run (a test delivers a
        late or duplicate message between two of them); `close_day` then reads the day."""
        session = self._calendar.session(day)
        if session is None:
            raise InvalidInputError(f"{day} is not a trading day")
        due = {
            entry.due_at
            for entry in self._strategies.due_schedule_entries(session.open, session.close + MINUTE)
        }
        phases = phase_boundaries(session)
        tick = session.open
        while tick <= session.close:
            waiting = self._queue.next_due()
            if (
                tick in due
                or self.store.has_open_positions()
                or (waiting is not None and waiting <= tick)
                or self.store.runs_to_retry(day)
                or self.store.armed_entries(day)
            ):
                self._minute(tick, day, phases, tick in due)
                yield tick
            tick += MINUTE

    def close_day(self, day: date) -> DayOutcome:
        """The day's outcome, read once its minutes have run; then the day is forgotten."""
        session = self._calendar.session(day)
        if session is None:
            raise InvalidInputError(f"{day} is not a trading day")
        self.clock.set(session.close)
        outcome = self._close_day(day)
        self.store.forget_day(day)
        self._claims.forget(day)
        return outcome

    def _minute(
        self, tick: datetime, day: date, phases: list[tuple[MarketPhase, datetime]], due: bool
    ) -> None:
        """The minute's timer events in their priority order; the trigger only in a minute with
        something due (in any other it finds nothing), duplicate scans and refreshes never (one
        process places every order; the market is read directly)."""
        self.clock.set(tick)
        phase = phase_within(tick, phases).value
        for detail_type in PHASE_EVENTS.get(phase, ()):
            if detail_type is DetailType.SCHEDULE_STRATEGY_TRIGGER and due:
                for event in events_for(tick, phase, day):
                    if event.detail_type is detail_type:
                        trigger_due_strategies(
                            event.envelope,
                            self._strategies,
                            self._strategies,
                            self._calendar,
                            self._claims,
                            _Requester(self._queue),
                        )
            elif detail_type is DetailType.CHECK_STOP_LOSS:
                self._monitor.check_all(tick, day, self.store.open_partitions())
            self._queue.drain(self.executor.execute)
        self._queue.drain(self.executor.execute)

    # ------------------------------------------------------------------ the day's results

    def _close_day(self, day: date) -> DayOutcome:
        notes: list[str] = []
        fills: list[BacktestFill] = []
        charges: dict[str, Decimal] = defaultdict(Decimal)
        pnl: dict[str, Decimal] = dict.fromkeys(self._names, Decimal("0"))
        for user in self._users:
            records = self._records(user, day)
            # What placed a fill: the exit's reason, else the entry run (ENTRY, a re-entry RE1 or
            # LEG2.L1, a wait-and-trade leg WAIT3).
            reasons = {
                (r.strategy_id, r.run_name): (r.exit_reason.value if r.exit_reason else r.run_name)
                for r in records
            }
            for record in records:
                if record.status is not ExecutionStatus.COMPLETE:
                    notes.append(
                        f"{self._names.get(record.strategy_id, record.strategy_id)} {record.run_name}: "
                        f"{record.status.value}" + (f" ({record.reason})" if record.reason else "")
                    )
            for strategy_id in self._names:
                for entry in self.store.ledger_of_day(user, day, strategy_id):
                    fill = self._fill(entry, day, reasons)
                    if fill is not None:
                        fills.append(fill)
                        charges[strategy_id] += fill.charges
            for fill in self._settle_expired(user, day, notes):
                fills.append(fill)
                charges[fill.strategy_id] += fill.charges
            unpriced: set[str] = set()
            for position in mark_positions(self.store.positions(user), self.market, unpriced):
                key = (user, position.position_sk)
                value = position.realised_pnl + (position.unrealised_pnl or Decimal("0"))
                pnl[position.strategy_id] = pnl.get(position.strategy_id, Decimal("0")) + (
                    value - self._carried.pop(key, Decimal("0"))
                )
                if position.net_quantity != 0:
                    self._carried[key] = value
                    if position.product is Product.MIS:
                        notes.append(f"{self._label(position)}: intraday position left open after the close")
            if unpriced:
                notes.append(f"{len(unpriced)} open position(s) had no price at the close: valued as before")
        closes = {u: level for u in self._underlyings() if (level := self.market.level(u)) is not None}
        fills.sort(key=lambda f: (f.at, f.strategy_id, f.leg_no))
        return DayOutcome(
            day=day,
            pnl_by_strategy=pnl,
            charges_by_strategy=dict(charges),
            fills=fills,
            notes=notes,
            index_close=closes,
        )

    def _records(self, user: str, day: date) -> list[ExecutionRecord]:
        start = datetime.combine(day, time(0), tzinfo=IST) - timedelta(days=1)
        found: list[ExecutionRecord] = []
        token = None
        while True:
            page, token = self.store.list_records(
                user, start, start + timedelta(days=3), limit=100, next_token=token
            )
            found += [record for record in page if record.trade_date == day]
            if token is None:
                return sorted(found, key=lambda r: r.started_at)

    def _fill(
        self, entry: LedgerEntry, day: date, reasons: dict[tuple[str, str], str]
    ) -> BacktestFill | None:
        if entry.filled_quantity <= 0 or entry.average_price is None:
            return None
        instrument = OptionInstrument.from_key(entry.instrument_key)
        run_name = entry.order_key.split("#")[2]
        cost = self._charges.order(
            entry.side,
            entry.filled_quantity,
            entry.average_price,
            day,
            EXCHANGE_OF[instrument.underlying],
            self._request.brokerage_per_order,
        )
        return BacktestFill(
            strategy_id=entry.strategy_id,
            leg_no=entry.leg_no,
            broker_account_id=entry.broker_account_id,
            instrument=entry.instrument_key,
            side=entry.side,
            quantity=entry.filled_quantity,
            price=entry.average_price,
            at=entry.updated_at,
            run=reasons.get((entry.strategy_id, run_name), run_name),
            charges=cost.total,
        )

    def _settle_expired(self, user: str, day: date, notes: list[str]) -> list[BacktestFill]:
        """Contracts of an expiry that closed today, still open: settled at intrinsic value."""
        settled: list[BacktestFill] = []
        for position in self.store.positions(user):
            instrument = position.instrument
            if position.net_quantity == 0 or instrument.expiry > day:
                continue
            level = self.market.level(instrument.underlying.value)
            if level is None:
                notes.append(f"{self._label(position)}: expired with no index level to settle against")
                continue
            intrinsic = max(
                Decimal("0"),
                level - instrument.strike
                if instrument.option_type is OptionType.CE
                else instrument.strike - level,
            )
            quantity = abs(position.net_quantity)
            side = Action.SELL if position.net_quantity > 0 else Action.BUY
            self.store.settle(user, position.position_sk, intrinsic, self.clock.now())
            exchange = EXCHANGE_OF[instrument.underlying]
            stt = (
                self._charges.exercise_stt(intrinsic * quantity, day, exchange)
                if side is Action.SELL and intrinsic > 0
                else Decimal("0")
            )
            notes.append(f"{self._label(position)}: held to expiry, settled at {intrinsic}")
            settled.append(
                BacktestFill(
                    strategy_id=position.strategy_id,
                    leg_no=position.leg_no,
                    broker_account_id=position.broker_account_id,
                    instrument=instrument.key,
                    side=side,
                    quantity=quantity,
                    price=intrinsic,
                    at=self.clock.now(),
                    run="EXPIRY",
                    charges=stt,
                )
            )
        return settled

    def _label(self, position: PositionView) -> str:
        name = self._names.get(position.strategy_id, position.strategy_id)
        return f"{name} leg {position.leg_no} {position.instrument.key}"

    def _underlyings(self) -> list[str]:
        return sorted({d.strategy.underlying.value for d in self._strategies.details})
