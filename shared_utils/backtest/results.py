"""A backtest's results: each simulated day's fills and P&L, and the figures a trader reads from
them (`summarise`, a pure function).

Definitions, used by every figure:
- a day's net P&L is its gross P&L (realised that day, before charges) less its charges;
- a traded day has at least one fill. A win is a traded day with net > 0, a loss a traded day with
  net < 0; a traded day with net == 0 is neither, but counts among the days traded (the win rate's
  denominator and the expectancy's);
- the equity curve is the cumulative net P&L at the end of each day, from 0 before the first day.
  Drawdown is measured on it, peak to trough, so a dip within a day that recovers by the close
  is not seen.

Money is summed exactly in Decimal and rounded to the paisa (half up) only in the summary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from shared_utils.market.options import Action

PAISA = Decimal("0.01")
WIN_RATE_PLACES = Decimal("0.0001")
WORST_DAYS = 5
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TRADING_WEEKDAYS = WEEKDAYS[:5]

DayNet = tuple[date, Decimal]


def _money(value: Decimal) -> Decimal:
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


class BacktestFill(BaseModel):
    """One simulated fill of one leg on one broker account."""

    model_config = ConfigDict(frozen=True)

    strategy_id: str
    leg_no: int = Field(ge=1)
    broker_account_id: str
    instrument: str  # UNDERLYING|YYYY-MM-DD|STRIKE|CE or PE, e.g. NIFTY|2026-11-24|24000|CE
    side: Action
    quantity: int = Field(ge=1)
    price: Decimal = Field(ge=0)  # the fill price, slippage included
    at: AwareDatetime
    run: str  # what placed it: ENTRY, EXIT, STOP_LOSS, ...
    charges: Decimal = Field(ge=0)


class DayOutcome(BaseModel):
    """One simulated trading day: per strategy its gross P&L (realised that day, before charges)
    and its charges, every fill, and notes such as a strategy not entered and why."""

    model_config = ConfigDict(frozen=True)

    day: date
    pnl_by_strategy: dict[str, Decimal]
    charges_by_strategy: dict[str, Decimal] = Field(default_factory=dict)
    fills: list[BacktestFill] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    index_close: dict[str, Decimal] = Field(default_factory=dict)  # underlying -> close

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gross_pnl(self) -> Decimal:
        return sum(self.pnl_by_strategy.values(), Decimal(0))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def charges(self) -> Decimal:
        return sum(self.charges_by_strategy.values(), Decimal(0))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.charges

    @property
    def traded(self) -> bool:
        return bool(self.fills)


class BacktestSummary(BaseModel):
    """What a trader reads from a backtest; money in rupees rounded to the paisa. The module
    docstring defines a traded day, a win, a loss and the drawdown."""

    model_config = ConfigDict(frozen=True)

    start: date | None  # the first day simulated; None when no day was
    end: date | None
    trading_days: int  # days simulated
    days_traded: int  # days with at least one fill
    winning_days: int
    losing_days: int
    net_pnl: Decimal
    gross_pnl: Decimal
    charges: Decimal
    # The largest fall of the equity curve from a running peak, in rupees (>= 0).
    max_drawdown: Decimal
    # The last day at that peak before the trough; None when there is no drawdown, or when the peak
    # is the opening equity of 0 (the curve fell from the first day on).
    max_drawdown_peak: date | None
    max_drawdown_trough: date | None  # the day of the lowest equity after that peak
    recovered_on: date | None  # the first day after the trough at or above the peak; None if never
    win_rate: Decimal | None  # winning days / days traded, 4 places; None when no day traded
    average_win: Decimal | None  # mean net of the winning days; None when none
    average_loss: Decimal | None  # mean net of the losing days (negative); None when none
    expectancy: Decimal | None  # mean net per day traded; None when no day traded
    best_day: DayNet | None  # the traded day of the highest net (the earliest of equals)
    worst_day: DayNet | None  # the traded day of the lowest net (the earliest of equals)
    pnl_by_weekday: dict[str, Decimal]  # Mon..Fri always, Sat/Sun when a day fell on them -> net
    pnl_by_month: dict[str, Decimal]  # YYYY-MM -> net, in order
    pnl_by_strategy: dict[str, Decimal]  # strategy id -> net (its own charges deducted)
    gross_by_strategy: dict[str, Decimal]
    charges_by_strategy: dict[str, Decimal]
    equity_curve: list[DayNet]  # cumulative net at the end of each day
    daily: list[DayNet]  # each day's net
    worst_days: list[DayOutcome]  # the WORST_DAYS traded days of the lowest net, worst first


class BacktestResult(BaseModel):
    """What was run (`request`, as the caller gave it: strategies, date range, market data,
    slippage), the names of the strategies, the summary and every day."""

    request: dict[str, Any]
    strategies: dict[str, str]  # strategy id -> display name
    summary: BacktestSummary
    days: list[DayOutcome]
    warnings: list[str] = Field(default_factory=list)
    elapsed_seconds: float | None = None

    @classmethod
    def of(
        cls,
        days: Sequence[DayOutcome],
        *,
        request: dict[str, Any],
        strategies: dict[str, str],
        warnings: Sequence[str] = (),
        elapsed_seconds: float | None = None,
    ) -> BacktestResult:
        """The result of these days, summarised, in date order."""
        ordered = sorted(days, key=lambda outcome: outcome.day)
        return cls(
            request=request,
            strategies=strategies,
            summary=summarise(ordered),
            days=ordered,
            warnings=list(warnings),
            elapsed_seconds=elapsed_seconds,
        )


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return _money(sum(values, Decimal(0)) / len(values)) if values else None


def _drawdown(
    curve: Sequence[DayNet],
) -> tuple[Decimal, date | None, date | None, date | None]:
    """(max drawdown, peak day, trough day, recovery day) of an exact end-of-day equity curve that
    starts from 0. The first of equal drawdowns is the one reported."""
    peak, peak_day = Decimal(0), None
    drawdown, at_peak, trough, peak_of_drawdown = Decimal(0), None, None, Decimal(0)
    for day, equity in curve:
        if equity >= peak:
            peak, peak_day = equity, day
        elif peak - equity > drawdown:
            drawdown, at_peak, trough, peak_of_drawdown = peak - equity, peak_day, day, peak
    if trough is None:
        return Decimal(0), None, None, None
    recovered = next((day for day, equity in curve if day > trough and equity >= peak_of_drawdown), None)
    return drawdown, at_peak, trough, recovered


def summarise(days: Sequence[DayOutcome]) -> BacktestSummary:
    """The figures of a backtest from its days (in any order; one outcome per day)."""
    ordered = sorted(days, key=lambda outcome: outcome.day)
    for before, after in pairwise(ordered):
        if before.day == after.day:
            raise ValueError(f"two outcomes for {before.day.isoformat()}")
    traded = [outcome for outcome in ordered if outcome.traded]
    wins = [outcome.net_pnl for outcome in traded if outcome.net_pnl > 0]
    losses = [outcome.net_pnl for outcome in traded if outcome.net_pnl < 0]

    curve: list[DayNet] = []
    equity = Decimal(0)
    by_weekday: dict[str, Decimal] = dict.fromkeys(TRADING_WEEKDAYS, Decimal(0))
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    gross_by_strategy: dict[str, Decimal] = defaultdict(Decimal)
    charges_by_strategy: dict[str, Decimal] = defaultdict(Decimal)
    for outcome in ordered:
        equity += outcome.net_pnl
        curve.append((outcome.day, equity))
        weekday = WEEKDAYS[outcome.day.weekday()]
        by_weekday[weekday] = by_weekday.get(weekday, Decimal(0)) + outcome.net_pnl
        by_month[f"{outcome.day:%Y-%m}"] += outcome.net_pnl
        for strategy_id, pnl in outcome.pnl_by_strategy.items():
            gross_by_strategy[strategy_id] += pnl
        for strategy_id, charges in outcome.charges_by_strategy.items():
            charges_by_strategy[strategy_id] += charges
    drawdown, peak, trough, recovered = _drawdown(curve)
    strategy_ids = sorted(set(gross_by_strategy) | set(charges_by_strategy))
    by_net = sorted(traded, key=lambda outcome: (outcome.net_pnl, outcome.day))
    best = min(traded, key=lambda outcome: (-outcome.net_pnl, outcome.day), default=None)
    gross = sum((outcome.gross_pnl for outcome in ordered), Decimal(0))
    charges = sum((outcome.charges for outcome in ordered), Decimal(0))
    return BacktestSummary(
        start=ordered[0].day if ordered else None,
        end=ordered[-1].day if ordered else None,
        trading_days=len(ordered),
        days_traded=len(traded),
        winning_days=len(wins),
        losing_days=len(losses),
        net_pnl=_money(gross - charges),
        gross_pnl=_money(gross),
        charges=_money(charges),
        max_drawdown=_money(drawdown),
        max_drawdown_peak=peak,
        max_drawdown_trough=trough,
        recovered_on=recovered,
        win_rate=(Decimal(len(wins)) / len(traded)).quantize(WIN_RATE_PLACES, rounding=ROUND_HALF_UP)
        if traded
        else None,
        average_win=_mean(wins),
        average_loss=_mean(losses),
        expectancy=_mean([outcome.net_pnl for outcome in traded]),
        best_day=(best.day, _money(best.net_pnl)) if best else None,
        worst_day=(by_net[0].day, _money(by_net[0].net_pnl)) if by_net else None,
        pnl_by_weekday={name: _money(by_weekday[name]) for name in WEEKDAYS if name in by_weekday},
        pnl_by_month={month: _money(net) for month, net in sorted(by_month.items())},
        pnl_by_strategy={
            sid: _money(gross_by_strategy[sid] - charges_by_strategy[sid]) for sid in strategy_ids
        },
        gross_by_strategy={sid: _money(gross_by_strategy[sid]) for sid in strategy_ids},
        charges_by_strategy={sid: _money(charges_by_strategy[sid]) for sid in strategy_ids},
        equity_curve=[(day, _money(value)) for day, value in curve],
        daily=[(outcome.day, _money(outcome.net_pnl)) for outcome in ordered],
        worst_days=by_net[:WORST_DAYS],
    )
