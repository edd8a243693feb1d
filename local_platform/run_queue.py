"""The run queue on this machine: the deployed path (messages -> `strategy_executor.handler`
with SQS-shaped events and partial batch responses) on worker threads instead of SQS + Lambda.

- Runs of one group (one strategy) go to the same worker, in order; different strategies run in
  parallel on `workers` threads.
- A message the handler reports failed is delivered again (its receive count goes up) and, after
  `max_receives`, kept in `dead_letters` and logged, like the deployed queue's redrive to its DLQ.
- Delays (a busy strategy's run sent back, an early entry) are honoured up to `max_delay_s` of
  real time: enough for the run holding the strategy to finish.
- `wait_on_send`: a sender that is not one of the workers waits until the queue is idle, so the
  timer handlers and API routes of tests and `simulate` return once what they queued has run.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from lambda_functions.option_baskets import STRATEGY_EXECUTOR, load_handler
from local_platform.wsgi import LocalContext
from shared_utils.execution.runs import StrategyRun

logger = Logger(child=True)

QUEUE_ARN = "arn:aws:sqs:local:000000000000:strategy-runs"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class _Message:
    body: str
    group: str
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receives: int = 0
    available_at: float = 0.0


def sqs_record(message_id: str, body: str, receive_count: int = 1) -> dict[str, Any]:
    """One record of an SQS event as an event source mapping hands it to the function."""
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SenderId": "local"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "local",
    }


def _executor_handler() -> Handler:
    return load_handler(STRATEGY_EXECUTOR)


class LocalRunQueue:
    def __init__(
        self,
        *,
        workers: int = 4,
        wait_on_send: bool = False,
        max_receives: int = 3,
        max_delay_s: float = 0.5,
        handler: Callable[[], Handler] = _executor_handler,
    ) -> None:
        if workers < 1:
            raise ValueError("the local run queue needs at least one worker")
        self._workers = workers
        self._wait_on_send = wait_on_send
        self._max_receives = max_receives
        self._max_delay_s = max_delay_s
        self._handler = handler
        self._shards: list[deque[_Message]] = [deque() for _ in range(workers)]
        self._ready = threading.Condition()
        self._outstanding = 0
        self._threads: list[threading.Thread] = []
        self._worker_idents: set[int] = set()
        self._stopped = False
        self.dead_letters: list[StrategyRun] = []
        self.delivered = 0

    # ------------------------------------------------------------------ RunQueue

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        if not runs:
            return
        available = time.monotonic() + min(max(0, delay_s), self._max_delay_s)
        with self._ready:
            if self._stopped:
                raise RuntimeError("the local run queue is stopped: nothing would run these runs")
            self._start_workers()
            for run in runs:
                message = _Message(body=run.model_dump_json(), group=run.group, available_at=available)
                self._shard(message.group).append(message)
                self._outstanding += 1
            self._ready.notify_all()
        if self._wait_on_send and threading.get_ident() not in self._worker_idents:
            self.wait_idle()

    # ------------------------------------------------------------------ control

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every message sent (and every message those sent) is done or dead-lettered,
        or the queue is stopped."""
        with self._ready:
            return self._ready.wait_for(lambda: self._outstanding == 0 or self._stopped, timeout=timeout)

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def outstanding(self) -> int:
        return self._outstanding

    # ------------------------------------------------------------------ workers

    def _shard(self, group: str) -> deque[_Message]:
        return self._shards[zlib.crc32(group.encode()) % self._workers]

    def _start_workers(self) -> None:
        if self._threads:
            return
        for index in range(self._workers):
            thread = threading.Thread(
                target=self._work, args=(self._shards[index],), name=f"run-executor-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _next(self, shard: deque[_Message]) -> _Message | None:
        with self._ready:
            while not self._stopped:
                if shard:
                    wait = shard[0].available_at - time.monotonic()
                    if wait <= 0:
                        return shard.popleft()
                    self._ready.wait(timeout=wait)
                else:
                    self._ready.wait()
            return None

    def _work(self, shard: deque[_Message]) -> None:
        self._worker_idents.add(threading.get_ident())
        while (message := self._next(shard)) is not None:
            message.receives += 1
            failed = self._deliver(message)
            with self._ready:
                if failed and message.receives < self._max_receives:
                    message.available_at = time.monotonic() + self._max_delay_s
                    shard.append(message)
                else:
                    if failed:
                        run = StrategyRun.model_validate_json(message.body)
                        self.dead_letters.append(run)
                        logger.error("Strategy run dead-lettered", extra={"run": run.dedup_id()})
                    self._outstanding -= 1
                    self.delivered += 1
                self._ready.notify_all()

    def _deliver(self, message: _Message) -> bool:
        """True when the handler did not finish the message."""
        event = {"Records": [sqs_record(message.message_id, message.body, message.receives)]}
        context = LocalContext(function_name="strategy-executor-local", aws_request_id=str(uuid.uuid4()))
        try:
            response = self._handler()(event, context)
        except Exception:
            logger.exception("Strategy executor failed", extra={"message_id": message.message_id})
            return True
        return any(
            failure.get("itemIdentifier") == message.message_id
            for failure in response.get("batchItemFailures", [])
        )
