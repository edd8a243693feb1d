"""Batching to 10 and re-sending only what PutEvents rejected, a bounded number of times."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from shared_utils.events.catalog import EVENT_SOURCE
from shared_utils.timer.envelope import TimerEvent
from shared_utils.timer.plan import events_for
from shared_utils.timer.publisher import EventBridgePublisher, PublishError
from tests.unit.timer.fakes import FakeEventBridge

START = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def some_events(count: int) -> list[TimerEvent]:
    events: list[TimerEvent] = []
    minute = 0
    while len(events) < count:
        events.extend(events_for(START + timedelta(minutes=minute), "morning", date(2026, 11, 25)))
        minute += 1
    return events[:count]


def publisher(fake: FakeEventBridge, attempts: int = 3) -> EventBridgePublisher:
    return EventBridgePublisher(cast(Any, fake), "bus", max_attempts=attempts, sleep=lambda _: None)


def test_batches_of_at_most_ten_in_order() -> None:
    fake = FakeEventBridge()
    events = some_events(23)
    assert publisher(fake).publish(events) == 23
    assert [len(call) for call in fake.calls] == [10, 10, 3]
    assert [json.loads(entry["Detail"])["tick"] for entry in fake.delivered] == [
        event.envelope.tick_iso() for event in events
    ]
    first = fake.delivered[0]
    assert first["Source"] == EVENT_SOURCE and first["EventBusName"] == "bus"
    assert first["DetailType"] == events[0].detail_type.value


def test_only_failed_entries_are_resent() -> None:
    fake = FakeEventBridge(fail_plan={0: {2, 7}, 1: {1}})
    events = some_events(10)
    assert publisher(fake).publish(events) == 10
    assert [len(call) for call in fake.calls] == [10, 2, 1]
    assert fake.calls[1] == [fake.calls[0][2], fake.calls[0][7]]
    assert fake.calls[2] == [fake.calls[0][7]]
    delivered = [(entry["DetailType"], entry["Detail"]) for entry in fake.delivered]
    assert len(delivered) == len(set(delivered)) == 10


def test_gives_up_after_bounded_attempts_naming_what_failed() -> None:
    fake = FakeEventBridge(fail_plan={0: {4}, 1: {0}, 2: {0}})
    with pytest.raises(PublishError) as raised:
        publisher(fake, attempts=3).publish(some_events(6))
    assert len(fake.calls) == 3
    assert raised.value.failed == [fake.calls[0][4]]
    assert len(fake.delivered) == 5


def test_nothing_to_publish_calls_nothing() -> None:
    fake = FakeEventBridge()
    assert publisher(fake).publish([]) == 0
    assert fake.calls == []
