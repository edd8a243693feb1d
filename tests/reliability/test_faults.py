"""Faults injected where AWS would raise them: a botocore `before-send` hook answers in place of
the service (moto never throttles, never reports TransactionConflict, never fails PutEvents
entries). Retries are botocore's own (bounded by the client's max attempts) or the publisher's.

DynamoDB faults run against the loopback moto *server*: in process, moto answers from its own
`before-send` handler, and botocore calls every `before-send` handler before taking the first
answer, so moto would apply the write even when the injected answer says it was throttled (a
lost response, not a throttle). PutEvents faults use `before-call`, which replaces the call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from shared_utils.composition import platform
from shared_utils.timer.plan import events_for
from shared_utils.timer.publisher import EventBridgePublisher, PublishError
from tests.conftest import TEST_REGION
from tests.integration.api.conftest import strategy_body
from tests.integration.timer.test_routing import drain, spy_queues
from tests.reliability.conftest import MotoServer

# Legacy retry mode, DynamoDB: botocore's _retry.json gives it 10 attempts in all.
DYNAMODB_MAX_ATTEMPTS = 10


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def service_error(code: str, status: int = 400, **extra: Any) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **extra})
    return AWSResponse("https://dynamodb.ap-south-1.amazonaws.com/", status, {}, _Raw(body.encode()))


class Injector:
    """Answers the first `times` sends of `operation` with `response()`; counts every send."""

    def __init__(self, client: Any, operation: str, response: Callable[[], AWSResponse], times: int) -> None:
        self.operation = operation
        self.response = response
        self.remaining = times
        self.sends = 0
        client.meta.events.register("before-send.dynamodb", self._send, unique_id=f"inject-{operation}")
        self._client = client

    def _send(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"").decode().split(".")[-1]
        if target != self.operation:
            return None
        self.sends += 1
        if self.remaining > 0:
            self.remaining -= 1
            return self.response()
        return None

    def remove(self) -> None:
        self._client.meta.events.unregister("before-send.dynamodb", unique_id=f"inject-{self.operation}")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore sleeps between attempts; record the waits instead of sleeping them."""
    waits: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=waits.append))
    return waits


@pytest.fixture
def basket(server_api) -> str:
    created = server_api("POST", "/options/baskets", body={"name": "Under fire"})
    assert created.status == 201
    return created.body["basket_id"]


def trading_items(server: MotoServer) -> list[dict[str, Any]]:
    items = server.client().scan(TableName=server.settings.trading_table_name)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def create_strategy(api: Any, basket: str) -> Any:
    return api("POST", "/options/baskets/{basket_id}/strategies", basket_id=basket, body=strategy_body())


def test_transient_throttling_is_retried_and_the_write_lands_once(
    server_api, moto_server, basket, no_backoff
) -> None:
    throttle = Injector(
        platform().dynamodb,
        "TransactWriteItems",
        lambda: service_error("ProvisionedThroughputExceededException"),
        times=3,
    )

    created = create_strategy(server_api, basket)

    assert created.status == 201, created.body
    assert throttle.sends == 4 and len(no_backoff) == 3  # three refusals, three waits, one write
    detail = server_api("GET", "/options/baskets/{basket_id}", basket_id=basket).body
    assert [s["strategy_id"] for s in detail["strategies"]] == [created.body["strategy_id"]]
    assert detail["basket"]["strategy_count"] == 1


def test_persistent_throttling_gives_up_after_bounded_retries_with_nothing_written(
    server_api, moto_server, basket, no_backoff
) -> None:
    before = trading_items(moto_server)
    throttle = Injector(
        platform().dynamodb,
        "TransactWriteItems",
        lambda: service_error("ProvisionedThroughputExceededException"),
        times=1_000,
    )

    refused = create_strategy(server_api, basket)

    assert refused.status == 429 and refused.body["code"] == "THROTTLED"
    assert refused.headers.get("Retry-After")
    assert throttle.sends == DYNAMODB_MAX_ATTEMPTS  # bounded: botocore stops, the client is told
    assert trading_items(moto_server) == before


