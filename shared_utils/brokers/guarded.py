"""A `Broker` wrapped with its account's rate limiter and circuit breaker.

Orders and cancels take a rate-limit token; every call goes through the circuit breaker.
Failures that say something about the broker's health (timeouts, 5xx, auth) count towards
opening the circuit; a rejection or a 429 is an answer from a healthy broker and does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shared_utils.brokers.guards import Circuit, OrderLimiter
from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.port import (
    Broker,
    BrokerAuthError,
    BrokerCircuitOpenError,
    BrokerError,
    BrokerRateLimitedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from shared_utils.tracing import tracer

T = TypeVar("T")

_UNHEALTHY = (BrokerTimeoutError, BrokerUnavailableError, BrokerAuthError)


class GuardedBroker:
    def __init__(
        self, inner: Broker, account_id: str, limiter: OrderLimiter | None, circuit: Circuit
    ) -> None:
        self._inner = inner
        self._account_id = account_id
        self._limiter = limiter
        self._circuit = circuit

    @property
    def name(self) -> BrokerName:
        return self._inner.name

    @property
    def inner(self) -> Broker:
        return self._inner

    @property
    def circuit(self) -> Circuit:
        return self._circuit

    def _call(self, operation: Callable[[], T], *, is_order: bool) -> T:
        # The local limiter comes first: waiting for a token is not a broker failure and must not
        # take (or spoil) the circuit's half-open trial slot.
        if is_order and self._limiter is not None and not self._limiter.acquire():
            raise BrokerRateLimitedError(
                message=f"local order rate limit for account {self._account_id}", broker=self.name.value
            )
        if not self._circuit.allow():
            raise BrokerCircuitOpenError(
                message=f"circuit open for account {self._account_id}", broker=self.name.value
            )
        try:
            result = operation()
        except _UNHEALTHY as error:
            self._circuit.record_failure(error.code)
            raise
        except BrokerError:
            self._circuit.record_success()
            raise
        except Exception:
            self._circuit.record_failure("UNEXPECTED")
            raise
        self._circuit.record_success()
        return result

    @tracer.capture_method(capture_response=False)
    def place(self, order: OrderRequest) -> OrderResult:
        return self._call(lambda: self._inner.place(order), is_order=True)

    @tracer.capture_method(capture_response=False)
    def cancel(self, broker_order_id: str) -> OrderResult:
        return self._call(lambda: self._inner.cancel(broker_order_id), is_order=True)

    @tracer.capture_method(capture_response=False)
    def order_status(self, broker_order_id: str) -> OrderResult:
        return self._call(lambda: self._inner.order_status(broker_order_id), is_order=False)

    @tracer.capture_method(capture_response=False)
    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self._call(lambda: self._inner.find_order_by_tag(tag), is_order=False)

    @tracer.capture_method(capture_response=False)
    def positions(self) -> list[Position]:
        return self._call(self._inner.positions, is_order=False)
