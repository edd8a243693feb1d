"""Bounded load in process: a trading session of N ticks x M strategies, then an API burst.

Session: the local master timer (the same `emit_tick`, EventBridge rule routing and the four
handler modules) runs minute by minute from the session's first tick (09:00 IST; a run shorter
than a session starts at 09:15 IST) on the composition root's replay clock. M iron
condors (4 legs, one paper account each, spread over users of 10 strategies) enter in the first
half of the window and exit on schedule in the
second, through the real schedule trigger, execution engine, ledger and paper brokers, on
in-process moto (calls serialised by one lock: moto is not thread-safe for transactions).

API burst: R requests through the WSGI adapter (`ProxyEventWsgiApp`, the local platform's API),
mixing listings, details, creations, versioned updates (some deliberately stale: 409) and the
execution history; latency per request.

Invariants (the figures are only worth something if these hold): no handler error and no 5xx;
exactly one order at the broker per ledger key, every ledger entry FILLED with one broker
order id; every strategy entered and exited once (flat positions); basket counters equal
their strategies; versions move by exactly one per accepted update, never on a 409.

    .venv/bin/python bench/load.py                       # 390 ticks x 1,000 strategies, 1,000 requests
    .venv/bin/python bench/load.py --ticks 30 --strategies 100 --requests 100
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRADE_DATE = date(2026, 11, 25)  # a Wednesday, a trading day
STRATEGIES_PER_USER = 10
LEGS = 4
FULL_SESSION_TICKS = 375


@dataclass
class Figures:
    ticks: int = 0
    strategies: int = 0
    session_wall_s: float = 0.0
    deliveries: int = 0
    handler_errors: list[str] = field(default_factory=list)
    orders: int = 0
    ledger_entries: int = 0
    entries: int = 0
    exits: int = 0
    requests: int = 0
    burst_wall_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.invariants.append(name)
        if not ok:
            self.violations.append(f"{name}: {detail}")

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def report(self) -> str:
        per_s = self.requests / self.burst_wall_s if self.burst_wall_s else 0.0
        mean = statistics.fmean(self.latencies_ms) if self.latencies_ms else 0.0
        lines = [
            f"session : {self.ticks} ticks x {self.strategies} strategies in {self.session_wall_s:.1f} s "
            f"({self.session_wall_s / max(self.ticks, 1) * 1000:.0f} ms/tick)",
            f"          {self.deliveries} handler deliveries, {len(self.handler_errors)} handler errors",
            f"          {self.entries} entries, {self.exits} exits, {self.orders} orders at the brokers, "
            f"{self.ledger_entries} ledger entries",
            f"api     : {self.requests} requests in {self.burst_wall_s:.2f} s = {per_s:.0f} req/s; "
            f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms, mean {mean:.1f} ms",
            f"          statuses {dict(sorted(self.statuses.items()))}",
            f"checks  : {len(self.invariants)} invariants, {len(self.violations)} violated",
        ]
        lines += [f"  VIOLATED {violation}" for violation in self.violations[:20]]
        return "\n".join(lines)


def _quiet_environment() -> None:
    from local_platform.environment import export_client_environment

    export_client_environment(log_level="ERROR")
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)


def condor(name: str, entry: str, exit_at: str) -> dict[str, Any]:
    legs = [("SELL", "CE", 2), ("BUY", "CE", 6), ("SELL", "PE", -2), ("BUY", "PE", -6)]
    return {
        "name": name,
        "underlying": "NIFTY",
        "legs": [
            {
                "action": action,
                "option_type": kind,
                "strike": {"method": "ATM_OFFSET", "steps": steps},
                "expiry": "CURRENT_WEEKLY",
            }
            for action, kind, steps in legs
        ],
        "entry": {"time": entry, "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": exit_at},
    }


@contextmanager
def _platform() -> Iterator[tuple[Any, Any, Any]]:
    """moto in process with the stack's tables, and the composition root on a fixed clock that
    the replay moves; the handlers' one DynamoDB client serialised."""
    import boto3
    from moto import mock_aws

    from local_platform.backend import create_tables
    from local_platform.environment import REGION, export_runtime_settings, local_settings
    from local_platform.inprocess_dynamodb import SerializedClient
    from local_platform.root import one_process_root
    from shared_utils.clock import FixedClock
    from shared_utils.composition import install

    with mock_aws():
        settings = local_settings(None)
        raw = boto3.client("dynamodb", region_name=REGION)
        create_tables(raw, settings)
        export_runtime_settings(settings)
        client = SerializedClient(raw)
        clock = FixedClock(datetime.combine(TRADE_DATE, datetime.min.time(), tzinfo=UTC))
        # One process: the strategy runs the timer queues run on the in-process queue's workers,
        # and each handler returns once they have.
        root = one_process_root(settings, clock, dynamodb=client, wait_for_runs=True)
        previous = install(root)
        try:
            yield settings, client, clock
        finally:
            install(previous)
            root.close()


