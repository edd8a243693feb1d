"""Tenant isolation on every route of the API catalog, list routes and indexes included: user B,
armed with every id of user A's (basket, strategy, both kinds of allocation, broker account,
executions and positions placed by the engine), never reads, changes or detects them.

The configuration routes also have a per-route matrix in tests/integration/api/
test_tenant_isolation.py; this one adds the execution, kill-switch, marketplace and
subscription routes, and the indexes behind them (ExecutionsByStrategy, AllocationsByStrategy,
open positions), with real executions in the history; and the live feed built from what all of
that stored."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from local_platform.feed import StreamTap
from shared_utils.api.catalog import API_ROUTES
from shared_utils.backtest.job_models import RETENTION, START_WITHIN, BacktestJob, JobSpec, JobStatus
from shared_utils.backtest.job_store import DynamoJobStore
from shared_utils.backtest.runner import MarketSource
from shared_utils.execution.models import ExecutionStatus, KillSwitchState
from shared_utils.feed.broadcaster import Broadcaster
from shared_utils.feed.connections import ConnectionStore
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.common import AllocationScope
from shared_utils.models.signals import SignalAction
from shared_utils.signals.models import WebhookCreate, WebhookFormat
from shared_utils.tables import BROKER_ACCOUNTS, EXECUTION_HISTORY
from tests.conftest import TEST_REGION
from tests.integration.api.conftest import strategy_body
from tests.reliability.test_brokers import USER, Desk, OneBroker

MUTATING = {"POST", "PUT", "DELETE"}
PRIVATE_ID_ROUTES = {  # routes addressing one of A's private items: B must get a 404 (or 403)
    route for route in API_ROUTES if "{" in route.path and not route.path.startswith("/options/subscriptions")
}


def body_for(method: str, path: str) -> dict[str, Any] | None:
    if path.endswith("/session"):
        return {"state": "a-login-state-of-user-b", "request_token": "token"}
    if path.endswith("/holidays"):
        return {"date": "2030-01-15", "label": "not B's to add"}
    if path.endswith("/sessions"):
        return {"date": "2030-01-13", "label": "x", "pre_open_start": "18:00", "pre_open_end": "18:08",
                "open": "18:15", "close": "19:15"}  # fmt: skip
    if method == "PUT" and path.endswith("{allocation_id}"):
        return {"version": 1, "lots": 9}
    if method == "PUT" and path.startswith("/options/marketplace"):
        return {
            "category": "INCOME",
            "description": "hijack",
            "minimum_capital": "100000",
            "risk_level": "LOW",
        }
    if method == "PUT" and path.startswith("/options/subscriptions"):
        return {"version": 1, "status": "PAUSED"}
    if method == "PUT":
        return {"version": 1, "name": "hijack"}
    if path.endswith("/strategies"):
        return strategy_body()
    if path.endswith("/brokers"):
        return {"broker_account_id": "b-paper", "lots": 1}
    if path == "/options/subscriptions":
        return {"basket_id": "{basket_id}", "allocations": [{"broker_account_id": "b-paper", "lots": 1}]}
    return None


@pytest.fixture
def tenant_a(aws: dict[str, Any], seed_broker_account: Any) -> dict[str, Any]:
    """A's whole footprint: configuration, a filled entry, open positions, an ARMED kill switch."""
    desk = Desk(aws)
    desk.provider = OneBroker(desk.paper("a-paper"))
    strategy_id = desk.strategy("a-paper", lots=2)
    record = desk.enter(strategy_id)
    assert record.status is ExecutionStatus.COMPLETE
    strategy_allocation = desk.repo.list_allocations(USER, AllocationScope.STRATEGY, strategy_id)[0][0]
    basket_allocation = desk.repo.create_allocation(
        USER, AllocationScope.BASKET, desk.basket, AllocationCreate(broker_account_id="a-paper", lots=1)
    )
    seed_broker_account("user-b", "b-paper", "PAPER", paper=True)
    return {
        "desk": desk,
        "basket_id": desk.basket,
        "strategy_id": strategy_id,
        "strategy_allocation": strategy_allocation.allocation_id,
        "basket_allocation": basket_allocation.allocation_id,
        "positions": len(desk.store.positions(USER, strategy_id)),
        "backtest_id": _backtest_of(aws, strategy_id),
        "webhook_id": _webhook_of(aws, strategy_id),
    }


