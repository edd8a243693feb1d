"""`simulate --date D`: a whole session, pre-open to close, in seconds, through the same emitter,
handlers, execution engine and paper brokers, then a report directory (summary.json, report.html).

The composition root runs on a replay clock that jumps to each tick, so everything the handlers
stamp (execution records, order ledger, quote expiries) carries the simulated time. With a live
`make run` in the same data directory the session runs against its tables (the API then shows
the executions); otherwise against DynamoDB in this process (moto's backend, no server).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from aws_lambda_powertools import Logger

from local_platform import console
from local_platform.accounts import ensure_paper_accounts
from local_platform.backend import create_tables, dynamodb
from local_platform.clocks import ReplayClock
from local_platform.demo import ensure_demo_baskets
from local_platform.environment import export_runtime_settings, local_settings
from local_platform.inprocess import InProcessApi
from local_platform.inprocess_dynamodb import in_process_dynamodb
from local_platform.report import write_report
from local_platform.root import one_process_root
from local_platform.session_log import SessionLog
from local_platform.timer import LocalPublisher, RuleRouter, TimerLoop
from shared_utils.clock import to_ist
from shared_utils.composition import Platform, install
from shared_utils.execution.marking import mark_positions
from shared_utils.execution.models import ExecutionRecord, PositionView
from shared_utils.market_data.cache import QuoteCache
from shared_utils.timer.emitter import EmitResult

logger = Logger(service="local-platform", child=False)

SETUP_LEAD = timedelta(minutes=10)
PNL_SAMPLE_MINUTES = 5


def strategy_pnl(positions: list[PositionView]) -> dict[str, Decimal]:
    """Realised + marked unrealised P&L per strategy, as the execution store values positions."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for position in positions:
        totals[position.strategy_id] += position.realised_pnl + (position.unrealised_pnl or Decimal("0"))
    return dict(totals)


@contextmanager
def _backend(live_endpoint: str | None, clock: ReplayClock) -> Iterator[Platform]:
    """The running platform's endpoint, or DynamoDB in this process (moto without its server:
    a function call per request instead of an HTTP/1.0 exchange, every call behind one lock).
    The process's composition root runs on the replay clock while the session lasts."""
    previous = None
    with ExitStack() as stack:
        settings = local_settings(live_endpoint)
        if live_endpoint is not None:
            client = dynamodb(live_endpoint)
        else:
            client = stack.enter_context(in_process_dynamodb())
            create_tables(client, settings)
        export_runtime_settings(settings)
        root = one_process_root(settings, clock, dynamodb=client, wait_for_runs=True)
        previous = install(root)
        try:
            yield root
        finally:
            install(previous)


def simulate(
    day: date, report_dir: Path, user_id: str, live_endpoint: str | None, handler_log: TextIO | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    # The demo set-up happens shortly before the session, on the same replayed day.
    clock = ReplayClock(datetime.combine(day, datetime.min.time(), tzinfo=UTC))
    with _backend(live_endpoint, clock) as root:
        market = root.market_view()
        first_tick, close = market.session_bounds(day)
        clock.move_to(first_tick - SETUP_LEAD)
        settings = root.settings
        ensure_paper_accounts(root.dynamodb, settings.broker_accounts_table_name, user_id, clock.now())
        created = ensure_demo_baskets(InProcessApi(user_id), user_id)
        if created:
            console.say(f"created {len(created)} demo baskets for {user_id}")
        log = SessionLog(users={user_id})
        store = root.execution_store
        prices = root.option_market
        quotes = QuoteCache(root.dynamodb, settings.trading_table_name)
        underlyings = sorted(
            {s["underlying"] for s in InProcessApi(user_id).call("GET", "/options/strategies")["items"]}
        )

        def marked(user: str) -> list[PositionView]:
            """The user's positions of this day (a data directory keeps every session's)."""
            return mark_positions([p for p in store.positions(user) if p.entry_date == day], prices)

        def sample(result: EmitResult) -> None:
            log.ticks += 1
            tick = result.handled_tick
            if tick is None or (to_ist(tick).minute % PNL_SAMPLE_MINUTES and result.continue_):
                return
            label = f"{to_ist(tick):%H:%M}"
            for user in sorted(log.users):
                for strategy_id, pnl in strategy_pnl(marked(user)).items():
                    log.pnl[strategy_id].append((label, float(pnl)))
            for underlying in underlyings:
                quote = quotes.get(underlying, clock.now())
                if quote is not None:
                    log.index[underlying].append((label, float(quote.last_price)))

        clock.move_to(first_tick)
        loop = TimerLoop(LocalPublisher(RuleRouter(stdout=handler_log), log.delivery), clock, on_tick=sample)
        results = loop.run_session(first_tick)
        wall = time.perf_counter() - started
        records = _records(store, sorted(log.users), day)
        positions = {user: mark_positions(store.positions(user), prices) for user in sorted(log.users)}
        strategies = {
            user: InProcessApi(user).call("GET", "/options/strategies", query={"limit": "100"})["items"]
            for user in sorted(log.users)
        }
        summary = write_report(
            report_dir,
            day=day,
            first_tick=first_tick,
            close=close,
            wall_seconds=wall,
            results=results,
            log=log,
            records=records,
            positions=positions,
            strategies=strategies,
            calendar={
                "provisional": market.calendar.is_provisional(day),
                "confirmed_until": market.calendar.confirmed_until(),
            },
        )
    return summary


def _records(store: Any, users: list[str], day: date) -> list[ExecutionRecord]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - timedelta(hours=6)
    end = start + timedelta(days=1, hours=12)
    records: list[ExecutionRecord] = []
    for user in users:
        token = None
        while True:
            page, token = store.list_records(user, start, end, limit=100, next_token=token)
            records.extend(r for r in page if r.trade_date == day)
            if token is None:
                break
    return sorted(records, key=lambda r: (r.started_at, r.user_id, r.strategy_id))
