from __future__ import annotations

from datetime import timedelta

from shared_utils.brokers.circuit import CircuitBreaker, CircuitState
from tests.unit.brokers.conftest import SleepingClock


def breaker(clock: SleepingClock) -> CircuitBreaker:
    return CircuitBreaker("acct-1", clock, failure_threshold=3, cool_down=timedelta(seconds=30))


def test_opens_after_consecutive_failures_only(clock: SleepingClock) -> None:
    circuit = breaker(clock)
    circuit.record_failure("BROKER_TIMEOUT")
    circuit.record_failure("BROKER_TIMEOUT")
    circuit.record_success()
    circuit.record_failure("BROKER_UNAVAILABLE")
    circuit.record_failure("BROKER_UNAVAILABLE")
    assert circuit.allow() and circuit.snapshot().state is CircuitState.CLOSED
    circuit.record_failure("BROKER_UNAVAILABLE")
    snapshot = circuit.snapshot()
    assert snapshot.state is CircuitState.OPEN
    assert snapshot.consecutive_failures == 3
    assert snapshot.last_failure_code == "BROKER_UNAVAILABLE"
    assert snapshot.retry_at == clock.now() + timedelta(seconds=30)
    assert circuit.allow() is False


def test_half_open_after_cool_down_allows_one_trial(clock: SleepingClock) -> None:
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure("BROKER_TIMEOUT")
    clock.advance(timedelta(seconds=29))
    assert circuit.allow() is False
    clock.advance(timedelta(seconds=1))
    assert circuit.snapshot().state is CircuitState.HALF_OPEN
    assert circuit.allow() is True
    assert circuit.allow() is False  # one trial at a time
    circuit.record_success()
    assert circuit.snapshot().state is CircuitState.CLOSED
    assert circuit.snapshot().consecutive_failures == 0


def test_failed_trial_reopens_for_another_cool_down(clock: SleepingClock) -> None:
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure("BROKER_TIMEOUT")
    clock.advance(timedelta(seconds=30))
    assert circuit.allow()
    circuit.record_failure("BROKER_TIMEOUT")
    assert circuit.snapshot().state is CircuitState.OPEN
    assert circuit.allow() is False
    clock.advance(timedelta(seconds=30))
    assert circuit.allow() is True