def transaction_conflict() -> AWSResponse:
    return service_error(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": "TransactionConflict"}, {"Code": "None"}, {"Code": "None"}],
    )


def test_transaction_conflict_is_a_retryable_409_with_no_partial_write_and_the_retry_lands(
    server_api, moto_server, basket, no_backoff
) -> None:
    before = trading_items(moto_server)
    conflict = Injector(platform().dynamodb, "TransactWriteItems", transaction_conflict, times=1)

    first = create_strategy(server_api, basket)

    assert first.status == 409 and first.body["code"] == "TRANSACTION_CONFLICT", first.body
    assert conflict.sends == 1  # not retried blindly by the SDK: the client decides
    assert trading_items(moto_server) == before  # neither the strategy, its schedule nor the counter
    retried = create_strategy(server_api, basket)
    assert retried.status == 201
    detail = server_api("GET", "/options/baskets/{basket_id}", basket_id=basket).body
    assert detail["basket"]["strategy_count"] == len(detail["strategies"]) == 1


# ---------------------------------------------------------------- PutEvents partial failure

TICKS = [datetime(2026, 11, 25, 4, 0, tzinfo=UTC) + timedelta(minutes=5 * n) for n in range(4)]


def test_partial_put_events_failure_resends_only_the_failed_entries(aws) -> None:
    bus = aws["settings"].event_bus_name
    queues = spy_queues(bus)
    events = [e for tick in TICKS for e in events_for(tick, "morning", date(2026, 11, 25))]
    assert len(events) > 10  # two batches
    client = boto3.client("events", region_name=TEST_REGION)
    service = boto3.client("events", region_name=TEST_REGION)  # EventBridge's side, no fault
    sent: list[list[str]] = []
    rejected_once: set[str] = set()

    def flaky(params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        entries = json.loads(params["body"])["Entries"]
        sent.append([entry["Detail"] for entry in entries])
        if len(sent) != 1:
            return None  # moto answers
        results = []
        for n, entry in enumerate(entries):
            if n in (1, 4, 7):
                rejected_once.add(entry["Detail"])
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:  # accepted: EventBridge delivers it
                service.put_events(Entries=[entry])
                results.append({"EventId": f"accepted-{n}"})
        return AWSResponse(params["url"], 200, {}, None), {"FailedEntryCount": 3, "Entries": results}

    client.meta.events.register("before-call.events.PutEvents", flaky)
    waits: list[float] = []
    accepted = EventBridgePublisher(client, bus, sleep=waits.append).publish(events)

    assert accepted == len(events)
    assert len(sent[0]) == 10
    assert sorted(sent[1]) == sorted(rejected_once)  # only the three failed entries again
    delivered = [body["detail"] for url in queues.values() for body in drain(url)]
    published = [json.loads(event.to_entry(bus)["Detail"]) for event in events]
    assert sorted(map(json.dumps, delivered)) == sorted(map(json.dumps, published))  # each exactly once
    assert waits == [0.05]


def test_put_events_failing_every_time_stops_after_bounded_attempts(aws) -> None:
    bus = aws["settings"].event_bus_name
    client = boto3.client("events", region_name=TEST_REGION)
    attempts: list[int] = []

    def refuse(params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        entries = json.loads(params["body"])["Entries"]
        attempts.append(len(entries))
        results = [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"} for _ in entries]
        return AWSResponse(params["url"], 200, {}, None), {
            "FailedEntryCount": len(entries),
            "Entries": results,
        }

    client.meta.events.register("before-call.events.PutEvents", refuse)
    events = events_for(TICKS[0], "morning", date(2026, 11, 25))

    with pytest.raises(PublishError) as raised:
        EventBridgePublisher(client, bus, max_attempts=3, sleep=lambda _s: None).publish(events)

    assert attempts == [len(events)] * 3
    assert len(raised.value.failed) == len(events)