def _webhook_of(aws: dict[str, Any], strategy_id: str) -> str:
    """A's signal webhook on the strategy (as the API creates one)."""
    data = WebhookCreate(strategy_id=strategy_id, action=SignalAction.EXIT, format=WebhookFormat.TRADINGVIEW)
    return aws["platform"].webhooks().create(USER, data).webhook_id


def _backtest_of(aws: dict[str, Any], strategy_id: str) -> str:
    """A's queued backtest job of the strategy (stored as the API stores one)."""
    now = aws["clock"].now()
    job = BacktestJob(
        backtest_id="bt-20261120040000000000-a0a0a0a0",
        user_id=USER,
        status=JobStatus.QUEUED,
        request=JobSpec(
            strategy_ids=[strategy_id],
            start=date(2026, 11, 2),
            end=date(2026, 11, 6),
            market=MarketSource.SIMULATED,
            slippage_bps=Decimal("5"),
            brokerage_per_order=Decimal("20"),
        ),
        created_at=now,
        deadline=now + START_WITHIN,
    )
    store = DynamoJobStore(aws["dynamodb"], aws["settings"].backtest_jobs_table_name)
    store.add(job, max_running=2, expires_at=now + RETENTION)
    return job.backtest_id


def secrets_of(a: dict[str, Any]) -> list[str]:
    return [
        a["basket_id"],
        a["strategy_id"],
        a["strategy_allocation"],
        a["basket_allocation"],
        "a-paper",
        a["backtest_id"],
        a["webhook_id"],
        USER,
    ]


def call_as_b(api: Any, a: dict[str, Any], route: Any) -> Any:
    ids = {
        "basket_id": a["basket_id"],
        "strategy_id": a["strategy_id"],
        "allocation_id": a["basket_allocation"]
        if route.path.startswith("/options/baskets")
        else a["strategy_allocation"],
        "broker_account_id": "a-paper",
        "exchange": "NSE",
        "day": "2030-01-15",
        "backtest_id": a["backtest_id"],
        "webhook_id": a["webhook_id"],
    }
    params = {name: ids[name] for name in re.findall(r"\{(\w+)\}", route.path)}
    body = body_for(route.method, route.path)
    if body and body.get("basket_id") == "{basket_id}":
        body["basket_id"] = a["basket_id"]
    query = {"month": "2026-11"} if route.path.endswith(("statement", "statements")) else None
    if route.path == "/options/executions":
        query = {"strategy_id": a["strategy_id"], "from_date": "2026-11-20", "to_date": "2026-11-30"}
    if route.path == "/options/positions":
        query = {"open_only": "false"}
    return api(route.method, route.path, user="user-b", body=body, query=query, **params)


def problems_with(route: Any, response: Any, a: dict[str, Any]) -> list[str]:
    found = [f"server error {response.status}"] if response.status >= 500 else []
    found += [f"leaks {secret}" for secret in secrets_of(a) if secret in response.raw_body]
    if route in PRIVATE_ID_ROUTES and response.status not in {403, 404}:
        found.append(f"{response.status} instead of 404 on a private id")
    return [f"{route.method} {route.path}: {problem}" for problem in found]


def test_user_b_never_sees_touches_or_detects_user_a_on_any_route(api, tenant_a) -> None:
    """One world, every route of the catalog in turn (building the world per route would cost
    an engine run each), then A's footprint checked as A sees it."""
    problems: list[str] = []
    for route in API_ROUTES:
        problems += problems_with(route, call_as_b(api, tenant_a, route), tenant_a)
    assert problems == []
    assert_intact(api, tenant_a)


