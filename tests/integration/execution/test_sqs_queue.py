"""The SQS run queue: batches of ten, the entries SQS did not take sent again, and an error when
some still fail (so the trigger gives its claims back)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest

from shared_utils.errors import RunsNotQueuedError
from shared_utils.execution.runs import RunKind, StrategyRun
from shared_utils.execution.sqs_queue import SqsRunQueue
from tests.conftest import TEST_REGION

AT = datetime(2026, 11, 25, 3, 50, tzinfo=UTC)


def runs(count: int) -> list[StrategyRun]:
    return [
        StrategyRun(
            kind=RunKind.ENTRY,
            user_id=f"u{n}",
            strategy_id=f"s{n}",
            trade_date=date(2026, 11, 25),
            scheduled_at=AT,
        )
        for n in range(count)
    ]


def test_twenty_five_runs_go_in_three_batches_and_come_back_as_sent(aws: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    url = sqs.create_queue(QueueName="strategy-runs")["QueueUrl"]
    calls: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: calls.append(len(params["Entries"]))
    )

    SqsRunQueue(sqs, url).send(runs(25))

    assert sorted(calls) == [5, 10, 10]  # sent concurrently
    received: list[StrategyRun] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received += [StrategyRun.model_validate_json(message["Body"]) for message in batch]
    assert sorted(r.user_id for r in received) == sorted(r.user_id for r in runs(25))


class Flaky:
    """SendMessageBatch that refuses some entries (SQS throttling answers this way, per entry)."""

    def __init__(self, refuse_times: int, sender_fault: bool = False) -> None:
        self.refuse_times = refuse_times
        self.sender_fault = sender_fault
        self.batches: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append([entry["Id"] for entry in Entries])
        if self.refuse_times:
            self.refuse_times -= 1
            failed = {"Id": Entries[-1]["Id"], "Code": "ServiceUnavailable", "SenderFault": self.sender_fault}
            return {"Successful": [{"Id": e["Id"]} for e in Entries[:-1]], "Failed": [failed]}
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_an_entry_sqs_refused_is_sent_again_alone() -> None:
    client = Flaky(refuse_times=1)
    SqsRunQueue(client, "url").send(runs(3))  # type: ignore[arg-type]
    assert client.batches == [["0", "1", "2"], ["2"]]


class RefusesOne:
    """SendMessageBatch that always refuses the run of one user (thread-safe: no shared counter)."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.sent: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        bodies = {e["Id"]: StrategyRun.model_validate_json(e["MessageBody"]).user_id for e in Entries}
        refused = [
            {"Id": i, "Code": "ServiceUnavailable", "SenderFault": False}
            for i, u in bodies.items()
            if u == self.user
        ]
        self.sent += [u for u in bodies.values() if u != self.user]
        return {"Successful": [], "Failed": refused}


def test_a_batch_still_refused_among_several_sent_at_once_fails_the_send() -> None:
    client = RefusesOne("u17")
    with pytest.raises(RunsNotQueuedError) as raised:
        SqsRunQueue(client, "url").send(runs(35))  # type: ignore[arg-type]
    assert raised.value.failed == 1
    assert sorted(client.sent) == sorted(f"u{n}" for n in range(35) if n != 17)  # the rest went


def test_entries_still_refused_or_malformed_raise() -> None:
    with pytest.raises(RunsNotQueuedError):
        SqsRunQueue(Flaky(refuse_times=5), "url").send(runs(2))  # type: ignore[arg-type]
    sender_fault = Flaky(refuse_times=1, sender_fault=True)
    with pytest.raises(RunsNotQueuedError):
        SqsRunQueue(sender_fault, "url").send(runs(2))  # type: ignore[arg-type]
    assert len(sender_fault.batches) == 1  # a malformed entry is not retried
