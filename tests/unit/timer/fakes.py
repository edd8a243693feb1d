"""Fakes with real behaviour for the timer's ports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared_utils.timer.envelope import TimerEvent


class RecordingPublisher:
    """Accepts everything, in order, and keeps what it got."""

    def __init__(self) -> None:
        self.events: list[TimerEvent] = []

    def publish(self, events: Sequence[TimerEvent]) -> int:
        self.events.extend(events)
        return len(events)


@dataclass
class FakeEventBridge:
    """PutEvents semantics: at most 10 entries per call (ValidationException otherwise), per-entry
    results in request order, `FailedEntryCount`. `fail_plan[n]` = indexes of the entries of the
    n-th call that the service rejects (throttled)."""

    fail_plan: dict[int, set[int]] = field(default_factory=dict)
    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if not 1 <= len(Entries) <= 10:
            raise ValueError("ValidationException: 1 to 10 entries per PutEvents call")
        failing = self.fail_plan.get(len(self.calls), set())
        self.calls.append(list(Entries))
        results: list[dict[str, Any]] = []
        for index, entry in enumerate(Entries):
            if index in failing:
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                self.delivered.append(entry)
                results.append({"EventId": f"evt-{len(self.delivered)}"})
        return {"FailedEntryCount": len(failing & set(range(len(Entries)))), "Entries": results}
