"""The bus rules built from the catalog, with SQS spy targets: each detail-type reaches only its
own target, published through the real EventBridge publisher."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import boto3

from shared_utils.events.catalog import ANNOUNCEMENTS, EVENT_SOURCE, HANDLER_MODULES, DetailType, rule_pattern
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.plan import events_for
from shared_utils.timer.publisher import EventBridgePublisher
from tests.conftest import TEST_REGION

TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def spy_queues(bus: str) -> dict[DetailType, str]:
    events = boto3.client("events", region_name=TEST_REGION)
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    queues: dict[DetailType, str] = {}
    for detail_type, module in HANDLER_MODULES.items():
        if detail_type in ANNOUNCEMENTS:  # published by a handler, not by the timer
            continue
        url = sqs.create_queue(QueueName=f"spy-{module}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name=f"timer-{module}", EventBusName=bus, EventPattern=json.dumps(rule_pattern(detail_type))
        )
        events.put_targets(Rule=f"timer-{module}", EventBusName=bus, Targets=[{"Id": "spy", "Arn": arn}])
        queues[detail_type] = url
    return queues


def drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_detail_type_reaches_only_its_own_target(aws: dict[str, Any]) -> None:
    bus = aws["settings"].event_bus_name
    queues = spy_queues(bus)
    publisher = EventBridgePublisher(boto3.client("events", region_name=TEST_REGION), bus)
    minute_events = events_for(TICK, "morning", date(2026, 11, 25))
    assert publisher.publish(minute_events) == 4
    # Something else on the bus must reach no timer handler.
    boto3.client("events", region_name=TEST_REGION).put_events(
        Entries=[
            {"Source": "options.api", "DetailType": "CheckStopLoss", "Detail": "{}", "EventBusName": bus}
        ]
    )

    for detail_type, url in queues.items():
        received = drain(url)
        assert [body["detail-type"] for body in received] == [detail_type.value]
        assert received[0]["source"] == EVENT_SOURCE
        envelope = TimerEnvelope.model_validate(received[0]["detail"])
        assert envelope.tick == TICK and envelope.version == "1"
