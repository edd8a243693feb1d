"""`backtest` and `import-history`: the backtester on this machine. Strategies come from a JSON
file (docs/backtesting.md) or are the demo baskets' strategies; results go to a new run
directory (result.json and report.html), never over an earlier run's."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from local_platform import console
from local_platform.demo import DEMO_BASKETS, strategy_body
from shared_utils.backtest.report import render_html
from shared_utils.backtest.results import BacktestResult
from shared_utils.backtest.runner import BacktestRequest, MarketSource
from shared_utils.backtest.service import run_backtest
from shared_utils.backtest.strategy_file import FileAllocation, FileStrategy, details_of, read_strategy_file
from shared_utils.clock import IST
from shared_utils.models.strategy import StrategyCreate
from shared_utils.models.views import StrategyDetail


def demo_details(created_at: datetime) -> list[StrategyDetail]:
    """The demo baskets' strategies, with their lots on paper accounts named after the brokers."""
    entries = [
        FileStrategy(
            strategy=StrategyCreate.model_validate(strategy_body(demo)),
            allocations=[
                FileAllocation(broker_account_id=broker.lower(), broker=broker, lots=lots)
                for broker, lots in demo.lots.items()
            ],
        )
        for basket in DEMO_BASKETS
        for demo in basket.strategies
    ]
    return details_of(entries, created_at)


def next_backtest_dir(root: Path) -> Path:
    taken = [int(p.name[4:]) for p in root.glob("run-[0-9][0-9][0-9]") if p.name[4:].isdigit()]
    return root / f"run-{max(taken, default=0) + 1:03d}"


def backtest(
    request: BacktestRequest,
    strategies_file: Path | None,
    out_dir: Path,
    history_dir: Path | None,
) -> BacktestResult:
    created_at = datetime.combine(request.start, datetime.min.time(), tzinfo=IST)
    portfolio = None
    if strategies_file is not None:
        parsed = read_strategy_file(strategies_file.read_text(encoding="utf-8"))
        details, portfolio = details_of(parsed.strategies, created_at), parsed.portfolio.rules()
    else:
        details = demo_details(created_at)
    bars = None
    if request.market is MarketSource.HISTORICAL:
        from shared_utils.market_data.history.quotes import HistoricalQuotes

        bars = HistoricalQuotes(history_dir or Path("history"))
    console.say(
        f"Backtesting {len(details)} strategies from {request.start} to {request.end} "
        f"on the {request.market.value.lower()} market ..."
    )
    started = time.perf_counter()
    result = run_backtest(
        details,
        request,
        bars=bars,
        progress=_MonthlyProgress(),
        workers=os.cpu_count() or 1,
        portfolio=portfolio,
    )
    result = result.model_copy(update={"elapsed_seconds": round(time.perf_counter() - started, 2)})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(result), encoding="utf-8")
    summary = result.summary
    console.say(
        f"{summary.trading_days} days, net {summary.net_pnl} (gross {summary.gross_pnl}, charges "
        f"{summary.charges}), max drawdown {summary.max_drawdown}, {result.elapsed_seconds} s"
    )
    for warning in result.warnings[:10]:
        console.warn(f"  {warning}")
    console.say(f"Report: {out_dir / 'report.html'} (result: {out_dir / 'result.json'})")
    return result


class _MonthlyProgress:
    """A line at the first trading day of each month (run in order; split runs say nothing)."""

    def __init__(self) -> None:
        self._month: tuple[int, int] | None = None

    def __call__(self, day: date) -> None:
        if (day.year, day.month) != self._month:
            self._month = (day.year, day.month)
            console.say(f"  {day:%Y-%m} ...")


def import_history(files: Sequence[Path], store: Path, now: datetime) -> int:
    from shared_utils.market_data.history.importer import import_history as run_import

    report = run_import(files, store, now=now)
    console.say(json.dumps(json.loads(report.model_dump_json()), indent=2))
    return 0
