"""At-least-once delivery meets exactly-once orders: the same tick twice, a re-emitted tick, a
trigger arriving while the first is still placing orders, a second daily start and a timer
restarted mid-session, all through the real handlers, engine and paper brokers (timer_harness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from lambda_functions.option_baskets import schedule_trigger, timer_starter
from local_platform.clocks import ReplayClock
from local_platform.timer import LocalPublisher, RuleRouter, TimerLoop
from shared_utils.execution.models import LedgerStatus
from shared_utils.settings import load_settings
from tests.conftest import TEST_REGION, install_platform
from tests.events.timer import load_event
from tests.integration.timer.conftest import FakeLambdaContext
from tests.reliability.timer_harness import TradingDay

LEGS = 4  # iron condor
ASL = Path(__file__).resolve().parents[2] / "step_functions" / "master_timer.asl.json"


def assert_one_order_per_leg_and_broker(day: TradingDay) -> None:
    """What a trader checks at the broker: one order per (strategy, account, leg), all filled."""
    per_key = day.log.per_key()
    assert per_key and max(per_key.values()) == 1, [k for k, n in per_key.items() if n > 1]
    for strategy_id, (user, allocations) in day.strategies.items():
        ledger = day.ledger(user, strategy_id)
        assert len(ledger) == LEGS * len(allocations)
        assert {(e.broker_account_id, e.leg_no) for e in ledger} == {
            (account, leg) for account in allocations for leg in range(1, LEGS + 1)
        }
        assert all(e.status is LedgerStatus.FILLED and len(e.broker_order_ids) == 1 for e in ledger)
        mine = [key for key in per_key if strategy_id in key[1]]
        assert len(mine) == LEGS * len(allocations)


def trigger(tick: str, window_start: str, window_end: str, event_id: str | None = None) -> dict[str, Any]:
    event = load_event(
        "schedule_strategy_trigger", tick=tick, window_start=window_start, window_end=window_end
    )
    event["time"] = tick
    if event_id is not None:
        event["id"] = event_id
    return event


def test_duplicate_reemitted_and_concurrent_triggers_place_one_order_per_leg_per_broker(
    trading_day: TradingDay,
) -> None:
    day = trading_day
    day.strategy("user-1", "09:30", {"acct-1": 1, "acct-2": 3})
    day.strategy("user-2", "09:31", {"acct-3": 2})
    day.move_to(datetime(2026, 11, 25, 4, 0, 5, tzinfo=UTC))
    first = trigger("2026-11-25T04:00:00Z", "2026-11-25T04:00:00Z", "2026-11-25T04:01:00Z")
    following = trigger("2026-11-25T04:01:00Z", "2026-11-25T04:01:00Z", "2026-11-25T04:02:00Z")
    concurrent: dict[str, Any] = {}

    def arrive_while_running() -> None:
        # Another container gets the same tick (new event id) while this one is still placing
        # its first order.
        if "same_tick" in concurrent:
            return
        try:
            schedule_trigger.handler({**first, "id": "re-emitted-while-running"}, FakeLambdaContext())
        except IdempotencyAlreadyInProgressError as error:
            concurrent["same_tick"] = error

    day.log.during_place = arrive_while_running
    outcome = schedule_trigger.handler(first, FakeLambdaContext())
    day.log.during_place = None
    day.move_to(datetime(2026, 11, 25, 4, 1, 5, tzinfo=UTC))
    next_minute = schedule_trigger.handler(following, FakeLambdaContext())

    assert isinstance(concurrent["same_tick"], IdempotencyAlreadyInProgressError)  # EventBridge retries it
    # Each strategy was handed over once, at its own minute.
    assert [h.split("/")[0] for h in outcome["result"]["requested"]] == ["user-1"]
    assert [h.split("/")[0] for h in next_minute["result"]["requested"]] == ["user-2"]
    again = schedule_trigger.handler(first, FakeLambdaContext())  # the same event delivered twice
    reemitted = schedule_trigger.handler({**first, "id": "re-emitted"}, FakeLambdaContext())
    assert again["result"] == reemitted["result"] == outcome["result"]
    assert_one_order_per_leg_and_broker(day)


@pytest.fixture
def machine(trading_day: TradingDay, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    definition = ASL.read_text().replace("${EmitterFunctionArn}", "arn:aws:lambda:ap-south-1:1:function:e")
    arn = sfn.create_state_machine(
        name="test-master-timer", definition=definition, roleArn="arn:aws:iam::123456789012:role/timer"
    )["stateMachineArn"]
    monkeypatch.setenv("TIMER_STATE_MACHINE_ARN", arn)
    load_settings.cache_clear()
    install_platform(load_settings(), trading_day.clock, trading_day.client)  # a cold start reads the ARN
    return arn


def test_the_daily_start_fired_twice_starts_one_timer_execution(
    trading_day: TradingDay, machine: str
) -> None:
    trading_day.move_to(datetime(2026, 11, 25, 3, 30, 0, tzinfo=UTC))
    first = timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())
    trading_day.move_to(datetime(2026, 11, 25, 3, 30, 40, tzinfo=UTC))  # the retried schedule
    second = timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())

    assert (first["started"], second["started"]) == (True, False)
    executions = boto3.client("stepfunctions", region_name=TEST_REGION).list_executions(
        stateMachineArn=machine
    )
    assert [e["name"] for e in executions["executions"]] == ["master-timer-2026-11-25-g0"]


def run_loop(day: TradingDay, start: datetime, until: datetime) -> list[Any]:
    """The local master timer (same emitter, rule routing and handlers) from `start` to `until`."""
    loop = TimerLoop(LocalPublisher(RuleRouter()), ReplayClock(start, day.clock))

    def stop_at(result: Any) -> None:
        if result.handled_tick is not None and result.handled_tick >= until:
            loop.stop.set()

    loop.on_tick = stop_at
    return loop.run_session(start)


def test_a_timer_restarted_mid_session_does_not_reenter_strategies_already_entered(
    trading_day: TradingDay,
) -> None:
    day = trading_day
    early = day.strategy("user-1", "09:20", {"acct-1": 1, "acct-2": 2})
    late = day.strategy("user-2", "09:45", {"acct-3": 1})
    first_run = run_loop(
        day, datetime(2026, 11, 25, 3, 45, tzinfo=UTC), datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    )
    assert first_run and {key[0] for key in day.log.orders} == {"acct-1", "acct-2"}
    entered = len(day.log.orders)

    # The restarted generation starts over from 09:15: it re-emits every tick since, and the
    # per-tick idempotency records are gone too (a new table, an expired TTL).
    idempotency = day.settings.idempotency_table_name
    for item in day.client.scan(TableName=idempotency)["Items"]:
        day.client.delete_item(TableName=idempotency, Key={"id": item["id"]})
    run_loop(day, datetime(2026, 11, 25, 3, 45, tzinfo=UTC), datetime(2026, 11, 25, 4, 20, tzinfo=UTC))

    assert len([k for k in day.log.orders if early in k[1]]) == entered  # nothing re-entered
    assert len([k for k in day.log.orders if late in k[1]]) == LEGS  # the day goes on
    assert_one_order_per_leg_and_broker(day)


def test_even_without_trigger_claims_a_redelivered_entry_places_nothing_twice(
    trading_day: TradingDay,
) -> None:
    day = trading_day
    day.strategy("user-1", "09:30", {"acct-1": 2})
    day.move_to(datetime(2026, 11, 25, 4, 0, 5, tzinfo=UTC))
    event = trigger("2026-11-25T04:00:00Z", "2026-11-25T04:00:00Z", "2026-11-25T04:01:00Z")
    schedule_trigger.handler(event, FakeLambdaContext())
    # Lose every guard in front of the engine: idempotency records and trigger claims.
    for table in (day.settings.idempotency_table_name, day.settings.trading_table_name):
        for item in day.client.scan(TableName=table)["Items"]:
            key_names = ("id",) if table == day.settings.idempotency_table_name else ("pk", "sk")
            if table == day.settings.trading_table_name and not item["pk"]["S"].startswith("TRIGGER"):
                continue
            day.client.delete_item(TableName=table, Key={name: item[name] for name in key_names})
    day.move_to(datetime(2026, 11, 25, 4, 1, 30, tzinfo=UTC))
    replay = schedule_trigger.handler({**event, "id": "after-a-crash"}, FakeLambdaContext())

    assert len(replay["result"]["requested"]) == 1  # handed over again ...
    assert_one_order_per_leg_and_broker(day)  # ... and the ledger placed nothing twice


def test_entries_at_0922_and_0923_reach_the_broker_in_their_own_minute_never_before(
    trading_day: TradingDay,
) -> None:
    """The trigger hands each due entry over at its scheduled minute (the 5-minute look-ahead is
    the refresher's, to prepare chains): the orders' times at the broker say so."""
    day = trading_day
    first = day.strategy("user-1", "09:22", {"acct-1": 1})
    second = day.strategy("user-2", "09:23", {"acct-2": 1})
    run_loop(day, datetime(2026, 11, 25, 3, 45, tzinfo=UTC), datetime(2026, 11, 25, 3, 55, tzinfo=UTC))

    for user, strategy_id, due in (
        ("user-1", first, datetime(2026, 11, 25, 3, 52, tzinfo=UTC)),
        ("user-2", second, datetime(2026, 11, 25, 3, 53, tzinfo=UTC)),
    ):
        placed = [entry.created_at for entry in day.ledger(user, strategy_id)]
        assert len(placed) == LEGS
        assert all(due <= at < due + timedelta(minutes=1) for at in placed), (strategy_id, placed)
    assert_one_order_per_leg_and_broker(day)
