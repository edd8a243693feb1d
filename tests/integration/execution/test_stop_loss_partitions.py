"""The minute's stop-loss check split by open-positions partition: the tick only queues a CHECK
run per partition (and the day's retries); each CHECK run, in an executor, reads its own
partition and queues the exits it finds, which executors run like any other run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared_utils import keys
from shared_utils.execution.runs import RunKind, StrategyRun
from tests.integration.execution.conftest import condor_body

TRADE_DATE = date(2026, 11, 25)


def position_queries(aws):
    seen: list[str] = []

    def record(params, **_):
        values = json.dumps(params.get("ExpressionAttributeValues", {}))
        if keys.OPEN_POSITIONS_GSI1PK in values:
            seen.append(params["ExpressionAttributeValues"][":pk"]["S"])

    aws["dynamodb"].meta.events.register("provide-client-params.dynamodb.Query", record)
    return seen


def test_the_tick_queues_one_check_per_partition_and_each_reads_only_its_own(platform, aws):
    users = [f"user-{n}" for n in range(8)]
    strategies = {
        user: platform.strategy(user, condor_body(risk={"mtm_stop_loss": 2000}), {f"acct-{user}": 1})
        for user in users
    }
    for user, sid in strategies.items():
        platform.service.enter(user, sid, TRADE_DATE)
    check = platform.monitor()
    executor = platform.checking_executor(check)
    platform.clock.advance(timedelta(minutes=5))
    platform.levels["NIFTY"] = Decimal("26600")  # every short call loses past its stop
    queries = position_queries(aws)

    report = check.monitor.check(platform.clock.now(), TRADE_DATE)

    partitions = keys.open_positions_partitions()
    assert report.partitions_queued == len(partitions) and report.positions_checked == 0
    assert queries == []  # the tick reads no position
    queued = [run for run in platform.queue.sent if run.kind is RunKind.CHECK]
    assert [run.partition for run in queued] == partitions
    assert len({run.group for run in queued}) == len(partitions)  # checked side by side

    outcomes = platform.queue.drain(executor)

    assert sorted(queries) == sorted(partitions)  # each CHECK read its partition, once
    checks = [o for o in outcomes if o.startswith("checked")]
    assert len(checks) == len(partitions)
    assert sum(int(o.split()[1]) for o in checks) == 4 * len(users)  # every position, once
    exits = [o for o in outcomes if not o.startswith("checked")]
    assert len(exits) == len(users)
    assert all(p.net_quantity == 0 for user in users for p in platform.store.positions(user))


def test_a_check_delivered_twice_closes_nothing_twice(platform):
    sid = platform.strategy("user-a", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    check = platform.monitor()
    executor = platform.checking_executor(check)
    platform.clock.advance(timedelta(minutes=5))
    platform.levels["NIFTY"] = Decimal("26600")
    check.monitor.check(platform.clock.now(), TRADE_DATE)
    platform.queue.sent += [run for run in platform.queue.sent if run.kind is RunKind.CHECK]  # redelivered

    platform.queue.drain(executor)

    exits = platform.store.ledger_of_day("user-a", TRADE_DATE, sid)
    closing = [e for e in exits if "#EXIT" in e.order_key]
    assert len(closing) == 4 and all(p.net_quantity == 0 for p in platform.store.positions("user-a"))


def test_a_check_run_names_its_partition_and_other_runs_their_user():
    tick = {"trade_date": TRADE_DATE, "scheduled_at": "2026-11-25T04:00:00Z"}
    with pytest.raises(ValidationError, match="names its partition"):
        StrategyRun(kind=RunKind.CHECK, **tick)
    with pytest.raises(ValidationError, match="names its user"):
        StrategyRun(kind=RunKind.EXIT, strategy_id="s", **tick)
    assert StrategyRun(kind=RunKind.CHECK, partition="OPEN#1", **tick).group == "CHECK/OPEN#1"