class OrderCounter:
    """Counts every order the paper brokers receive, by (account, order key)."""

    def __init__(self) -> None:
        from shared_utils.brokers.paper import PaperBroker

        self.orders: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._paper = PaperBroker
        self._original = PaperBroker.place
        counter = self

        def place(broker: Any, order: Any) -> Any:
            with counter._lock:
                counter.orders[(broker._account_id, order.order_key)] += 1
            return counter._original(broker, order)

        PaperBroker.place = place  # type: ignore[method-assign]

    def close(self) -> None:
        self._paper.place = self._original  # type: ignore[method-assign]


def _seed(settings: Any, client: Any, strategies: int, ticks: int, first_tick: datetime) -> dict[str, Any]:
    from shared_utils.clock import FixedClock, to_ist
    from shared_utils.models.allocation import AllocationCreate
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.common import AllocationScope
    from shared_utils.models.strategy import StrategyCreate
    from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository

    accounts = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
    repo = DynamoTradingRepository.from_settings(
        settings, client, FixedClock(first_tick - timedelta(hours=1))
    )
    opening = to_ist(first_tick).replace(hour=9, minute=20)
    last = to_ist(first_tick) + timedelta(minutes=ticks - 3)
    last = min(last, to_ist(first_tick).replace(hour=15, minute=25))
    span = int((last - opening) / timedelta(minutes=1))
    if span < 2:
        raise SystemExit(f"{ticks} ticks leave no time to enter and exit after 09:20 IST")
    half = max(1, span // 2)
    plan: dict[str, Any] = {"strategies": {}, "baskets": {}, "users": []}
    for n in range(strategies):
        user = f"load-user-{n // STRATEGIES_PER_USER:04d}"
        account = f"paper-{user}"
        if user not in plan["baskets"]:
            plan["users"].append(user)
            accounts.put_account(
                BrokerAccount(
                    user_id=user,
                    broker_account_id=account,
                    broker="ZERODHA",
                    label="paper",
                    paper=True,
                    created_at=first_tick,
                )
            )
            plan["baskets"][user] = repo.create_basket(user, BasketCreate(name="Load")).basket_id
        entry = opening + timedelta(minutes=n % half)
        exit_at = entry + timedelta(minutes=half)
        created = repo.create_strategy(
            user,
            plan["baskets"][user],
            StrategyCreate.model_validate(condor(f"S{n}", f"{entry:%H:%M}", f"{exit_at:%H:%M}")),
        )
        repo.create_allocation(
            user,
            AllocationScope.STRATEGY,
            created.strategy_id,
            AllocationCreate(broker_account_id=account, lots=1),
        )
        plan["strategies"][created.strategy_id] = user
    return plan


def run_session(
    figures: Figures, settings: Any, client: Any, clock: Any, ticks: int, strategies: int
) -> dict[str, Any]:
    from local_platform.clocks import ReplayClock
    from local_platform.timer import Delivery, LocalPublisher, RuleRouter, TimerLoop
    from shared_utils.timer.calendar_view import CalendarMarketView

    market = CalendarMarketView.default()
    session_start, _close = market.session_bounds(TRADE_DATE)
    # A full session starts with the pre-open (09:00 IST); a shorter run starts at 09:15 so that
    # its few ticks fall in market hours, where strategies enter and exit.
    offset = timedelta(0) if ticks >= FULL_SESSION_TICKS else timedelta(minutes=15)
    first_tick = (session_start + offset).astimezone(UTC)
    clock.set(first_tick - timedelta(minutes=30))
    plan = _seed(settings, client, strategies, ticks, first_tick)
    figures.ticks, figures.strategies = ticks, strategies

    def observe(delivery: Delivery) -> None:
        figures.deliveries += 1
        if delivery.error is not None:
            figures.handler_errors.append(f"{delivery.module}: {delivery.error}")

    loop = TimerLoop(LocalPublisher(RuleRouter(), observe), ReplayClock(first_tick, clock))
    handled = 0

    def count(result: Any) -> None:
        nonlocal handled
        handled += 1
        if handled >= ticks:
            loop.stop.set()

    loop.on_tick = count
    started = time.perf_counter()
    loop.run_session(first_tick)
    figures.session_wall_s = time.perf_counter() - started
    figures.ticks = handled
    return plan


def check_session(
    figures: Figures, settings: Any, client: Any, clock: Any, plan: dict[str, Any], orders: OrderCounter
) -> None:
    from shared_utils.execution.models import LedgerStatus
    from shared_utils.execution.store import ExecutionStore
    from shared_utils.repository import DynamoTradingRepository

    store = ExecutionStore(client, settings.history_table_name)
    repo = DynamoTradingRepository.from_settings(settings, client, clock)
    figures.orders = sum(orders.orders.values())
    figures.check("no handler error", not figures.handler_errors, "; ".join(figures.handler_errors[:3]))
    doubled = [key for key, n in orders.orders.items() if n > 1]
    figures.check("one order per key at the broker", not doubled, str(doubled[:3]))
    ledger_keys: set[tuple[str, str]] = set()
    for strategy_id, user in plan["strategies"].items():
        ledger = store.ledger_of_day(user, TRADE_DATE, strategy_id)
        figures.ledger_entries += len(ledger)
        ledger_keys |= {(e.broker_account_id, e.order_key) for e in ledger}
        entries = [e for e in ledger if "#ENTRY#" in e.order_key]
        exits = [e for e in ledger if "#EXIT#" in e.order_key]
        figures.entries += bool(entries)
        figures.exits += bool(exits)
        figures.check(f"{strategy_id} entered once", len(entries) == LEGS, f"{len(entries)} entry orders")
        figures.check(f"{strategy_id} exited once", len(exits) == LEGS, f"{len(exits)} exit orders")
        bad = [
            e.order_key for e in ledger if e.status is not LedgerStatus.FILLED or len(e.broker_order_ids) != 1
        ]
        figures.check(f"{strategy_id} ledger filled once", not bad, str(bad[:2]))
        open_legs = [p for p in store.positions(user, strategy_id) if p.net_quantity != 0]
        figures.check(f"{strategy_id} flat after its exit", not open_legs, f"{len(open_legs)} open legs")
    figures.check(
        "broker orders == ledger entries",
        set(orders.orders) == ledger_keys,
        f"{len(orders.orders)} orders vs {len(ledger_keys)} ledger keys",
    )
    for user, basket_id in plan["baskets"].items():
        detail = repo.get_basket_with_strategies(user, basket_id)
        figures.check(
            f"{basket_id} counter",
            detail.basket.strategy_count == len(detail.strategies),
            f"{detail.basket.strategy_count} != {len(detail.strategies)}",
        )
        figures.check(
            f"{basket_id} strategies untouched",
            all(s.version == 1 for s in detail.strategies),
            "version moved",
        )


class Api:
    """The local platform's WSGI app, one caller identity per request."""

    def __init__(self) -> None:
        from local_platform.wsgi import ProxyEventWsgiApp

        self.user = "burst-user-0"
        self._app = ProxyEventWsgiApp(lambda headers: {"sub": headers.get("X-User", "anonymous")})

    def call(
        self, figures: Figures, user: str, method: str, path: str, body: Any = None, query: str = ""
    ) -> tuple[int, Any]:
        raw = b"" if body is None else json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": "application/json" if raw else "",
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_X_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(raw),
        }
        status: list[int] = []
        started = time.perf_counter()
        payload = b"".join(self._app(environ, lambda line, _h, *_a: status.append(int(line.split()[0]))))
        figures.latencies_ms.append((time.perf_counter() - started) * 1000)
        figures.statuses[status[0]] += 1
        figures.requests += 1
        return status[0], (json.loads(payload) if payload else None)


