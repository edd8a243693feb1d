"""One entry point for every way a backtest is started (the CLI, the API's job): the market the
request names, on the backtester's clock, and the result."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

from shared_utils.backtest.markets import HistoricalMarket, MinuteBars, SimulatedMarket
from shared_utils.backtest.results import BacktestResult
from shared_utils.backtest.runner import Backtester, BacktestRequest, DayMarket, MarketSource, trading_days
from shared_utils.clock import FixedClock
from shared_utils.errors import InvalidInputError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.models.common import Product
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.views import StrategyDetail

# The forward's and Black-76's annual rate for imported bars (the live default, settings.py).
DEFAULT_RATE = 0.065


def run_backtest(
    details: Sequence[StrategyDetail],
    request: BacktestRequest,
    *,
    calendar: TradingCalendar | None = None,
    specs: SpecTable | None = None,
    bars: MinuteBars | None = None,
    rate: float = DEFAULT_RATE,
    progress: Callable[[date], None] | None = None,
    workers: int = 1,
    portfolio: PortfolioRules | None = None,
) -> BacktestResult:
    """`bars`: the imported minute bars, required (and only used) for a HISTORICAL request.
    `portfolio`: the baskets' and the user's portfolio rules, judged every minute as live.
    `workers` > 1: intraday strategies (every one MIS, squared off before the close) start each
    day flat, so runs of consecutive days go to that many processes side by side and their days
    are put together; if a position was still open at the end of a run (a square-off that could
    not be placed), the days were not independent after all and everything runs again in order."""
    calendar = calendar or TradingCalendar.default()
    specs = specs or default_specs()
    if request.market is MarketSource.HISTORICAL and bars is None:
        raise InvalidInputError("a HISTORICAL backtest needs imported minute bars (import-history)")
    setup = _Setup(details, request, calendar, specs, bars, rate, portfolio)
    days = list(trading_days(calendar, request.start, request.end))
    intraday = all(detail.strategy.product is Product.MIS for detail in details)
    if workers > 1 and intraday and len(days) >= MIN_DAYS_PER_WORKER * 2:
        chunks = _split(days, workers)
        with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_run_days, [setup] * len(chunks), chunks))
        if not any(carried for _result, carried in parts[:-1]):
            merged = [day for result, _carried in parts for day in result.days]
            warnings = [warning for result, _carried in parts for warning in result.warnings]
            first = parts[0][0]
            return BacktestResult.of(
                merged, request=first.request, strategies=first.strategies, warnings=warnings
            )
    return setup.backtester(progress).run(days)


# Fewer days than this per process cost more to start than they save.
MIN_DAYS_PER_WORKER = 5


@dataclass(frozen=True)
class _Setup:
    """What a process needs to build the backtester (sent to each worker)."""

    details: Sequence[StrategyDetail]
    request: BacktestRequest
    calendar: TradingCalendar
    specs: SpecTable
    bars: MinuteBars | None
    rate: float
    portfolio: PortfolioRules | None = None

    def backtester(self, progress: Callable[[date], None] | None = None) -> Backtester:
        def market(clock: FixedClock) -> DayMarket:
            if self.request.market is MarketSource.HISTORICAL:
                assert self.bars is not None
                return HistoricalMarket(
                    clock, self.bars, rate=self.rate, calendar=self.calendar, specs=self.specs
                )
            return SimulatedMarket(clock, seed=self.request.seed, calendar=self.calendar, specs=self.specs)

        return Backtester(
            self.details,
            self.request,
            market,
            calendar=self.calendar,
            specs=self.specs,
            progress=progress,
            portfolio=self.portfolio,
        )


def _run_days(setup: _Setup, days: list[date]) -> tuple[BacktestResult, bool]:
    backtester = setup.backtester()
    result = backtester.run(days)
    return result, backtester.carried_over


def _split(days: list[date], parts: int) -> list[list[date]]:
    """Consecutive runs of days, as even as they come."""
    parts = max(1, min(parts, len(days) // MIN_DAYS_PER_WORKER))
    size, extra = divmod(len(days), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(days[start:end])
        start = end
    return chunks
