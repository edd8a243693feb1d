"""Per-broker-account circuit breaker: stop calling a broker that keeps failing.

CLOSED counts consecutive failures; at `failure_threshold` it OPENs and calls fail fast with
`BrokerCircuitOpenError`. After `cool_down` (injected clock) one trial call is let through
(HALF_OPEN): success closes it, failure opens it again for another cool-down.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared_utils.clock import Clock


class CircuitState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitSnapshot(BaseModel):
    """What the execution history records about an account's broker health."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    state: CircuitState
    consecutive_failures: int
    opened_at: AwareDatetime | None = None
    retry_at: AwareDatetime | None = None
    last_failure_code: str | None = None


class CircuitBreaker:
    def __init__(
        self,
        account_id: str,
        clock: Clock,
        failure_threshold: int = 5,
        cool_down: timedelta = timedelta(seconds=30),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._account_id = account_id
        self._clock = clock
        self._threshold = failure_threshold
        self._cool_down = cool_down
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._trial_in_flight = False
        self._last_code: str | None = None

    def allow(self) -> bool:
        """May a call go now? In HALF_OPEN only one trial call at a time is allowed."""
        with self._lock:
            if self._state is CircuitState.CLOSED:
                return True
            if self._state is CircuitState.OPEN:
                assert self._opened_at is not None
                if self._clock.now() < self._opened_at + self._cool_down:
                    return False
                self._state = CircuitState.HALF_OPEN
                self._trial_in_flight = False
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = CircuitState.CLOSED
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self, code: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_code = code
            self._trial_in_flight = False
            if self._state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
                self._state = CircuitState.OPEN
                self._opened_at = self._clock.now()

    def snapshot(self) -> CircuitSnapshot:
        with self._lock:
            state = self._state
            if (
                state is CircuitState.OPEN
                and self._opened_at is not None
                and self._clock.now() >= self._opened_at + self._cool_down
            ):
                state = CircuitState.HALF_OPEN
            return CircuitSnapshot(
                account_id=self._account_id,
                state=state,
                consecutive_failures=self._failures,
                opened_at=self._opened_at,
                retry_at=self._opened_at + self._cool_down if self._opened_at else None,
                last_failure_code=self._last_code,
            )
