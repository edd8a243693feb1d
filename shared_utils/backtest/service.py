"""One entry point for every way a backtest is started (the CLI, the API's job): the market the
request names, on the backtester's clock, and the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from shared_utils.backtest.markets import HistoricalMarket, MinuteBars, SimulatedMarket
from shared_utils.backtest.results import BacktestResult
from shared_utils.backtest.runner import Backtester, BacktestRequest, DayMarket, MarketSource
from shared_utils.clock import FixedClock
from shared_utils.errors import InvalidInputError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable, default_specs
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
) -> BacktestResult:
    """`bars`: the imported minute bars, required (and only used) for a HISTORICAL request."""
    calendar = calendar or TradingCalendar.default()
    specs = specs or default_specs()
    if request.market is MarketSource.HISTORICAL and bars is None:
        raise InvalidInputError("a HISTORICAL backtest needs imported minute bars (import-history)")

    def market(clock: FixedClock) -> DayMarket:
        if request.market is MarketSource.HISTORICAL:
            assert bars is not None
            return HistoricalMarket(clock, bars, rate=rate, calendar=calendar, specs=specs)
        return SimulatedMarket(clock, seed=request.seed, calendar=calendar, specs=specs)

    return Backtester(details, request, market, calendar=calendar, specs=specs, progress=progress).run()
