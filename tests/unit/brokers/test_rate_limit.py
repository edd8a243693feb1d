from __future__ import annotations

from datetime import timedelta

import pytest

from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.rate_limit import OrderRateLimiter, RateLimit, order_limits
from tests.unit.brokers.conftest import SleepingClock


def test_burst_up_to_the_per_second_limit_then_waits(clock: SleepingClock) -> None:
    limiter = OrderRateLimiter(order_limits(BrokerName.ZERODHA), clock, clock.sleep)
    assert [limiter.try_acquire() for _ in range(10)] == [0.0] * 10
    assert limiter.try_acquire() == pytest.approx(1.0)  # the first of the ten leaves the window
    assert limiter.acquire() is True
    assert clock.slept == [pytest.approx(1.0)]


def test_sustained_rate_never_exceeds_the_documented_limits(clock: SleepingClock) -> None:
    limiter = OrderRateLimiter(
        order_limits(BrokerName.ZERODHA), clock, clock.sleep, max_wait=timedelta(hours=1)
    )
    start = clock.now()
    sent = []
    for _ in range(450):
        assert limiter.acquire()
        sent.append(clock.now())
    # 10 per second, and the 400-per-minute window holds the rest back to the next minute.
    in_first_minute = [t for t in sent if t < start + timedelta(minutes=1)]
    assert len(in_first_minute) == 400
    for i in range(len(sent) - 10):
        assert sent[i + 10] - sent[i] >= timedelta(seconds=1)
    for i in range(len(sent) - 400):
        assert sent[i + 400] - sent[i] >= timedelta(minutes=1)


def test_gives_up_instead_of_waiting_past_max_wait(clock: SleepingClock) -> None:
    limiter = OrderRateLimiter([RateLimit(1, timedelta(minutes=1))], clock, clock.sleep, timedelta(seconds=5))
    assert limiter.acquire() is True
    assert limiter.acquire() is False
    assert clock.slept == []


def test_sebi_cap_limits_angel_one_to_ten_per_second() -> None:
    per_second = [limit for limit in order_limits(BrokerName.ANGEL_ONE) if limit.per == timedelta(seconds=1)]
    assert per_second == [RateLimit(10, timedelta(seconds=1))]
    uncapped = order_limits(BrokerName.ANGEL_ONE, sebi_unregistered_cap=False)
    assert RateLimit(20, timedelta(seconds=1)) in uncapped
    assert RateLimit(1000, timedelta(hours=1)) in uncapped


def test_unknown_limits_default_to_ten_per_second() -> None:
    assert order_limits(BrokerName.FINVASIA) == (RateLimit(10, timedelta(seconds=1)),)
    assert order_limits(BrokerName.PAPER) == (RateLimit(10, timedelta(seconds=1)),)
