"""`python -m local_platform run | token | simulate | backtest | import-history`."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path

from local_platform import console
from local_platform.clocks import AcceleratedClock, LoopClock, ReplayClock, WallClock
from local_platform.environment import DEFAULT_DATA_DIR, export_client_environment, requested_port
from local_platform.sessions import NoSessionError, parse_trade_date, require_session
from shared_utils.clock import IST, to_ist
from shared_utils.market.calendar import TradingCalendar
from shared_utils.timer.calendar_view import CalendarMarketView

EXIT_OK = 0
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_platform", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state and token secret")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve the whole platform on this machine")
    run.add_argument("--port", type=int, default=None, help="HTTP API port (default: PORT or 8000)")
    run.add_argument("--speed", type=float, default=None, help="accelerated clock: N times real time")
    run.add_argument("--date", default=None, help="replay the session of YYYY-MM-DD")
    run.add_argument(
        "--at", default=None, help="with --date: start the replay at HH:MM IST (default: its first tick)"
    )
    run.add_argument("--no-timer", action="store_true", help="serve the API only")
    run.add_argument("--log-level", default="WARNING", help="handlers' Powertools log level")

    token = commands.add_parser("token", help="print a bearer token for a local user")
    token.add_argument("--user", required=True, help="user id (the token's sub)")
    token.add_argument("--admin", action="store_true", help="member of the admin group")

    simulate = commands.add_parser("simulate", help="run a whole session in seconds and write a report")
    simulate.add_argument("--date", required=True, help="trade date YYYY-MM-DD (a session day)")
    simulate.add_argument("--user", default="demo", help="user whose demo baskets are created if none exist")
    simulate.add_argument(
        "--report-dir", type=Path, default=None, help="default: a new <data-dir>/reports/<date>/run-NNN"
    )
    simulate.add_argument("--log-level", default="ERROR", help="handlers' Powertools log level")

    backtest = commands.add_parser(
        "backtest", help="run strategies over a range of days (docs/backtesting.md)"
    )
    backtest.add_argument("--from", dest="start", required=True, help="first day YYYY-MM-DD")
    backtest.add_argument("--to", dest="end", required=True, help="last day YYYY-MM-DD")
    backtest.add_argument(
        "--strategies", type=Path, default=None, help="JSON file of strategies (default: the demo baskets')"
    )
    backtest.add_argument("--market", choices=["simulated", "historical"], default="simulated")
    backtest.add_argument(
        "--history", type=Path, default=None, help="imported bars (default <data-dir>/history)"
    )
    backtest.add_argument("--seed", type=int, default=None, help="the simulated market's seed")
    backtest.add_argument("--slippage-bps", default="5", help="fills move this far against the trader")
    backtest.add_argument("--brokerage", default="20", help="rupees per executed order")
    backtest.add_argument(
        "--out", type=Path, default=None, help="default: a new <data-dir>/backtests/run-NNN"
    )
    backtest.add_argument("--log-level", default="ERROR", help="Powertools log level")

    history = commands.add_parser("import-history", help="import minute bars (CSV/Parquet) for backtests")
    history.add_argument("files", nargs="+", type=Path)
    history.add_argument("--store", type=Path, default=None, help="default: <data-dir>/history")
    return parser


def _clock(
    date_arg: str | None, speed: float | None, calendar: TradingCalendar, at: str | None = None
) -> LoopClock:
    if speed is not None and speed <= 0:
        raise NoSessionError("--speed must be a positive number")
    if date_arg is None:
        if at is not None:
            raise NoSessionError("--at needs --date (the session to replay)")
        return WallClock() if speed is None else AcceleratedClock(datetime.now(UTC), speed)
    day = parse_trade_date(date_arg)
    require_session(day, calendar)
    first_tick, close = CalendarMarketView(calendar).session_bounds(day)
    if at is not None:
        try:
            hours, minutes = (int(part) for part in at.split(":"))
            start = datetime.combine(day, time(hours, minutes), tzinfo=IST).astimezone(UTC)
        except ValueError:
            raise NoSessionError(f"--at {at!r} is not a time HH:MM") from None
        if not first_tick <= start < close:
            raise NoSessionError(
                f"--at {at} is outside the session of {day.isoformat()} "
                f"({to_ist(first_tick):%H:%M}-{to_ist(close):%H:%M} IST)"
            )
        first_tick = start
    return ReplayClock(first_tick) if speed is None else AcceleratedClock(first_tick, speed)


def _run(args: argparse.Namespace) -> int:
    export_client_environment(args.log_level.upper())
    from local_platform.runner import PortInUseError, run

    calendar = TradingCalendar.default()
    try:
        clock = _clock(args.date, args.speed, calendar, args.at)
        port = args.port if args.port is not None else requested_port()
    except (NoSessionError, ValueError) as error:
        console.warn(f"error: {error}")
        return EXIT_USAGE
    if not 0 < port < 65536:
        console.warn(f"error: port {port} is not a valid port: choose 1-65535 with --port N")
        return EXIT_USAGE
    try:
        return run(port, args.data_dir, clock, args.log_level.upper(), timer=not args.no_timer)
    except PortInUseError as error:
        console.warn(f"error: {error}")
        return EXIT_USAGE


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _token(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from local_platform.accounts import ensure_paper_accounts
    from local_platform.backend import dynamodb
    from local_platform.environment import local_settings
    from local_platform.identity import LocalUser, issue_token
    from local_platform.state import read_state

    try:
        user = LocalUser(user_id=args.user, admin=args.admin)
    except ValidationError:
        console.warn("error: --user must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
        return EXIT_USAGE
    state = read_state(args.data_dir)
    if state is None or not _reachable(state.dynamodb_endpoint):
        console.warn(
            f"error: the local platform is not running (no live state in {args.data_dir}): start it "
            "with `make run` (or python -m local_platform run) and ask again"
        )
        return EXIT_USAGE
    export_client_environment()
    now = datetime.now(UTC)
    settings = local_settings(state.dynamodb_endpoint)
    _accounts, created = ensure_paper_accounts(
        dynamodb(state.dynamodb_endpoint), settings.broker_accounts_table_name, user.user_id, now
    )
    if created:
        console.warn(f"created paper broker accounts for {user.user_id}: {', '.join(created)}")
    console.say(issue_token(user, state.token_secret, now))
    return EXIT_OK


def next_run_dir(day_dir: Path) -> Path:
    """The day's next run directory (run-001, run-002 ...): a session never overwrites another's
    report."""
    taken = [int(p.name[4:]) for p in day_dir.glob("run-[0-9][0-9][0-9]") if p.name[4:].isdigit()]
    return day_dir / f"run-{max(taken, default=0) + 1:03d}"


def _simulate(args: argparse.Namespace) -> int:
    from local_platform.state import read_state

    try:
        day = parse_trade_date(args.date)
        require_session(day, TradingCalendar.default())
    except NoSessionError as error:
        console.warn(f"error: {error}")
        return EXIT_USAGE
    export_client_environment(args.log_level.upper())
    from local_platform.simulate import simulate

    state = read_state(args.data_dir)
    live = state.dynamodb_endpoint if state is not None and _reachable(state.dynamodb_endpoint) else None
    report_dir = args.report_dir or next_run_dir(args.data_dir / "reports" / day.isoformat())
    where = f"the running platform ({state.api_url})" if live and state else "DynamoDB in this process"
    console.say(f"Simulating {day.isoformat()} against {where} ...")
    report_dir.mkdir(parents=True, exist_ok=True)
    with (report_dir / "handlers.log").open("w") as handler_log:
        summary = simulate(day, report_dir, args.user, live, handler_log)
    fills = summary["fills"]
    console.say(
        f"{summary['ticks']} ticks, {sum(summary['events']['by_type'].values())} events delivered, "
        f"{len(summary['executions'])} executions, {fills['orders']} orders ({fills['filled']} filled), "
        f"{len(summary['handler_errors'])} handler errors, {summary['wall_seconds']} s"
    )
    outcomes = ", ".join(
        f"{count} {status}" for status, count in sorted(summary["execution_outcomes"].items())
    )
    console.say(f"  executions: {outcomes or 'none'}")
    for run in summary["executions"]:
        if run["status"] != "COMPLETE":
            console.warn(f"  {run['strategy']} {run['action']} {run['status']}: {run['reason']}")
    if summary["calendar"]["provisional"]:
        console.warn(
            f"  provisional calendar: no official holiday list for {day.year} "
            f"(official data ends {summary['calendar']['confirmed_until']})"
        )
    for broker, count in sorted(summary["orders_per_broker"].items()):
        console.say(f"  {broker}: {count} orders")
    console.say(f"Report: {report_dir / 'report.html'} (summary: {report_dir / 'summary.json'})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "token":
        return _token(args)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "backtest":
        return _backtest(args)
    if args.command == "import-history":
        return _import_history(args)
    return EXIT_USAGE


def _backtest(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from shared_utils.backtest.runner import BacktestRequest, MarketSource
    from shared_utils.errors import DomainError

    export_client_environment(args.log_level.upper())
    from local_platform.backtest import backtest, next_backtest_dir

    try:
        request = BacktestRequest(
            start=args.start,
            end=args.end,
            market=MarketSource(args.market.upper()),
            seed=args.seed,
            slippage_bps=args.slippage_bps,
            brokerage_per_order=args.brokerage,
        )
        out = args.out or next_backtest_dir(args.data_dir / "backtests")
        backtest(request, args.strategies, out, args.history or args.data_dir / "history")
    except (ValidationError, DomainError, OSError) as error:
        console.warn(f"error: {error}")
        for issue in getattr(error, "details", [])[:10]:
            console.warn(f"  {issue.field}: {issue.issue}")
        return EXIT_USAGE
    return EXIT_OK


def _import_history(args: argparse.Namespace) -> int:
    from local_platform.backtest import import_history
    from shared_utils.errors import DomainError

    try:
        return import_history(args.files, args.store or args.data_dir / "history", WallClock().now())
    except (DomainError, OSError) as error:
        console.warn(f"error: {error}")
        return EXIT_USAGE