def assert_intact(api: Any, a: dict[str, Any]) -> None:
    desk = a["desk"]

    basket = api("GET", "/options/baskets/{basket_id}", basket_id=a["basket_id"], user=USER).body
    assert basket["basket"]["version"] == 1 and basket["basket"]["name"] == "Income"
    assert [s["strategy_id"] for s in basket["strategies"]] == [a["strategy_id"]]
    assert [d["lots"] for d in basket["default_allocations"]] == [1]
    strategy = api("GET", "/options/strategies/{strategy_id}", strategy_id=a["strategy_id"], user=USER).body
    assert strategy["strategy"]["version"] == 1
    assert [x["lots"] for x in strategy["allocations"]["allocations"]] == [2]
    # B pressed (and re-armed) its own kill switch: A's positions are still open, A's switch armed.
    assert len([p for p in desk.store.positions(USER, a["strategy_id"]) if p.net_quantity]) == a["positions"]
    assert desk.store.kill_switch(USER).state is KillSwitchState.ARMED
    own = api(
        "GET", "/options/executions", user=USER, query={"from_date": "2026-11-20", "to_date": "2026-11-30"}
    )
    assert own.status == 200 and a["strategy_id"] in own.raw_body  # A still sees its own history


@pytest.fixture
def feed_streams(aws: dict[str, Any]) -> dict[str, StreamTap]:
    """The history and broker-accounts tables with their streams on (as deployed), read in
    process as the local platform reads them; on before any of A's writes."""
    settings, client = aws["settings"], aws["dynamodb"]
    taps = {}
    for name, definition in (
        (settings.history_table_name, EXECUTION_HISTORY),
        (settings.broker_accounts_table_name, BROKER_ACCOUNTS),
    ):
        client.update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": str(definition.stream_view_type)},
        )
        taps[definition.logical_id] = StreamTap(name, TEST_REGION)
    return taps


class FrameRecorder:
    def __init__(self) -> None:
        self.frames: dict[str, list[str]] = {}

    def send(self, connection_id: str, payload: bytes) -> None:
        self.frames.setdefault(connection_id, []).append(payload.decode())


def test_the_feed_never_carries_user_a_to_user_b(aws, feed_streams, api, tenant_a) -> None:
    """A's entry (orders, positions, its execution), B's calls on every route (its own kill
    switch pressed and re-armed), the minute's marks: all broadcast as the deployed broadcaster
    would, with both users connected. B's connection gets B's messages and nothing of A's."""
    connections = ConnectionStore(aws["dynamodb"], aws["settings"].feed_connections_table_name)
    now = aws["clock"].now()
    connections.add(USER, "conn-a", now)
    connections.add("user-b", "conn-b", now)
    for route in API_ROUTES:
        call_as_b(api, tenant_a, route)
    a_account = aws["platform"].broker_accounts.get_account(USER, "a-paper")
    aws["platform"].account_linking.needs_login(USER, a_account.broker_account_id)

    recorder = FrameRecorder()
    broadcaster = Broadcaster(connections, recorder, aws["clock"])
    broadcaster.history_changes(feed_streams[EXECUTION_HISTORY.logical_id].read())
    broadcaster.account_changes(feed_streams[BROKER_ACCOUNTS.logical_id].read())
    root = aws["platform"]
    broadcaster.marks(root.execution_store.open_positions, root.option_market)

    to_a = [json.loads(frame) for frame in recorder.frames.get("conn-a", [])]
    to_b = recorder.frames.get("conn-b", [])
    assert {"order", "position", "execution", "marks", "broker_account"} <= {m["type"] for m in to_a}
    assert to_b, "B's own kill switch changes reached no one"
    assert {json.loads(frame)["type"] for frame in to_b} <= {"kill_switch", "broker_account"}  # B's own
    assert [
        f"{secret} in B's feed" for secret in secrets_of(tenant_a) for frame in to_b if secret in frame
    ] == []
