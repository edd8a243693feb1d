"""The four timer-event handlers end to end on moto: parse, dedupe per tick, act once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambda_functions.option_baskets import (
    FEED_BROADCASTER,
    duplicate_order_checker,
    load_handler,
    market_data_refresher,
    schedule_trigger,
    stop_loss_checker,
)
from local_platform.timer import eventbridge_event
from shared_utils.clock import FixedClock
from shared_utils.composition import Platform
from shared_utils.events.catalog import DetailType
from shared_utils.execution.reports import DuplicateFinding
from shared_utils.execution.requests import ExecutionRequest
from shared_utils.handlers import timer as timer_handler
from shared_utils.market.expiries import ExpiryKind, valid_kinds
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.cache import QuoteCache
from shared_utils.models.basket import BasketCreate
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import StrategyCreate, StrategyUpdate
from shared_utils.repository import DynamoTradingRepository
from shared_utils.timer.publisher import PublishError
from tests.events.timer import load_event
from tests.integration.timer.conftest import FakeLambdaContext

HANDLERS = (schedule_trigger, stop_loss_checker, duplicate_order_checker, market_data_refresher)
TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST


class RecordingRequester:
    def __init__(self) -> None:
        self.requests: list[ExecutionRequest] = []

    def request_executions(self, requests: Sequence[ExecutionRequest]) -> None:
        self.requests += requests


def strategy(name: str, entry: str, weekdays: list[str], underlying: str = "NIFTY") -> StrategyCreate:
    weekly = ExpiryKind.CURRENT_WEEKLY in valid_kinds(underlying, TICK.date())
    expiry = "CURRENT_WEEKLY" if weekly else "CURRENT_MONTHLY"
    return StrategyCreate.model_validate(
        {
            "name": name,
            "underlying": underlying,
            "legs": [
                {
                    "action": "SELL",
                    "option_type": "CE",
                    "strike": {"method": "ATM_OFFSET", "steps": 0},
                    "expiry": expiry,
                }
            ],
            "entry": {"time": entry, "weekdays": weekdays},
            "exit": {"time": "15:15"},
        }
    )


@pytest.fixture
def platform(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    aws["clock"].set(TICK + timedelta(seconds=2))  # the events arrive on time
    monkeypatch.setattr(timer_handler.metrics.provider, "namespace", "OptionsPlatformTest")
    requester = RecordingRequester()
    monkeypatch.setattr(Platform, "execution_requester", lambda _root: requester)
    repo = DynamoTradingRepository.from_settings(
        aws["settings"], aws["dynamodb"], FixedClock(TICK - timedelta(days=1))
    )
    basket = repo.create_basket("user-1", BasketCreate(name="Weekly income")).basket_id
    due = repo.create_strategy("user-1", basket, strategy("Due", "09:30", ["MON", "WED"]))
    paused = repo.create_strategy("user-1", basket, strategy("Paused", "09:30", ["WED"], "BANKNIFTY"))
    repo.update_strategy(
        "user-1", paused.strategy_id, StrategyUpdate(version=paused.version, status=StrategyStatus.PAUSED)
    )
    repo.create_strategy("user-1", basket, strategy("Monday only", "09:30", ["MON"], "SENSEX"))
    repo.create_strategy("user-1", basket, strategy("Next minute", "09:31", ["WED"], "MIDCPNIFTY"))
    repo.create_strategy("user-1", basket, strategy("Later", "09:40", ["WED"], "FINNIFTY"))
    return {**aws, "requester": requester, "due": due.strategy_id}


def table_items(aws: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return aws["dynamodb"].scan(TableName=table)["Items"]


def test_same_tick_twice_triggers_each_due_strategy_once(platform: dict[str, Any]) -> None:
    event = load_event("schedule_strategy_trigger")
    first = schedule_trigger.handler(event, FakeLambdaContext())
    redelivered = {**event, "id": "another-eventbridge-id"}  # a re-emitted tick: new id, same tick
    second = schedule_trigger.handler(redelivered, FakeLambdaContext())

    requests = platform["requester"].requests
    assert [(r.strategy_id, r.action.value) for r in requests] == [(platform["due"], "ENTRY")]
    assert requests[0].scheduled_at == TICK
    assert first["status"] == second["status"] == "processed"
    assert first["result"] == second["result"]
    assert len(first["result"]["requested"]) == 1  # the paused strategy is not handed over


def test_each_entry_is_handed_over_at_its_own_minute_never_earlier(platform: dict[str, Any]) -> None:
    first = schedule_trigger.handler(load_event("schedule_strategy_trigger"), FakeLambdaContext())
    assert len(first["result"]["requested"]) == 1  # the 09:31 entry is not handed over at 09:30
    platform["clock"].set(TICK + timedelta(minutes=1, seconds=2))
    following = load_event(
        "schedule_strategy_trigger",
        tick="2026-11-25T04:01:00Z",
        window_start="2026-11-25T04:01:00Z",
        window_end="2026-11-25T04:02:00Z",
    )
    outcome = schedule_trigger.handler(following, FakeLambdaContext())
    requests = platform["requester"].requests
    assert [r.scheduled_at for r in requests] == [TICK, TICK + timedelta(minutes=1)]
    assert outcome["result"]["already_claimed"] == 0 and len(outcome["result"]["requested"]) == 1


def test_no_trigger_on_a_holiday(platform: dict[str, Any]) -> None:
    holiday = load_event(
        "schedule_strategy_trigger",
        tick="2026-11-24T04:00:00Z",
        trade_date="2026-11-24",
        window_start="2026-11-24T04:00:00Z",
        window_end="2026-11-24T04:05:00Z",
    )
    platform["clock"].set(datetime(2026, 11, 24, 4, 0, 3, tzinfo=UTC))
    outcome = schedule_trigger.handler(holiday, FakeLambdaContext())
    assert outcome["result"]["skipped_reason"] == "not a trading day"
    assert platform["requester"].requests == []


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        (
            schedule_trigger,
            {k: v for k, v in load_event("schedule_strategy_trigger").items() if k != "detail"},
        ),
        (schedule_trigger, load_event("check_stop_loss")),  # another handler's detail-type
        (stop_loss_checker, load_event("check_stop_loss", version="2")),
        (duplicate_order_checker, load_event("check_duplicate_orders", tick="2026-11-25T04:00:30Z")),
        (market_data_refresher, load_event("refresh_market_data", tick=None)),
        (stop_loss_checker, {**load_event("check_stop_loss"), "source": "someone.else"}),
    ],
    ids=[
        "no-detail",
        "wrong-detail-type",
        "wrong-version",
        "tick-not-on-boundary",
        "no-tick",
        "wrong-source",
    ],
)
def test_malformed_events_are_rejected_without_side_effects(
    platform: dict[str, Any], handler: Any, event: dict[str, Any]
) -> None:
    settings = platform["settings"]
    before = table_items(platform, settings.trading_table_name)
    outcome = handler.handler(event, FakeLambdaContext())
    assert outcome["status"] == "rejected" and outcome["reason"]
    assert table_items(platform, settings.idempotency_table_name) == []
    assert table_items(platform, settings.trading_table_name) == before
    assert platform["requester"].requests == []


def test_every_index_level_is_cached_each_minute_and_expires(platform: dict[str, Any]) -> None:
    outcome = market_data_refresher.handler(load_event("refresh_market_data"), FakeLambdaContext())
    # Every supported index, due or not: open positions and the next minute's plans price from
    # these levels alone (nothing falls back to a simulation).
    assert outcome["result"]["indices"] == len(Underlying) and outcome["result"]["contracts"] == 0
    cache = QuoteCache(platform["dynamodb"], platform["settings"].trading_table_name)
    now = platform["clock"].now()
    for underlying in Underlying:
        quote = cache.get(underlying.value, now)
        assert quote is not None and quote.last_price > 0
    assert cache.get("NIFTY", now + timedelta(seconds=301)) is None  # TTL deletion lags: reads filter


@pytest.mark.parametrize(
    ("handler", "name"),
    [(stop_loss_checker, "check_stop_loss"), (duplicate_order_checker, "check_duplicate_orders")],
)
def test_checkers_run_once_per_tick(platform: dict[str, Any], handler: Any, name: str) -> None:
    first = handler.handler(load_event(name), FakeLambdaContext())
    again = handler.handler({**load_event(name), "id": "re-emitted"}, FakeLambdaContext())
    assert first["status"] == again["status"] == "processed"
    assert first["tick"] == "2026-11-25T04:00:00Z" and first["result"] == again["result"]
    records = table_items(platform, platform["settings"].idempotency_table_name)
    assert len(records) == 1 and records[0]["status"]["S"] == "COMPLETED"


def test_duplicates_found_are_counted_in_a_metric(
    platform: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    finding = DuplicateFinding(idempotency_key="2026-11-25#s1#ENTRY#paper-1#1", order_ids=["o-1", "o-2"])

    class Scanner:
        def scan(self, trade_date: Any, start: datetime, end: datetime) -> list[DuplicateFinding]:
            assert (start, end) == (TICK - timedelta(minutes=5), TICK)  # the 5-minute lookback
            return [finding]

    monkeypatch.setattr(Platform, "duplicate_order_scanner", lambda _root: Scanner())
    outcome = duplicate_order_checker.handler(load_event("check_duplicate_orders"), FakeLambdaContext())
    assert outcome["result"]["findings"] == [finding.model_dump(mode="json")]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["DuplicateOrdersFound"] for m in emitted if "DuplicateOrdersFound" in m] == [[1.0]]


def test_a_tick_delivered_late_is_dropped_and_nothing_is_entered(platform: dict[str, Any]) -> None:
    platform["clock"].set(TICK + timedelta(hours=2))  # an EventBridge retry or a DLQ redrive
    outcome = schedule_trigger.handler(load_event("schedule_strategy_trigger"), FakeLambdaContext())

    assert outcome["status"] == "rejected" and outcome["reason"].startswith("stale tick")
    assert platform["requester"].requests == []
    assert table_items(platform, platform["settings"].idempotency_table_name) == []  # a fresh one still runs


def test_the_window_comes_from_the_tick_not_from_the_event(platform: dict[str, Any]) -> None:
    event = load_event("schedule_strategy_trigger")
    # A window stretched to the end of the day must not fire the 09:40 entry with the 09:30 one.
    event["detail"]["window_end"] = "2026-11-25T10:00:00Z"
    schedule_trigger.handler(event, FakeLambdaContext())

    assert [r.strategy_id for r in platform["requester"].requests] == [platform["due"]]


def test_the_refresh_announces_its_quotes_and_the_feed_marks_on_them(platform: dict[str, Any]) -> None:
    """QuotesRefreshed follows the stored quotes, for the same tick; the broadcaster takes it once
    per tick (nobody is connected here: nothing is read or sent)."""
    root = platform["platform"]
    outcome = market_data_refresher.handler(load_event("refresh_market_data"), FakeLambdaContext())
    assert outcome["status"] == "processed"
    (announced,) = root.announcer.take()
    assert announced.detail_type is DetailType.QUOTES_REFRESHED and announced.envelope.tick == TICK
    event = eventbridge_event(announced)
    first = load_handler(FEED_BROADCASTER)(event, FakeLambdaContext())
    again = load_handler(FEED_BROADCASTER)({**event, "id": "redelivered"}, FakeLambdaContext())
    assert first["status"] == again["status"] == "processed"
    assert first["result"] == again["result"] == {"messages": 0, "sent": 0, "gone": 0, "failed": 0}


def test_a_failed_announcement_costs_the_refresh_nothing(platform: dict[str, Any]) -> None:
    class Unreachable:
        def publish(self, events: Sequence[Any]) -> int:
            raise PublishError("the bus refused the entries", failed=[{"ErrorCode": "InternalFailure"}])

    platform["platform"].announcer = Unreachable()
    outcome = market_data_refresher.handler(load_event("refresh_market_data"), FakeLambdaContext())
    assert outcome["status"] == "processed" and outcome["result"]["indices"] == len(Underlying)
    cache = QuoteCache(platform["dynamodb"], platform["settings"].trading_table_name)
    assert cache.get("NIFTY", platform["clock"].now()) is not None
