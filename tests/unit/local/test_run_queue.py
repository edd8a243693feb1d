"""The local run queue: SQS-shaped deliveries to the executor handler on worker threads, one
strategy's runs in order, failed messages delivered again and then dead-lettered, senders that
wait until what they queued (and what that queued) has run."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest

from local_platform.run_queue import LocalRunQueue
from shared_utils.execution.runs import RunKind, StrategyRun

AT = datetime(2026, 11, 25, 3, 50, tzinfo=UTC)


def run(strategy: str, user: str = "u1", kind: RunKind = RunKind.ENTRY, **extra: Any) -> StrategyRun:
    return StrategyRun(
        kind=kind,
        user_id=user,
        strategy_id=strategy,
        trade_date=date(2026, 11, 25),
        scheduled_at=AT,
        **extra,
    )


class Recorder:
    """A handler that records what it ran and fails the messages it is told to."""

    def __init__(self, fail: set[str] | None = None, pause_s: float = 0.0) -> None:
        self.ran: list[tuple[str, int, str]] = []
        self.fail = fail or set()
        self.pause_s = pause_s
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        self.queue: LocalRunQueue | None = None
        self.then: dict[str, list[StrategyRun]] = {}

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        (record,) = event["Records"]
        message = StrategyRun.model_validate_json(record["body"])
        time.sleep(self.pause_s)
        with self.lock:
            self.ran.append(
                (message.strategy_id, int(record["attributes"]["ApproximateReceiveCount"]), message.kind)
            )
            self.threads.add(threading.current_thread().name)
        if self.queue is not None and message.strategy_id in self.then:
            self.queue.send(self.then.pop(message.strategy_id))
        if message.strategy_id in self.fail:
            return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
        return {"batchItemFailures": []}


def test_a_senders_wait_covers_what_the_runs_queue_and_one_strategys_runs_stay_in_order() -> None:
    recorder = Recorder(pause_s=0.01)
    queue = LocalRunQueue(workers=4, wait_on_send=True, handler=lambda: recorder)
    recorder.queue = queue
    recorder.then = {"fan-out": [run(f"sub-{n}", user=f"sub{n}") for n in range(8)]}
    ordered = [run("s1", attempt=n) for n in range(5)]

    queue.send([*ordered, run("fan-out", kind=RunKind.SUBSCRIBERS)])

    assert queue.outstanding == 0 and queue.delivered == 14
    assert {name for name, _count, _kind in recorder.ran} >= {f"sub-{n}" for n in range(8)}
    assert [r for r in recorder.ran if r[0] == "s1"] == [("s1", 1, "ENTRY")] * 5
    assert len(recorder.threads) > 1  # different strategies ran on different workers
    queue.stop()


def test_a_failed_message_is_delivered_again_then_dead_lettered_and_the_others_run() -> None:
    recorder = Recorder(fail={"broken"})
    queue = LocalRunQueue(
        workers=2, wait_on_send=True, max_receives=3, max_delay_s=0.01, handler=lambda: recorder
    )

    queue.send([run("broken"), run("fine")])

    assert [count for name, count, _kind in recorder.ran if name == "broken"] == [1, 2, 3]
    assert [name for name, _count, _kind in recorder.ran].count("fine") == 1
    assert [r.strategy_id for r in queue.dead_letters] == ["broken"]
    queue.stop()


def test_a_handler_that_raises_counts_as_a_failed_delivery() -> None:
    calls: list[int] = []

    def crashing(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        calls.append(1)
        raise RuntimeError("executor crashed")

    queue = LocalRunQueue(
        workers=1, wait_on_send=True, max_receives=2, max_delay_s=0.01, handler=lambda: crashing
    )
    queue.send([run("s1")])

    assert len(calls) == 2 and len(queue.dead_letters) == 1
    queue.stop()


def test_without_waiting_the_sender_returns_at_once_and_wait_idle_sees_the_end() -> None:
    recorder = Recorder(pause_s=0.2)
    queue = LocalRunQueue(workers=1, handler=lambda: recorder)

    queue.send([run("s1")])

    assert recorder.ran == [] and queue.outstanding == 1
    assert queue.wait_idle(timeout=10)
    assert recorder.ran == [("s1", 1, "ENTRY")]
    queue.stop()


def test_a_stopped_queue_refuses_runs_instead_of_keeping_them_unrun() -> None:
    queue = LocalRunQueue(workers=1, handler=lambda: Recorder())
    queue.send([run("s1")])
    assert queue.wait_idle(timeout=10)
    queue.stop()

    with pytest.raises(RuntimeError, match="stopped"):
        queue.send([run("s2")])
    assert queue.wait_idle(timeout=1)