def run_burst(figures: Figures, requests: int, settings: Any, client: Any, clock: Any, seed: int = 7) -> None:
    """`requests` calls from 10 users; checks versions and counters afterwards."""
    from local_platform.accounts import ensure_paper_accounts

    api = Api()
    rng = random.Random(seed)
    users = [f"burst-user-{n}" for n in range(10)]
    baskets: dict[str, list[dict[str, Any]]] = {user: [] for user in users}
    accepted_updates: Counter[str] = Counter()
    created_strategies: Counter[str] = Counter()
    for user in users:
        ensure_paper_accounts(client, settings.broker_accounts_table_name, user, clock.now())
    started = time.perf_counter()
    for n in range(requests):
        user = users[n % len(users)]
        mine = baskets[user]
        roll = rng.random()
        if not mine or roll < 0.15:
            status, body = api.call(figures, user, "POST", "/options/baskets", {"name": f"Burst {n}"})
            if status == 201:
                mine.append(body)
        elif roll < 0.35:
            api.call(figures, user, "GET", "/options/baskets", query="limit=50")
        elif roll < 0.50:
            api.call(figures, user, "GET", f"/options/baskets/{rng.choice(mine)['basket_id']}")
        elif roll < 0.65:
            basket = rng.choice(mine)
            stale = rng.random() < 0.2 and basket["version"] > 1
            version = basket["version"] - 1 if stale else basket["version"]
            status, body = api.call(
                figures,
                user,
                "PUT",
                f"/options/baskets/{basket['basket_id']}",
                {"version": version, "description": f"r{n}"},
            )
            if status == 200:
                basket.update(body)
                accepted_updates[basket["basket_id"]] += 1
            figures.check("a stale version is a 409", not stale or status == 409, f"{status}")
        elif roll < 0.80:
            basket = rng.choice(mine)
            status, _ = api.call(
                figures,
                user,
                "POST",
                f"/options/baskets/{basket['basket_id']}/strategies",
                condor(f"B{n}", "10:15", "15:00"),
            )
            if status == 201:
                created_strategies[basket["basket_id"]] += 1
            figures.check("a full basket refuses (409), never overflows", status in (201, 409), f"{status}")
        elif roll < 0.90:
            api.call(figures, user, "GET", "/options/strategies", query="limit=50")
        elif roll < 0.95:
            api.call(figures, user, "GET", "/options/executions")
        else:
            api.call(figures, user, "GET", "/options/positions")
    figures.burst_wall_s = time.perf_counter() - started
    server_errors = sum(count for status, count in figures.statuses.items() if status >= 500)
    figures.check("no 5xx in the burst", server_errors == 0, f"{server_errors} server errors")
    for user, mine in baskets.items():
        for basket in mine:
            status, detail = api.call(figures, user, "GET", f"/options/baskets/{basket['basket_id']}")
            figures.check("basket readable", status == 200, str(status))
            if status != 200:
                continue
            figures.check(
                "version = 1 + accepted updates",
                detail["basket"]["version"] == 1 + accepted_updates[basket["basket_id"]],
                f"{detail['basket']['version']}",
            )
            figures.check(
                "counter = strategies = accepted creations",
                detail["basket"]["strategy_count"]
                == len(detail["strategies"])
                == min(10, created_strategies[basket["basket_id"]]),
                f"{detail['basket']['strategy_count']} / {len(detail['strategies'])}",
            )


def run(ticks: int = 390, strategies: int = 1000, requests: int = 1000) -> Figures:
    """The whole load run on a fresh in-process platform; returns the figures (nothing printed)."""
    _quiet_environment()
    figures = Figures()
    orders = OrderCounter()
    # Powertools prints each handler's metrics (EMF) on stdout; the figures are what we report.
    try:
        with redirect_stdout(io.StringIO()), _platform() as (settings, client, clock):
            plan = run_session(figures, settings, client, clock, ticks, strategies)
            check_session(figures, settings, client, clock, plan, orders)
            run_burst(figures, requests, settings, client, clock)
    finally:
        orders.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=390)
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    figures = run(args.ticks, args.strategies, args.requests)
    print(figures.report())
    return 1 if figures.violations else 0


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    sys.exit(main())
