from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from shared_utils.brokers.circuit import CircuitBreaker, CircuitState
from shared_utils.brokers.guarded import GuardedBroker
from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.paper import PaperBroker
from shared_utils.brokers.port import (
    BrokerCircuitOpenError,
    BrokerError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from shared_utils.brokers.rate_limit import OrderRateLimiter, RateLimit, order_limits
from shared_utils.tracing import tracer
from tests.unit.brokers.conftest import SleepingClock, make_order, nifty, price_source


class FlakyBroker:
    """A paper broker that fails the next calls with the queued errors, then behaves."""

    def __init__(self, clock: SleepingClock) -> None:
        self.paper = PaperBroker(price_source({nifty().key: Decimal("100")}), clock)
        self.failures: list[BrokerError] = []
        self.placed = 0

    @property
    def name(self) -> BrokerName:
        return BrokerName.ZERODHA

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def place(self, order: OrderRequest) -> OrderResult:
        self._maybe_fail()
        self.placed += 1
        return self.paper.place(order)

    def cancel(self, broker_order_id: str) -> OrderResult:
        self._maybe_fail()
        return self.paper.cancel(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        self._maybe_fail()
        return self.paper.order_status(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        self._maybe_fail()
        return self.paper.find_order_by_tag(tag)

    def positions(self) -> list[Position]:
        self._maybe_fail()
        return self.paper.positions()


def guarded(
    clock: SleepingClock, inner: FlakyBroker, limits: tuple[RateLimit, ...] | None = None
) -> GuardedBroker:
    limiter = OrderRateLimiter(limits or order_limits(BrokerName.ZERODHA), clock, clock.sleep)
    circuit = CircuitBreaker("acct-1", clock, failure_threshold=3, cool_down=timedelta(seconds=30))
    return GuardedBroker(inner, "acct-1", limiter, circuit)


def test_circuit_opens_on_unhealthy_failures_and_stops_calls(clock: SleepingClock) -> None:
    inner = FlakyBroker(clock)
    broker = guarded(clock, inner)
    inner.failures = [
        BrokerTimeoutError(message="t"),
        BrokerUnavailableError(message="503", order_may_exist=True),
        BrokerTimeoutError(message="t"),
    ]
    for _ in range(3):
        with pytest.raises((BrokerTimeoutError, BrokerUnavailableError)):
            broker.place(make_order())
    with pytest.raises(BrokerCircuitOpenError) as error:
        broker.place(make_order())
    assert error.value.order_may_exist is False and error.value.code == "BROKER_CIRCUIT_OPEN"
    assert inner.placed == 0
    assert broker.circuit.snapshot().state is CircuitState.OPEN
    clock.advance(timedelta(seconds=30))
    assert broker.place(make_order()).broker_order_id
    assert broker.circuit.snapshot().state is CircuitState.CLOSED


def test_rejections_do_not_open_the_circuit(clock: SleepingClock) -> None:
    inner = FlakyBroker(clock)
    broker = guarded(clock, inner)
    inner.failures = [BrokerRejectedError(message="margin", reason="margin") for _ in range(5)]
    for _ in range(5):
        with pytest.raises(BrokerRejectedError):
            broker.place(make_order())
    assert broker.circuit.snapshot().state is CircuitState.CLOSED
    assert broker.place(make_order()).broker_order_id


def test_orders_wait_for_the_rate_limit_reads_do_not(clock: SleepingClock) -> None:
    inner = FlakyBroker(clock)
    broker = guarded(clock, inner)
    start = clock.now()
    for leg in range(11):
        broker.place(make_order(leg=leg))
    assert clock.now() - start == timedelta(seconds=1)
    for _ in range(30):
        broker.positions()
    assert clock.now() - start == timedelta(seconds=1)
    assert inner.placed == 11


def test_rate_limit_beyond_max_wait_refuses_without_sending(clock: SleepingClock) -> None:
    inner = FlakyBroker(clock)
    broker = guarded(clock, inner, (RateLimit(1, timedelta(minutes=1)),))
    broker.place(make_order())
    with pytest.raises(BrokerRateLimitedError):
        broker.place(make_order(leg=2))
    assert inner.placed == 1
    assert broker.circuit.snapshot().consecutive_failures == 0


class RecordingProvider:
    """A tracing provider that keeps the names of the subsegments opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **_: Any) -> Iterator[Any]:
        self.opened.append(str(name))
        yield SimpleNamespace(put_metadata=lambda *a, **k: None, add_exception=lambda *a, **k: None)


def test_every_broker_call_is_a_subsegment_of_the_trace(clock: SleepingClock, monkeypatch) -> None:
    recording = RecordingProvider()
    monkeypatch.setattr(tracer, "provider", recording)
    broker = guarded(clock, FlakyBroker(clock))

    placed = broker.place(make_order())
    broker.order_status(placed.broker_order_id)
    broker.positions()

    assert [name.rsplit(".", 1)[-1] for name in recording.opened] == ["place", "order_status", "positions"]
    assert all("GuardedBroker" in name for name in recording.opened)
