"""Per-account order rate limiting at each broker's documented limits (exact sliding windows).

The limiter lives in one process (one warm Lambda container). Concurrent containers placing for
the same account each have their own budget; the execution engine keeps one account's orders in
one invocation so the documented limit holds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from shared_utils.brokers.models import BrokerName
from shared_utils.clock import Clock


@dataclass(frozen=True)
class RateLimit:
    count: int
    per: timedelta

    def __post_init__(self) -> None:
        if self.count <= 0 or self.per <= timedelta(0):
            raise ValueError("a rate limit needs a positive count and period")


_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

# MARKET_FACTS "Brokers"; 10/s where the broker publishes nothing.
DOCUMENTED_ORDER_LIMITS: dict[BrokerName, tuple[RateLimit, ...]] = {
    BrokerName.ZERODHA: (RateLimit(10, _SECOND), RateLimit(400, _MINUTE), RateLimit(5000, _DAY)),
    BrokerName.ANGEL_ONE: (RateLimit(20, _SECOND), RateLimit(500, _MINUTE), RateLimit(1000, _HOUR)),
    BrokerName.FINVASIA: (RateLimit(10, _SECOND),),
    # Upstox's rate-limiting page: 50 a second, 500 a minute, 2,000 in 30 minutes (per API, user).
    BrokerName.UPSTOX: (
        RateLimit(50, _SECOND),
        RateLimit(500, _MINUTE),
        RateLimit(2000, timedelta(minutes=30)),
    ),
    # DhanHQ v2: orders 25 a second, 250 a minute, 1,000 an hour, 7,000 a day.
    BrokerName.DHAN: (
        RateLimit(25, _SECOND),
        RateLimit(250, _MINUTE),
        RateLimit(1000, _HOUR),
        RateLimit(7000, _DAY),
    ),
    BrokerName.FYERS: (RateLimit(10, _SECOND),),
}
# SEBI retail-algo framework: an unregistered algo may send at most 10 orders/s per exchange.
SEBI_UNREGISTERED_PER_SECOND = 10


def order_limits(broker: BrokerName, *, sebi_unregistered_cap: bool = True) -> tuple[RateLimit, ...]:
    limits = DOCUMENTED_ORDER_LIMITS.get(broker, (RateLimit(10, _SECOND),))
    if not sebi_unregistered_cap:
        return limits
    return tuple(
        RateLimit(min(limit.count, SEBI_UNREGISTERED_PER_SECOND), limit.per)
        if limit.per == _SECOND
        else limit
        for limit in limits
    )


class _Window:
    """The send times of the last `count` orders within `per`: an exact sliding window.

    A token bucket of `count` refilling at `count/per` lets up to 2x`count` through in one window
    (a full bucket plus the refill), which would break a "400 per minute" limit; the log does not.
    """

    def __init__(self, limit: RateLimit) -> None:
        self.count = limit.count
        self.per = limit.per.total_seconds()
        self.sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.sent and self.sent[0] <= now - self.per:
            self.sent.popleft()
        if len(self.sent) < self.count:
            return 0.0
        # Clocks tick in microseconds: never ask for a wait too short to move one.
        return max(math.ceil((self.sent[0] + self.per - now) * 1e6) / 1e6, 1e-6)


class OrderRateLimiter:
    """An order may go only when every window has room; waiting uses the injected `sleep`."""

    def __init__(
        self,
        limits: Sequence[RateLimit],
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: timedelta = timedelta(seconds=5),
    ) -> None:
        if not limits:
            raise ValueError("at least one rate limit")
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait.total_seconds()
        self._lock = threading.Lock()
        self._origin = clock.now()
        self._windows = [_Window(limit) for limit in limits]

    def _now(self) -> float:
        # Seconds since the limiter was made: epoch floats would lose sub-microsecond precision.
        return (self._clock.now() - self._origin).total_seconds()

    def try_acquire(self) -> float:
        """Record a send and return 0 if every window has room; else the seconds to wait."""
        with self._lock:
            now = self._now()
            wait = max(window.wait(now) for window in self._windows)
            if wait > 0:
                return wait
            for window in self._windows:
                window.sent.append(now)
            return 0.0

    def acquire(self) -> bool:
        """Block (via `sleep`) until an order may go; False if that would exceed `max_wait` in total."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0:
                return True
            if waited + wait > self._max_wait:
                return False
            self._sleep(wait)
            waited += wait
