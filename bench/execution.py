"""Enter and exit (paper) N strategies x 4 legs x 2 brokers against moto DynamoDB, both ways
the engine writes, side by side in one run.

Each strategy is an iron condor (4 legs) allocated to two paper broker accounts; every strategy
is run by the executor as its queue message (the owner's ENTRY run the trigger queues, then its
SCHEDULED_EXIT), so a run includes reading the strategy and its allocations, planning (expiry,
strikes on a Black-Scholes chain, lots, slices), the ledger writes before each order, fills,
positions and the history record. Two columns:

- "step by step": every claim, outcome and position its own conditional write (the engine's path
  for retries and refusals; every run took it before the claims were grouped);
- "claimed together": the path a plain first attempt takes: every claim in one transaction
  before the first broker call, every outcome, position and the record in one after the last.

DynamoDB requests are counted with a botocore `before-call` hook during the timed runs only
(seeding excluded). moto runs in process, so times are CPU-bound Python + moto, not network
latency; a serializing lock guards moto (not thread-safe) from the broker threads.

    .venv/bin/python bench/execution.py [--strategies 1000] [--users 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "ap-south-1"
PREFIX = "ql-algo-trading-bench"
os.environ.update(
    {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "execution-bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST
EXIT_AT = datetime(2026, 11, 25, 9, 40, tzinfo=UTC)  # 15:10 IST
MODES = ("step by step", "claimed together")
TRADE_DATE = date(2026, 11, 25)


class NoQueue:
    """The executor's queue: an entry on time, of a strategy nobody else runs, queues nothing."""

    def send(self, runs: Any, *, delay_s: int = 0) -> None:
        raise AssertionError(f"unexpected follow-up runs: {runs}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    from local_platform import moto_transactions

    moto_transactions.install()
    results = {mode: measure(args.strategies, args.users, stepwise=mode == MODES[0]) for mode in MODES}
    print(f"strategies={args.strategies} legs=4 brokers=2 users={args.users}; one entry and one exit each")
    width = 28
    print(f"{'':34}" + "".join(f"{mode:>{width}}" for mode in MODES))
    for run in ("entry", "exit"):
        rows = {
            f"{run}: DynamoDB requests/strategy": [
                f"{results[mode][run + '_requests'] / args.strategies:.1f}" for mode in MODES
            ],
            f"{run}: wall time (moto)": [f"{results[mode][run + '_wall']:.1f} s" for mode in MODES],
            f"{run}: orders filled / placed": [
                f"{results[mode][run + '_filled']} / {results[mode][run + '_orders']}" for mode in MODES
            ],
        }
        for label, cells in rows.items():
            print(f"{label:34}" + "".join(f"{cell:>{width}}" for cell in cells))
        operations = sorted({op for mode in MODES for op in results[mode][run + "_calls"]})
        for op in operations:
            print(
                f"{'  ' + op:34}"
                + "".join(
                    f"{results[mode][run + '_calls'].get(op, 0) / args.strategies:>{width}.1f}"
                    for mode in MODES
                )
            )
    print(f"{'flat after the exit':34}" + "".join(f"{results[mode]['flat']!s:>{width}}" for mode in MODES))


def measure(strategies: int, users: int, *, stepwise: bool) -> dict[str, Any]:
    """Seed, enter and exit every strategy on a fresh moto; requests and times of the two runs."""
    import boto3
    from moto import mock_aws

    from shared_utils.brokers.paper import PaperBroker
    from shared_utils.brokers.port import Broker
    from shared_utils.clock import FixedClock
    from shared_utils.execution.executor import StrategyRunExecutor
    from shared_utils.execution.leases import StrategyLeases
    from shared_utils.execution.market import SimulatedOptionMarket
    from shared_utils.execution.requests import ExecutionRequest
    from shared_utils.execution.service import ExecutionService
    from shared_utils.execution.store import ExecutionStore
    from shared_utils.keys import ScheduleKind
    from shared_utils.market.calendar import TradingCalendar
    from shared_utils.marketplace.trading import owner_run
    from shared_utils.models.allocation import BrokerAllocation, allocation_id_for
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.common import AllocationScope
    from shared_utils.models.items import AllocationItem, StrategyItem
    from shared_utils.models.strategy import Strategy, StrategyCreate
    from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
    from shared_utils.repository.trading import DynamoTradingRepository
    from shared_utils.tables import ALL_TABLES, BROKER_ACCOUNTS, EXECUTION_HISTORY, TRADING_CONFIGURATIONS

    legs = [("SELL", "CE", 2), ("BUY", "CE", 6), ("SELL", "PE", -2), ("BUY", "PE", -6)]
    body = {
        "name": "Iron condor",
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
        "entry": {"time": "09:30", "weekdays": ["WED"]},
        "exit": {"time": "15:10"},
    }

    from local_platform.inprocess_dynamodb import SerializedClient

    with mock_aws():
        raw = boto3.client("dynamodb", region_name=REGION)
        for definition in ALL_TABLES:
            raw.create_table(**definition.create_table_kwargs(definition.name(PREFIX)))
        client = SerializedClient(raw)
        clock = FixedClock(NOW)
        accounts = DynamoBrokerAccounts(raw, BROKER_ACCOUNTS.name(PREFIX))
        trading_table = TRADING_CONFIGURATIONS.name(PREFIX)
        market = SimulatedOptionMarket({"NIFTY": Decimal("26010")}.get, clock)
        paper: dict[str, Broker] = {}

        class Brokers:
            def broker_for(self, broker_account_id: str, broker: str) -> Broker:
                return paper[broker_account_id]

        requests: list[ExecutionRequest] = []
        per_user = -(-strategies // users)
        for index in range(strategies):
            user = f"user-{index // per_user:04d}"
            if index % per_user == 0:
                for n in (1, 2):
                    account = f"{user}-acct{n}"
                    accounts.put_account(
                        BrokerAccount(user_id=user, broker_account_id=account, broker="PAPER", paper=True)
                    )
                    paper[account] = PaperBroker(market.price, clock, account_id=account)
            # Seeded as stored items (put_item): moto copies the whole table on every
            # transaction, which would make seeding quadratic; the timed run reads them back
            # through the repository exactly as in production.
            basket = f"basket-{index:05d}"
            strategy = StrategyCreate.model_validate(body)
            stored = Strategy(
                strategy_id=f"strategy-{index:05d}",
                user_id=user,
                basket_id=basket,
                allocation_count=2,
                version=1,
                created_at=NOW,
                updated_at=NOW,
                **dict(strategy),
            )
            raw.put_item(TableName=trading_table, Item=StrategyItem.from_domain(stored).to_dynamo())
            for n, lots in ((1, 1 + index % 3), (2, 2)):
                account = f"{user}-acct{n}"
                allocation = BrokerAllocation(
                    allocation_id=allocation_id_for(stored.strategy_id, account),
                    user_id=user,
                    scope=AllocationScope.STRATEGY,
                    scope_id=stored.strategy_id,
                    basket_id=basket,
                    broker_account_id=account,
                    broker="PAPER",
                    lots=lots,
                    version=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
                raw.put_item(TableName=trading_table, Item=AllocationItem.from_domain(allocation).to_dynamo())
            requests.append(
                ExecutionRequest(
                    user_id=user,
                    strategy_id=stored.strategy_id,
                    basket_id=basket,
                    action=ScheduleKind.ENTRY,
                    scheduled_at=NOW,
                    trade_date=TRADE_DATE,
                    strategy_version=stored.version,
                    tick=NOW,
                )
            )

        calls: Counter[str] = Counter()

        def count(event_name: str, **_kwargs: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        class StepByStepStore(ExecutionStore):
            """Every run on the step-by-step path: the grouped claims are never tried."""

            def begin_run(self, *_args: Any, **_kwargs: Any) -> None:
                return None

        store = (StepByStepStore if stepwise else ExecutionStore)(client, EXECUTION_HISTORY.name(PREFIX))
        timed_repository = DynamoTradingRepository(
            client, TRADING_CONFIGURATIONS.name(PREFIX), clock, broker_accounts=accounts
        )
        leases = StrategyLeases(client, EXECUTION_HISTORY.name(PREFIX), clock)
        service = ExecutionService(
            store,
            timed_repository,
            lambda _user: Brokers(),
            market,
            TradingCalendar.default(),
            clock,
            leases=leases,
        )
        executor = StrategyRunExecutor(
            service,
            NoQueue(),
            clock,
            subscribers=None,  # type: ignore[arg-type]
            kill_switch=None,  # type: ignore[arg-type]
            entry_max_lag=timedelta(minutes=2),
        )
        result: dict[str, Any] = {}
        for run, at, kind, name in (
            ("entry", NOW, ScheduleKind.ENTRY, "ENTRY"),
            ("exit", EXIT_AT, ScheduleKind.EXIT, "EXIT"),
        ):
            clock.set(at)
            calls.clear()
            raw.meta.events.register("before-call.dynamodb", count)
            started = time.perf_counter()
            for request in requests:
                executor.execute(
                    owner_run(request.model_copy(update={"action": kind, "scheduled_at": at, "tick": at}))
                )
            result[run + "_wall"] = time.perf_counter() - started
            raw.meta.events.unregister("before-call.dynamodb", count)
            ledger = [
                entry
                for r in requests
                for entry in store.ledger_of_run(r.user_id, TRADE_DATE, r.strategy_id, name)
            ]
            result[run + "_orders"] = len(ledger)
            result[run + "_filled"] = sum(1 for entry in ledger if entry.status.value == "FILLED")
            result[run + "_calls"] = Counter(calls)
            result[run + "_requests"] = sum(calls.values())
        result["flat"] = all(
            p.net_quantity == 0 for r in requests for p in store.positions(r.user_id, r.strategy_id)
        ) and all(p.quantity == 0 for broker in paper.values() for p in broker.positions())
        return result


if __name__ == "__main__":
    main()
