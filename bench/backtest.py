"""Backtests on the simulated market: one 4-leg intraday strategy over a year of trading days,
and ten strategies over the same year. Prints each case's wall time, trading days, minutes
per second and peak memory (max RSS of a child process per case, so one case's
memory is not the other's; with several processes, the largest of them). Intraday strategies'
days are split over `--workers` processes (default: one per core).

    .venv/bin/python bench/backtest.py [--start 2025-12-01] [--end 2026-11-30] [--cases one,ten]

The issue's goals on this 2-core machine: one strategy under 10 s, ten under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATES = ["IRON_CONDOR", "SHORT_STRANGLE", "SHORT_STRADDLE", "BULL_CALL_SPREAD", "BEAR_PUT_SPREAD"]
UNDERLYINGS = ["NIFTY", "BANKNIFTY", "SENSEX", "FINNIFTY", "MIDCPNIFTY"]
WEEKLIES = {"NIFTY", "SENSEX"}


def strategies(count: int) -> list[dict[str, object]]:
    """`count` intraday strategies: the first an iron condor on NIFTY with a leg stop-loss and an
    MTM stop-loss and target (so every minute's check has rules to judge), the rest varied."""
    from shared_utils.models.strategy import ExpirySelection
    from shared_utils.templates import TemplateName, template_legs

    made: list[dict[str, object]] = []
    for n in range(count):
        template = TemplateName(TEMPLATES[n % len(TEMPLATES)])
        underlying = UNDERLYINGS[n % len(UNDERLYINGS)]
        # NIFTY and SENSEX list weeklies; the others only monthlies (contract specs).
        expiry = ExpirySelection.CURRENT_WEEKLY if underlying in WEEKLIES else ExpirySelection.CURRENT_MONTHLY
        legs = [leg.model_dump(mode="json") for leg in template_legs(template, expiry)]
        for leg in legs:
            if leg["action"] == "SELL":
                leg["stop_loss"] = {"kind": "PERCENT", "value": 60}
        made.append(
            {
                "strategy": {
                    "name": f"{template.value.replace('_', ' ').title()} {n + 1}",
                    "underlying": underlying,
                    "legs": legs,
                    "entry": {"time": f"09:{20 + n % 10}", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
                    "exit": {"time": "15:15"},
                    "risk": {"mtm_stop_loss": 15000, "mtm_target": 12000},
                },
                "allocations": [{"broker_account_id": "paper-1", "broker": "PAPER", "lots": 1}],
            }
        )
    return made


def run_case(count: int, start: date, end: date, workers: int) -> dict[str, object]:
    """One case in this process (the child): the backtest and its figures."""
    from local_platform.environment import export_client_environment

    export_client_environment("ERROR")
    from shared_utils.backtest.runner import BacktestRequest
    from shared_utils.backtest.service import run_backtest
    from shared_utils.backtest.strategy_file import details_from_file

    details = details_from_file(
        json.dumps({"strategies": strategies(count)}), datetime(2025, 1, 1, tzinfo=UTC)
    )
    began = time.perf_counter()
    result = run_backtest(details, BacktestRequest(start=start, end=end), workers=workers)
    wall = time.perf_counter() - began
    return {
        "strategies": count,
        "trading_days": result.summary.trading_days,
        "days_traded": result.summary.days_traded,
        "fills": sum(len(day.fills) for day in result.days),
        "notes": sum(len(day.notes) for day in result.days),
        "wall_s": round(wall, 2),
        "days_per_s": round(result.summary.trading_days / wall, 1),
        "peak_rss_mib": round(
            max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            / 1024,
            1,
        ),
        "net_pnl": str(result.summary.net_pnl),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2025-12-01")
    parser.add_argument("--end", default="2026-11-30")
    parser.add_argument("--cases", default="one,ten")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (intraday days split)"
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    if args.child is not None:
        print(json.dumps(run_case(args.child, start, end, args.workers)))
        return
    goals = {"one": (1, 10.0), "ten": (10, 60.0)}
    print(f"Backtests on the simulated market, {start} to {end}, {args.workers} process(es)")
    for case in args.cases.split(","):
        count, goal = goals[case]
        command = [sys.executable, __file__, "--start", args.start, "--end", args.end]
        out = subprocess.run(
            [*command, "--workers", str(args.workers), "--child", str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {count:>2} strateg{'y' if count == 1 else 'ies'}: {figures['wall_s']:>6} s "
            f"(goal < {goal:.0f} s), {figures['trading_days']} days ({figures['days_per_s']}/s), "
            f"{figures['fills']} fills, {figures['notes']} notes, peak RSS {figures['peak_rss_mib']} MiB, "
            f"net {figures['net_pnl']}"
        )


if __name__ == "__main__":
    main()
