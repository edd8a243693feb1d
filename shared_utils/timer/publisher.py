"""Publishing timer events: the port the emitter sees, and its EventBridge adapter."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from shared_utils.errors import DomainError
from shared_utils.timer.envelope import TimerEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

logger = Logger(child=True)

MAX_BATCH = 10  # PutEvents accepts at most 10 entries per call


class PublishError(DomainError):
    """Some entries were still rejected after the bounded re-sends."""

    def __init__(self, message: str, failed: list[dict[str, Any]]) -> None:
        super().__init__(message=message, code="PUBLISH_FAILED")
        self.failed = failed


class EventPublisher(Protocol):
    def publish(self, events: Sequence[TimerEvent]) -> int:
        """Publish every event (in order) and return how many were accepted; raise PublishError
        when some could not be published."""
        ...


def batches(items: Sequence[TimerEvent], size: int = MAX_BATCH) -> list[Sequence[TimerEvent]]:
    if size < 1:
        raise ValueError("batch size must be >= 1")
    return [items[start : start + size] for start in range(0, len(items), size)]


class EventBridgePublisher:
    """Batches of at most 10; after a partial failure only the failed entries are re-sent
    (matched to `Entries` by position, as PutEvents reports them), at most `max_attempts` times."""

    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        max_attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._client = client
        self._bus_name = bus_name
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def publish(self, events: Sequence[TimerEvent]) -> int:
        accepted = 0
        for batch in batches(events):
            accepted += self._publish_batch([event.to_entry(self._bus_name) for event in batch])
        return accepted

    def _publish_batch(self, entries: list[dict[str, Any]]) -> int:
        pending = entries
        accepted = 0
        for attempt in range(1, self._max_attempts + 1):
            response = self._client.put_events(Entries=pending)  # type: ignore[arg-type]
            failed_count = response.get("FailedEntryCount", 0)
            results = response.get("Entries", [])
            if failed_count == 0:
                return accepted + len(pending)
            failed = [
                entry for entry, result in zip(pending, results, strict=True) if result.get("ErrorCode")
            ]
            accepted += len(pending) - len(failed)
            logger.warning(
                "PutEvents rejected entries",
                extra={
                    "attempt": attempt,
                    "failed": len(failed),
                    "errors": sorted({str(r.get("ErrorCode")) for r in results if r.get("ErrorCode")}),
                },
            )
            pending = failed
            if attempt < self._max_attempts:
                self._sleep(self._backoff_seconds * 2 ** (attempt - 1))
        raise PublishError(
            f"{len(pending)} timer events not published after {self._max_attempts} attempts", pending
        )
