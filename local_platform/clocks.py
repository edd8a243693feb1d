"""The timer loop's clocks: real time, an accelerated clock and a stepping replay clock.

Each is a `Clock` (what the emitter reads) that can also wait until an absolute instant, the way
the state machine's Wait state does with `TimestampPath`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared_utils.clock import FixedClock


class LoopClock(Protocol):
    def now(self) -> datetime: ...

    def wait_until(self, instant: datetime, stop: threading.Event) -> bool:
        """Block until `instant` (clock time); False when `stop` was set meanwhile."""
        ...

    def describe(self) -> str: ...


class WallClock:
    """Real time: today's session as it happens."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, instant: datetime, stop: threading.Event) -> bool:
        delay = (instant - self.now()).total_seconds()
        return not stop.wait(max(0.0, delay))

    def describe(self) -> str:
        return "real time"


class AcceleratedClock:
    """Clock time starts at `origin` when first read and runs `speed` times faster than real
    time (starting on first use, so start-up time does not eat the first minutes)."""

    def __init__(self, origin: datetime, speed: float) -> None:
        if origin.tzinfo is None:
            raise ValueError("AcceleratedClock needs a timezone-aware origin")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._origin = origin.astimezone(UTC)
        self._speed = speed
        self._started: float | None = None

    def now(self) -> datetime:
        if self._started is None:
            self._started = time.monotonic()
        return self._origin + timedelta(seconds=(time.monotonic() - self._started) * self._speed)

    def wait_until(self, instant: datetime, stop: threading.Event) -> bool:
        delay = (instant - self.now()).total_seconds() / self._speed
        return not stop.wait(max(0.0, delay))

    @property
    def speed(self) -> float:
        return self._speed

    def describe(self) -> str:
        return f"accelerated x{self._speed:g} from {self._origin.isoformat()}"


class ReplayClock:
    """Jumps straight to every instant waited for: a whole session in seconds. It drives
    `clock` when given (the fixed clock a composition root was built on)."""

    def __init__(self, origin: datetime, clock: FixedClock | None = None) -> None:
        self._clock = clock or FixedClock(origin)
        self._clock.set(origin)

    def now(self) -> datetime:
        return self._clock.now()

    def wait_until(self, instant: datetime, stop: threading.Event) -> bool:
        self.move_to(instant)
        return not stop.is_set()

    def move_to(self, instant: datetime) -> None:
        """Jump forward to `instant` (never back)."""
        if instant > self._clock.now():
            self._clock.set(instant)

    def describe(self) -> str:
        return f"replay from {self._clock.now().isoformat()} (as fast as the handlers run)"
