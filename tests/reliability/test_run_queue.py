"""Strategy runs as queue messages, through the deployed executor handler (`strategy_executor`):
a standard queue may deliver a message twice, to two executors at once, and again later; a run
message may arrive after its minute. The broker must see each order once, and a late entry must
place nothing and say why."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from lambda_functions.option_baskets import strategy_executor
from local_platform.run_queue import sqs_record
from local_platform.wsgi import LocalContext
from shared_utils.execution.models import ExecutionStatus
from shared_utils.execution.runs import RunKind, StrategyRun
from tests.reliability.timer_harness import TRADE_DAY_START, TradingDay, trading_day  # noqa: F401

ENTRY_AT = TRADE_DAY_START + timedelta(minutes=10)  # 09:20 IST
LEGS = 4


def sqs_event(run: StrategyRun, message_id: str, receive_count: int = 1) -> dict[str, Any]:
    return {"Records": [sqs_record(message_id, run.model_dump_json(), receive_count)]}


def entry_run(user: str, strategy_id: str) -> StrategyRun:
    return StrategyRun(
        kind=RunKind.ENTRY,
        user_id=user,
        strategy_id=strategy_id,
        trade_date=ENTRY_AT.date(),
        scheduled_at=ENTRY_AT,
    )


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return strategy_executor.handler(event, LocalContext(function_name="strategy-executor"))


def test_the_same_run_delivered_twice_at_once_and_again_later_reaches_the_broker_once(
    trading_day: TradingDay,  # noqa: F811
) -> None:
    day = trading_day
    sid = day.strategy("user-1", "09:20", {"acct-1": 2, "acct-2": 1})
    day.move_to(ENTRY_AT + timedelta(seconds=2))
    run = entry_run("user-1", sid)
    start = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def deliver(message_id: str) -> None:
        start.wait()
        answers.append(invoke(sqs_event(run, message_id)))

    threads = [threading.Thread(target=deliver, args=(f"copy-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    later = invoke(sqs_event(run, "copy-0", receive_count=2))  # the visibility timeout ran out

    assert [a["batchItemFailures"] for a in answers] == [[], []] and later["batchItemFailures"] == []
    per_key = day.log.per_key()
    assert len(per_key) == 2 * LEGS and set(per_key.values()) == {1}
    assert len(day.ledger("user-1", sid)) == 2 * LEGS
    positions = {(p.broker_account_id, p.leg_no): p.net_quantity for p in day.store.positions("user-1", sid)}
    assert sorted(abs(q) for q in positions.values()) == [65] * LEGS + [130] * LEGS


def test_an_entry_message_that_arrives_after_its_bound_places_nothing_and_records_why(
    trading_day: TradingDay,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    day = trading_day
    sid = day.strategy("user-1", "09:20", {"acct-1": 1})
    day.move_to(ENTRY_AT + timedelta(minutes=3))  # past the 120 s bound: a backlog, a redrive

    answer = invoke(sqs_event(entry_run("user-1", sid), "late"))

    assert answer["batchItemFailures"] == []
    assert day.log.orders == []
    records, _ = day.store.list_records(
        "user-1", ENTRY_AT - timedelta(hours=1), ENTRY_AT + timedelta(hours=1)
    )
    (record,) = records
    assert record.status is ExecutionStatus.NOT_ENTERED
    assert record.reason == "the entry arrived 180 s after its minute"
    assert '"EntriesTooLate":[1.0]' in capsys.readouterr().out  # the metric its alarm watches


def test_a_message_that_cannot_be_read_fails_alone_and_the_rest_of_the_batch_runs(
    trading_day: TradingDay,  # noqa: F811
) -> None:
    day = trading_day
    sid = day.strategy("user-1", "09:20", {"acct-1": 1})
    day.move_to(ENTRY_AT + timedelta(seconds=1))
    good = sqs_event(entry_run("user-1", sid), "good")["Records"][0]
    bad = {**good, "messageId": "bad", "body": json.dumps({"kind": "ENTRY"})}

    answer = invoke({"Records": [bad, good]})

    assert answer["batchItemFailures"] == [{"itemIdentifier": "bad"}]
    assert len(day.log.orders) == LEGS
