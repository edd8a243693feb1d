"""What `GuardedBroker` asks of a rate limiter and a circuit breaker: the in-process ones
(`rate_limit.OrderRateLimiter`, `circuit.CircuitBreaker`) or the ones shared by every container
through DynamoDB (`shared_limits`)."""

from __future__ import annotations

from typing import Protocol

from shared_utils.brokers.circuit import CircuitSnapshot


class OrderLimiter(Protocol):
    def try_acquire(self) -> float: ...

    def acquire(self) -> bool: ...


class Circuit(Protocol):
    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self, code: str) -> None: ...

    def snapshot(self) -> CircuitSnapshot: ...
