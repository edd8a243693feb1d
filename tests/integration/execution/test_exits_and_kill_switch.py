from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared_utils import keys
from shared_utils.errors import ConfigurationError
from shared_utils.execution.duplicates import LedgerDuplicateScanner
from shared_utils.execution.engine import KILLED
from shared_utils.execution.models import (
    ExecutionStatus,
    ExitReason,
    KillSwitchState,
    LedgerEntry,
    LedgerStatus,
)
from shared_utils.keys import ScheduleKind
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import Action
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import StrategyUpdate
from tests.integration.execution.conftest import condor_body, net_quantities, timer_request

TRADE_DATE = date(2026, 11, 25)
CALENDAR = TradingCalendar.default()


request = timer_request


def open_quantities(platform, user="user-a"):
    return {
        (p.strategy_id, p.broker_account_id, p.leg_no): p.net_quantity
        for p in platform.store.positions(user)
        if p.net_quantity
    }


def test_a_trigger_delivered_three_times_through_the_requester_enters_once(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 2, "acct-2": 1})

    for _ in range(3):
        platform.execute(request(sid))

    assert open_quantities(platform) == {
        (sid, "acct-1", 1): -130,
        (sid, "acct-1", 2): 130,
        (sid, "acct-1", 3): -130,
        (sid, "acct-1", 4): 130,
        (sid, "acct-2", 1): -65,
        (sid, "acct-2", 2): 65,
        (sid, "acct-2", 3): -65,
        (sid, "acct-2", 4): 65,
    }
    assert len(platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")) == 8


def test_scheduled_exit_closes_exactly_what_is_open_and_records_pnl(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 3})
    platform.execute(request(sid))
    platform.levels["NIFTY"] = Decimal("26100")
    platform.clock.advance(timedelta(hours=5))

    platform.execute(request(sid, ScheduleKind.EXIT))
    platform.execute(request(sid, ScheduleKind.EXIT))

    assert open_quantities(platform) == {}
    for account in ("acct-1", "acct-2"):
        assert net_quantities(platform.brokers.by_account[account]) == {}
    records, _ = platform.store.list_records(
        "user-a", datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    exit_record = next(r for r in records if r.run_name == "EXIT")
    assert exit_record.status is ExecutionStatus.COMPLETE
    assert exit_record.exit_reason is ExitReason.SCHEDULED
    positions = platform.store.positions("user-a", sid)
    assert exit_record.realised_pnl == sum((p.realised_pnl for p in positions), Decimal("0"))
    assert exit_record.realised_pnl != 0


def test_a_strategy_that_never_entered_gets_no_exit_record(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.clock.advance(timedelta(hours=5))

    platform.execute(request(sid, ScheduleKind.EXIT))

    records, _ = platform.store.list_records(
        "user-a", datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    assert records == []  # not an EXIT "COMPLETE, nothing to place"


def test_an_entry_trigger_after_the_days_exit_time_enters_nothing(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.clock.advance(timedelta(hours=5))
    platform.execute(request(sid, ScheduleKind.EXIT))  # nothing open yet: no record

    late = platform.service.enter("user-a", sid, TRADE_DATE)  # a trigger that arrives after it

    assert late.status is ExecutionStatus.NOT_ENTERED and "exit already ran" in (late.reason or "")
    assert open_quantities(platform) == {}
    assert net_quantities(platform.brokers.by_account["acct-1"]) == {}


def test_kill_switch_closes_every_position_on_both_brokers_exactly_once_and_pauses(platform):
    first = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 2})
    second = platform.strategy("user-a", condor_body(name="Second"), {"acct-2": 1})
    waiting = platform.strategy("user-a", condor_body(name="Not entered yet"), {"acct-1": 1})
    platform.service.enter("user-a", first, TRADE_DATE)
    platform.service.enter("user-a", second, TRADE_DATE)
    assert len(open_quantities(platform)) == 12
    switch = platform.kill_switch

    report = switch.press("user-a", "user-a")
    assert report.operation.users_done == 0 and not report.operation.flat  # answered before the work
    platform.drain()
    done = switch.progress("user-a")
    switch.press("user-a", "user-a")
    platform.drain()
    again = switch.progress("user-a")

    assert done is not None and done.flat
    assert (done.users_done, done.exits_queued, done.exits_done, done.orders_sent) == (1, 2, 2, 12)
    assert again is not None and again.flat and (again.exits_queued, again.orders_sent) == (0, 0)
    assert open_quantities(platform) == {}
    for account in ("acct-1", "acct-2"):
        assert net_quantities(platform.brokers.by_account[account]) == {}
    exits = platform.store.ledger_of_run("user-a", TRADE_DATE, first, "EXIT") + platform.store.ledger_of_run(
        "user-a", TRADE_DATE, second, "EXIT"
    )
    assert len(exits) == 12  # one closing order per open leg per broker, no more
    assert all(e.status is LedgerStatus.FILLED and len(e.broker_order_ids) == 1 for e in exits)
    for sid in (first, second, waiting):
        assert platform.repository.get_strategy("user-a", sid).status is StrategyStatus.PAUSED

    blocked = platform.service.enter("user-a", waiting, TRADE_DATE)
    assert blocked.status is ExecutionStatus.NOT_ENTERED
    assert "kill switch" in (blocked.reason or "")
    assert open_quantities(platform) == {}

    assert switch.rearm("user-a").state is KillSwitchState.ARMED
    platform.clock.advance(timedelta(days=1))
    paused = platform.service.enter("user-a", waiting, date(2026, 11, 26))
    assert paused.status is ExecutionStatus.NOT_ENTERED and paused.reason == "the strategy is paused"
    version = platform.repository.get_strategy("user-a", waiting).version
    platform.repository.update_strategy(
        "user-a", waiting, StrategyUpdate(version=version, status=StrategyStatus.ACTIVE)
    )
    platform.clock.advance(timedelta(days=1))  # a refused entry stays refused for its day
    entered = platform.service.enter("user-a", waiting, date(2026, 11, 27))
    assert entered.status is ExecutionStatus.COMPLETE


def test_global_kill_switch_closes_every_users_positions_and_blocks_all_entries(platform):
    a = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    b = platform.strategy("user-b", condor_body(), {"acct-b": 1})
    platform.service.enter("user-a", a, TRADE_DATE)
    platform.service.enter("user-b", b, TRADE_DATE)
    switch = platform.kill_switch

    report = switch.press_global("admin-1")
    assert report.operation.users_total == 2
    platform.drain()

    progress = switch.progress(None)
    assert progress is not None and progress.flat and progress.users_done == 2
    assert platform.store.open_positions() == []
    later = platform.strategy("user-c", condor_body(), {"acct-c": 1})
    refused = platform.service.enter("user-c", later, TRADE_DATE)
    assert refused.status is ExecutionStatus.NOT_ENTERED
    assert "all users" in (refused.reason or "")


def monitor(platform):
    return platform.monitor()


def test_mtm_stop_loss_exits_the_strategy_once(platform):
    sid = platform.strategy("user-a", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-1": 2, "acct-2": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    check = monitor(platform)
    platform.clock.advance(timedelta(minutes=5))

    quiet = check.check(platform.clock.now(), TRADE_DATE)
    assert quiet.exits_requested == [] and quiet.positions_checked == 8

    platform.levels["NIFTY"] = Decimal("26600")  # a sharp rally: the short call loses
    report = check.check(platform.clock.now(), TRADE_DATE)
    again = check.check(platform.clock.now(), TRADE_DATE)

    assert report.exits_requested == [f"user-a/{sid}/STOP_LOSS"]
    assert again.exits_requested == [] and again.positions_checked == 0
    assert open_quantities(platform) == {}


def test_one_strategy_whose_exit_cannot_go_on_does_not_stop_the_others_check(platform, monkeypatch):
    stuck = platform.strategy("user-a", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-1": 1})
    other = platform.strategy("user-b", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-b": 1})
    platform.service.enter("user-a", stuck, TRADE_DATE)
    platform.service.enter("user-b", other, TRADE_DATE)
    exit_ = platform.service.exit

    def failing(user_id, strategy_id, *args, **kwargs):
        if strategy_id == stuck:  # e.g. its follow-up exit runs used up: fills keep arriving
            raise ConfigurationError(f"{strategy_id}: still open after 5 exit runs")
        return exit_(user_id, strategy_id, *args, **kwargs)

    monkeypatch.setattr(platform.service, "exit", failing)
    platform.levels["NIFTY"] = Decimal("26600")
    check = monitor(platform)
    report = check.check(platform.clock.now(), TRADE_DATE)

    assert sorted(report.exits_requested) == sorted(
        [f"user-a/{stuck}/STOP_LOSS", f"user-b/{other}/STOP_LOSS"]
    )
    assert sum(outcome.startswith(f"FAILED user-a/{stuck}") for outcome in check.outcomes) == 1
    assert open_quantities(platform, "user-b") == {}
    assert open_quantities(platform, "user-a") != {}  # left to its message's redelivery, then the DLQ


def test_a_leg_stop_loss_closes_that_leg_only(platform):
    body = condor_body()
    body["legs"][0]["stop_loss"] = {"kind": "PERCENT", "value": 30}
    sid = platform.strategy("user-a", body, {"acct-1": 1, "acct-2": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    platform.levels["NIFTY"] = Decimal("26250")

    report = monitor(platform).check(platform.clock.now(), TRADE_DATE)

    assert report.exits_requested == [f"user-a/{sid}/LEG_STOP_LOSS/leg1"]
    remaining = open_quantities(platform)
    assert {leg for (_s, _a, leg) in remaining} == {2, 3, 4}
    assert len(remaining) == 6


def test_target_and_trailing_stop(platform):
    sid = platform.strategy(
        "user-a",
        condor_body(risk={"trailing_stop_loss": {"activate_at": 100, "trail_by": 200}}),
        {"acct-1": 4},
    )
    platform.service.enter("user-a", sid, TRADE_DATE)
    check = monitor(platform)
    # Time decay in our favour: MTM rises past the activation level; no exit while it rises.
    platform.clock.advance(timedelta(hours=3))
    assert check.check(platform.clock.now(), TRADE_DATE).exits_requested == []
    # Then the market moves against the condor: MTM falls more than 200 from its peak.
    platform.levels["NIFTY"] = Decimal("26150")
    report = check.check(platform.clock.now(), TRADE_DATE)

    assert report.exits_requested == [f"user-a/{sid}/TRAILING_STOP_LOSS"]
    assert open_quantities(platform) == {}


def test_trailing_peaks_are_read_in_one_batch_and_written_only_on_a_new_high(platform, aws):
    trailing = {"trailing_stop_loss": {"activate_at": 100000, "trail_by": 200}}  # never fires here
    users = [f"user-{n}" for n in range(3)]
    for user in users:
        sid = platform.strategy(user, condor_body(risk=trailing), {f"acct-{user}": 1})
        platform.service.enter(user, sid, TRADE_DATE)
    check = monitor(platform)
    calls: list[str] = []
    aws["dynamodb"].meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    platform.clock.advance(timedelta(hours=3))  # time decay: every MTM at a new high

    check.check(platform.clock.now(), TRADE_DATE)
    first = list(calls)
    calls.clear()
    check.check(platform.clock.now(), TRADE_DATE)  # the same prices: no new high

    assert first.count("UpdateItem") == 3 and calls.count("UpdateItem") == 0
    # per open-positions partition holding them: strategies, kill switches and peaks, one
    # BatchGetItem each
    partitions = len({keys.open_positions_gsi1pk(user) for user in users})
    assert first.count("BatchGetItem") == calls.count("BatchGetItem") == 3 * partitions


def test_intraday_positions_are_squared_off_before_the_close(platform):
    sid = platform.strategy("user-a", condor_body(exit=None), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    close = CALENDAR.session(TRADE_DATE).close

    early = monitor(platform).check(close - timedelta(minutes=30), TRADE_DATE)
    late = monitor(platform).check(close - timedelta(minutes=5), TRADE_DATE)

    assert early.exits_requested == []
    assert late.exits_requested == [f"user-a/{sid}/SQUARE_OFF"]
    assert open_quantities(platform) == {}


def test_the_duplicate_scanner_flags_an_order_outside_the_plan(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    scanner = LedgerDuplicateScanner(platform.store, platform.clock)
    start, end = platform.clock.now() - timedelta(minutes=5), platform.clock.now() + timedelta(minutes=1)

    assert scanner.scan(TRADE_DATE, start, end) == []

    now = platform.clock.now()
    stray = LedgerEntry(
        order_key=f"2026-11-25#{sid}#ENTRY#acct-1#1#2",
        user_id="user-a",
        strategy_id=sid,
        broker_account_id="acct-1",
        broker="PAPER",
        leg_no=1,
        slice_no=2,
        tag="STRAY",
        side=Action.SELL,
        quantity=65,
        instrument_key="NIFTY|2026-12-01|26100|CE",
        status=LedgerStatus.FILLED,
        attempt=1,
        broker_order_ids=["PAPER-X"],
        created_at=now,
        updated_at=now,
    )
    platform.store.claim(stray, TRADE_DATE)

    findings = scanner.scan(TRADE_DATE, start, end)

    assert [f.idempotency_key for f in findings] == [stray.order_key]
    assert findings[0].order_ids == ["PAPER-X"]


def test_the_minute_check_retries_a_run_a_broker_outage_left_incomplete(platform):
    from tests.integration.execution.conftest import DownBroker

    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 2})
    healthy = platform.brokers.by_account["acct-1"]
    down = DownBroker()
    platform.brokers.by_account["acct-2"] = down
    first = platform.service.enter("user-a", sid, TRADE_DATE)
    assert first.status is ExecutionStatus.PARTIAL
    assert platform.store.runs_to_retry(TRADE_DATE) == [("user-a", sid, "ENTRY")]

    check = monitor(platform)
    still_down = check.check(platform.clock.now(), TRADE_DATE)
    assert still_down.exits_requested == [f"user-a/{sid}/RETRY_ENTRY"]
    assert check.outcomes == ["ENTRY:PARTIAL (acct-2: BROKER_UNAVAILABLE: connection refused)"]

    down.inner = platform.brokers.paper("acct-2-back")
    platform.brokers.by_account["acct-2"] = down
    down.up = True
    report = check.check(platform.clock.now(), TRADE_DATE)

    assert report.exits_requested == [f"user-a/{sid}/RETRY_ENTRY"] and check.outcomes == ["ENTRY:COMPLETE"]
    assert platform.store.runs_to_retry(TRADE_DATE) == []
    assert net_quantities(down.inner) == {k: v * 2 for k, v in net_quantities(healthy).items()}
    assert len(platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")) == 8


def test_a_retried_entry_after_the_days_exit_places_nothing_and_the_day_ends_flat(platform):
    from tests.integration.execution.conftest import DownBroker

    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 2})
    healthy = platform.brokers.by_account["acct-1"]
    down = DownBroker()
    platform.brokers.by_account["acct-2"] = down
    first = platform.service.enter("user-a", sid, TRADE_DATE)
    assert first.status is ExecutionStatus.PARTIAL  # acct-2 is on the retry list

    platform.clock.advance(timedelta(hours=5))  # the scheduled exit closes what is open
    platform.execute(request(sid, ScheduleKind.EXIT))
    down.inner = platform.brokers.paper("acct-2-back")
    platform.brokers.by_account["acct-2"] = down
    down.up = True  # acct-2 comes back after the exit
    monitor(platform).check(platform.clock.now(), TRADE_DATE)

    assert net_quantities(healthy) == {} and net_quantities(down.inner) == {}
    assert open_quantities(platform) == {}
    assert platform.store.runs_to_retry(TRADE_DATE) == []
    records, _ = platform.store.list_records(
        "user-a", datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    entry = next(r for r in records if r.run_name == "ENTRY")
    assert entry.status is ExecutionStatus.PARTIAL  # the first attempt's record stands


class PressesTheKillSwitchDuringTheNthOrder:
    """The trader presses the kill switch while the entry's Nth order is at the broker."""

    def __init__(self, inner, nth, press):
        self.inner, self.nth, self.press = inner, nth, press
        self.sent: Counter = Counter()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def place(self, order):
        self.sent[order.order_key] += 1
        result = self.inner.place(order)
        if sum(self.sent.values()) == self.nth:
            self.press()
        return result


def test_the_kill_switch_stops_an_entry_between_two_orders_and_its_square_off_closes_what_filled(platform):
    """#15 4a: pressed (from another process: a broker thread here) while the entry's hedge is at
    the broker, the entry places no sell leg; the press's queued exit runs after the entry and
    closes the hedge. Every order reached the broker once; flat on both sides."""
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    switch = platform.kill_switch
    paper = platform.brokers.by_account["acct-1"]
    reports = []

    def press():
        # The broker took 2 s over the hedge: longer than the engine goes without reading the
        # switch again (`KILL_SWITCH_RECHECK`), so the next order sees the press.
        platform.clock.advance(timedelta(seconds=2))
        reports.append(switch.press("user-a", "user-a"))

    broker = PressesTheKillSwitchDuringTheNthOrder(paper, 2, press)
    platform.brokers.by_account["acct-1"] = broker

    entry = platform.service.enter("user-a", sid, TRADE_DATE)

    assert entry.status is ExecutionStatus.PARTIAL
    assert [o.status for o in entry.brokers[0].orders] == [
        LedgerStatus.FILLED,
        LedgerStatus.FILLED,
        None,
        None,
    ]
    assert {o.reason for o in entry.brokers[0].orders[2:]} == {KILLED}
    entered = platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")
    assert [e.side for e in entered] == [Action.BUY, Action.BUY]  # no sell leg went out
    assert len(reports) == 1 and len(open_quantities(platform)) == 2

    platform.drain()  # the press's square-off, queued while the entry held the strategy
    assert open_quantities(platform) == {}
    report = platform.monitor().check(platform.clock.now(), TRADE_DATE)  # the sweep retries the entry

    assert report.exits_requested == [f"user-a/{sid}/RETRY_ENTRY"]
    refused = platform.store.runs_to_retry(TRADE_DATE)
    assert refused == []  # the retry was refused by the switch, and taken off the list
    assert net_quantities(paper) == {} and open_quantities(platform) == {}
    assert set(broker.sent.values()) == {1} and len(broker.sent) == 4  # two entry orders, two exits
    switch.press("user-a", "user-a")
    platform.drain()
    progress = switch.progress("user-a")
    assert progress is not None and progress.flat and progress.orders_sent == 0


class CountingPrices:
    def __init__(self, market):
        self._market = market
        self.asked: list = []

    def price(self, instrument):
        self.asked.append(instrument)
        return self._market.price(instrument)


def test_a_quiet_check_writes_nothing_and_prices_each_contract_once(platform, aws):
    first = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 1})
    second = platform.strategy("user-b", condor_body(), {"acct-b": 2})
    platform.service.enter("user-a", first, TRADE_DATE)
    platform.service.enter("user-b", second, TRADE_DATE)
    prices = CountingPrices(platform.market)
    check = platform.monitor(prices)
    calls: list[str] = []
    aws["dynamodb"].meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    report = check.check(platform.clock.now(), TRADE_DATE)

    partitions = len({keys.open_positions_gsi1pk(user) for user in ("user-a", "user-b")})
    assert report.exits_requested == [] and report.positions_checked == 12
    # The condor's four contracts, once per partition checked.
    assert len(prices.asked) == 4 * partitions and len(set(prices.asked)) == 4
    writes = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
    assert [name for name in calls if name in writes] == []
    # Per partition, its strategies in one batched read and its users' kill switches in another,
    # not one read per strategy per minute.
    assert calls.count("BatchGetItem") == 2 * partitions and "GetItem" not in calls


def test_positions_spread_over_shards_and_unsharded_ones_are_still_watched(platform, aws):
    users = [f"user-{n}" for n in range(12)]
    for user in users:
        platform.service.enter(user, platform.strategy(user, condor_body(), {f"acct-{user}": 1}), TRADE_DATE)
    client, table = aws["dynamodb"], aws["settings"].history_table_name
    items = client.scan(
        TableName=table, FilterExpression="entity = :p", ExpressionAttributeValues={":p": {"S": "POSITION"}}
    )["Items"]
    partitions = {item["gsi1pk"]["S"] for item in items}
    assert len(partitions) > 1 and partitions <= set(keys.open_positions_partitions())
    # A position opened before sharding sits in the unsharded partition until it closes.
    legacy = dict(items[0]) | {"gsi1pk": {"S": keys.OPEN_POSITIONS_GSI1PK}}
    client.put_item(TableName=table, Item=legacy)

    watched = platform.store.open_positions()

    assert len(watched) == len(items) == 4 * len(users)
    assert {p.user_id for p in watched} == set(users)


def test_the_minutes_position_reads_leave_the_growing_applied_set_in_the_table(platform, aws):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    raw = aws["dynamodb"].get_item(
        TableName=aws["settings"].history_table_name,
        Key={"pk": {"S": "USER#user-a"}, "sk": {"S": platform.store.positions("user-a")[0].position_sk}},
    )["Item"]
    assert "applied" in raw  # the order keys already in the position: kept for exactly-once fills
    queries: list[dict] = []
    aws["dynamodb"].meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(dict(params))
    )

    monitor(platform).check(platform.clock.now(), TRADE_DATE)

    position_reads = [q for q in queries if "POSITION" in json.dumps(q.get("ExpressionAttributeValues", {}))]
    assert position_reads and all("applied" not in json.dumps(q) for q in position_reads)
    assert all("ProjectionExpression" in q for q in position_reads)
