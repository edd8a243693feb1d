"""A real process killed (SIGKILL) between an order's ledger entry and the broker's answer: a fresh
process finishes the run, the broker receives every order once, and the day ends flat at the
broker and in the ledger (#15, scenario 1).

The engine runs in a child process against a moto server and a Kite stub, both on 127.0.0.1 in
this process, so their state outlives the child. The stub books the entry's second order and
then holds its answer; the child is killed while it waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shared_utils.brokers.models import BrokerName
from shared_utils.clock import FixedClock
from shared_utils.execution.models import ExecutionStatus, LedgerStatus
from shared_utils.execution.store import ExecutionStore
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketCreate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import StrategyCreate
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.integration.brokers.conftest import make_stub
from tests.integration.brokers.stub_server import StubHttpServer
from tests.integration.execution.conftest import condor_body
from tests.reliability import crash_child

ROOT = Path(__file__).resolve().parents[2]
USER = "crash-user"
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST
TRADE_DATE = date(2026, 11, 25)


def hold_the_answer_to_order(stub: Any, nth: int) -> threading.Event:
    """Book the `nth` order placed, then keep its answer back for a minute."""
    held = threading.Event()
    handle = stub.handle

    def holding(request: Any) -> Any:
        response, stall = handle(request)
        placed = [r for r in stub.requests if r.method == "POST" and r.path.startswith("/orders/")]
        if request.method == "POST" and len(placed) == nth and not held.is_set():
            held.set()
            return response, 60.0
        return response, stall

    stub.handle = holding
    return held


def seed(moto_server: Any) -> str:
    client = moto_server.client()
    settings = moto_server.settings
    assert crash_child.settings(moto_server.endpoint).trading_table_name == settings.trading_table_name
    accounts = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
    accounts.put_account(
        BrokerAccount(user_id=USER, broker_account_id=crash_child.ACCOUNT, broker=BrokerName.ZERODHA.value)
    )
    repo = DynamoTradingRepository.from_settings(settings, client, FixedClock(NOW - timedelta(days=1)))
    basket = repo.create_basket(USER, BasketCreate(name="Crash")).basket_id
    strategy = repo.create_strategy(USER, basket, StrategyCreate.model_validate(condor_body()))
    repo.create_allocation(
        USER,
        AllocationScope.STRATEGY,
        strategy.strategy_id,
        AllocationCreate(broker_account_id=crash_child.ACCOUNT, lots=1),
    )
    return strategy.strategy_id


def test_a_process_killed_mid_order_is_finished_by_a_fresh_one_and_the_day_ends_flat(
    moto_server: Any,
) -> None:
    sid = seed(moto_server)
    store = ExecutionStore(moto_server.client(), moto_server.settings.history_table_name)
    with StubHttpServer(make_stub("zerodha")) as broker:
        held = hold_the_answer_to_order(broker.stub, nth=2)  # the hedge filled, the first sell in flight
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash_child",
             moto_server.endpoint, broker.url, USER, sid, NOW.isoformat()],
            cwd=ROOT,
            env=os.environ.copy(),
        )  # fmt: skip
        try:
            assert held.wait(timeout=90), "the child never reached its second order"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        assert len(broker.stub.orders) == 2
        ledger = store.ledger_of_run(USER, TRADE_DATE, sid, "ENTRY")
        # Every order was claimed before the first went out; the process died before storing any
        # outcome, so the filled hedge and the order in flight are known only to the broker.
        assert [e.status for e in ledger] == [LedgerStatus.PENDING] * 4

        # The next process: the minute's sweep, once the in-flight order's lease has run out.
        clock = FixedClock(NOW + timedelta(seconds=90))
        service = crash_child.build_service(moto_server.endpoint, broker.url, clock, timeout_s=5)
        resumed = [
            service.retry_run(user, strategy, TRADE_DATE, run_name)
            for user, strategy, run_name in store.runs_to_retry(TRADE_DATE)
        ]  # the RETRY runs the minute's check queues, as the executor runs them

        assert [r.status for r in resumed] == [ExecutionStatus.COMPLETE]
        tags = Counter(order.tag for order in broker.stub.orders)
        assert len(tags) == 4 and set(tags.values()) == {1}  # each entry order reached the broker once
        assert {e.status for e in store.ledger_of_run(USER, TRADE_DATE, sid, "ENTRY")} == {
            LedgerStatus.FILLED
        }

        clock.set(NOW + timedelta(hours=5))
        exited = service.scheduled_exit(USER, sid, TRADE_DATE)

        assert exited is not None and exited.status is ExecutionStatus.COMPLETE
        assert set(Counter(order.tag for order in broker.stub.orders).values()) == {1}
        assert all(quantity == 0 for _, quantity, _ in broker.stub.net_positions().values())
        assert all(p.net_quantity == 0 for p in store.positions(USER, sid))
