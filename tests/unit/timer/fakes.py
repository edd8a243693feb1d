"""Fakes with real behaviour for the timer's ports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from shared_utils.clock import IST
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


NEW_CLOSE_FROM = date(2026, 8, 3)


class FakeMarket:
    """A `MarketView` with the platform's session shape: Mon-Fri minus holidays, ticks from the
    09:00 pre-open to the close (15:30 until 2026-08-02, 15:40 after)."""

    def __init__(self, holidays: set[date] | None = None, close: time | None = None) -> None:
        self.holidays = holidays or {date(2026, 11, 24), date(2026, 12, 25)}
        self.close_override = close

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def close_time(self, day: date) -> time:
        if self.close_override is not None:
            return self.close_override
        return time(15, 40) if day >= NEW_CLOSE_FROM else time(15, 30)

    def session_bounds(self, day: date) -> tuple[datetime, datetime]:
        return datetime.combine(day, time(9, 0), IST), datetime.combine(day, self.close_time(day), IST)

    def phase_at(self, instant: datetime) -> str:
        local = instant.astimezone(IST)
        close = datetime.combine(local.date(), self.close_time(local.date()), IST)
        clock = local.time()
        if local >= close or clock < time(9, 0):
            return "closed"
        if clock < time(9, 15):
            return "pre_open"
        if clock < time(9, 30):
            return "open"
        if clock < time(12, 0):
            return "morning"
        if clock < time(13, 30):
            return "lunch"
        if local < close - timedelta(minutes=30):
            return "afternoon"
        return "pre_close"
