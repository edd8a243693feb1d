"""The shared order rate limiter and circuit breaker against a moto server on 127.0.0.1: windows
and waits on a fixed clock, the item's TTL, one breaker seen by two instances, DynamoDB failures,
and two OS processes sending for one scope at once on the real clock."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.config import Config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from local_platform.backend import LOOPBACK, MotoEndpoint, create_tables, dynamodb, start_moto
from local_platform.environment import REGION
from shared_utils import keys
from shared_utils.brokers.circuit import CircuitState
from shared_utils.brokers.guarded import GuardedBroker
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerCircuitOpenError, BrokerTimeoutError
from shared_utils.brokers.rate_limit import RateLimit, order_limits
from shared_utils.brokers.shared_limits import (
    ERROR_WAIT_S,
    TTL_SLACK_S,
    SharedCircuitBreaker,
    SharedOrderRateLimiter,
    micros,
)
from shared_utils.clock import SystemClock
from shared_utils.settings import RuntimeSettings
from tests.conftest import platform_now
from tests.unit.brokers.conftest import SleepingClock, make_order
from tests.unit.brokers.test_guarded import FlakyBroker

SECOND = timedelta(seconds=1)
PER_SECOND = (RateLimit(10, SECOND),)
TTL = "expires_at"  # the trading table's TTL attribute (shared_utils.tables)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    endpoint = start_moto()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def client(moto: MotoEndpoint, test_settings: RuntimeSettings) -> Any:
    client = dynamodb(moto.url)
    create_tables(client, test_settings)
    return client


@pytest.fixture
def table(client: Any, test_settings: RuntimeSettings) -> str:
    return test_settings.trading_table_name


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock(platform_now())


_scopes = iter(range(1_000_000))


@pytest.fixture
def scope() -> str:
    """A scope of its own per test: the module shares one server."""
    return f"ZR{next(_scopes):04d}#NFO"


def limiter(
    client: Any, table: str, scope: str, clock: SleepingClock, **kwargs: Any
) -> SharedOrderRateLimiter:
    kwargs.setdefault("limits", PER_SECOND)
    return SharedOrderRateLimiter(client, table, scope, clock=clock, sleep=clock.sleep, **kwargs)


def count_calls(client: Any) -> Counter[str]:
    """Requests the client sends, by operation."""
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    return calls


def most_in_any_window(instants_us: list[int], per: timedelta) -> int:
    """The most instants any half-open window [t, t + per) holds."""
    ordered = sorted(instants_us)
    width = per // timedelta(microseconds=1)
    most, start = 0, 0
    for end, instant in enumerate(ordered):
        while ordered[start] <= instant - width:
            start += 1
        most = max(most, end - start + 1)
    return most


# --- Rate limits on a fixed clock ------------------------------------------------------------------


def test_ten_per_second_then_the_wait_until_the_oldest_leaves(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    shared = limiter(client, table, scope, clock)
    assert [shared.try_acquire() for _ in range(10)] == [0.0] * 10
    assert shared.try_acquire() == pytest.approx(1.0)
    clock.advance(timedelta(milliseconds=400))
    assert shared.try_acquire() == pytest.approx(0.6)
    clock.advance(timedelta(milliseconds=600) - timedelta(microseconds=1))
    assert shared.try_acquire() == pytest.approx(1e-6)
    clock.advance(timedelta(microseconds=1))
    assert shared.try_acquire() == 0.0
    assert shared.last_granted_at == clock.now()


def test_the_window_slides_across_a_calendar_second(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    """Ten at .9 of a second fill the window until .9 of the next: a fixed per-second bucket would
    let ten more through at the turn of the second."""
    clock.set(clock.now().replace(microsecond=900_000))
    shared = limiter(client, table, scope, clock)
    for _ in range(10):
        assert shared.try_acquire() == 0.0
    clock.advance(timedelta(milliseconds=100))  # a new calendar second
    assert shared.try_acquire() == pytest.approx(0.9)


def test_a_margin_widens_every_window(client: Any, table: str, scope: str, clock: SleepingClock) -> None:
    shared = limiter(client, table, scope, clock, margin=timedelta(milliseconds=50))
    for _ in range(10):
        assert shared.try_acquire() == 0.0
    clock.advance(SECOND)
    assert shared.try_acquire() == pytest.approx(0.05)
    clock.advance(timedelta(milliseconds=50))
    assert shared.try_acquire() == 0.0


def test_every_limit_binds_and_acquire_waits_through_the_injected_sleep(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    limits = (RateLimit(3, SECOND), RateLimit(5, 10 * SECOND))
    shared = limiter(client, table, scope, clock, limits=limits, max_wait=timedelta(seconds=20))
    start = clock.now()
    granted = []
    for _ in range(6):
        assert shared.acquire()
        granted.append(clock.now() - start)
    # 3 at once, 2 a second later (5 per 10 s is full), the 6th when the first leaves the 10 s window.
    assert granted == [timedelta(0)] * 3 + [SECOND] * 2 + [10 * SECOND]


def test_acquire_gives_up_instead_of_waiting_past_max_wait(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    shared = limiter(client, table, scope, clock, max_wait=timedelta(milliseconds=500))
    for _ in range(10):
        assert shared.acquire()
    assert shared.acquire() is False
    assert clock.slept == []


def exact_log_wait(sent: list[int], limits: tuple[RateLimit, ...], now_us: int) -> int:
    """An exact sliding log of every send (what `OrderRateLimiter` keeps), in microseconds."""
    wait = 0
    for limit in limits:
        per = limit.per // timedelta(microseconds=1)
        recent = sorted(instant for instant in sent if instant > now_us - per)
        if len(recent) >= limit.count:
            wait = max(wait, recent[-limit.count] + per - now_us)
    return wait


def test_small_limits_answer_exactly_like_a_sliding_log(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    limits = (RateLimit(4, SECOND), RateLimit(7, 3 * SECOND))
    shared = limiter(client, table, scope, clock, limits=limits)
    sent: list[int] = []
    steps = [0, 0, 130_000, 0, 450_000, 600_000, 1, 999_999, 250_000, 1_700_000, 0, 0, 2_000_000, 10]
    for step in steps * 4:
        clock.advance(timedelta(microseconds=step))
        now_us = micros(clock.now())
        expected = exact_log_wait(sent, limits, now_us)
        assert shared.try_acquire() == expected / 1_000_000
        if expected == 0:
            sent.append(now_us)
    assert 10 < len(sent) < len(steps) * 4


def test_large_limits_kept_in_batches_are_never_exceeded(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    """12 per 2 s kept in 4 slots of 3: no window holds more than 12, at an irregular pace."""
    per = 2 * SECOND
    shared = limiter(client, table, scope, clock, limits=(RateLimit(12, per),), max_slots=4)
    sent = []
    for n in range(90):
        clock.advance(timedelta(milliseconds=(37 * n) % 200))
        if shared.try_acquire() == 0.0:
            sent.append(micros(clock.now()))
    assert most_in_any_window(sent, per) == 12  # reached, never passed
    assert len(sent) >= 24  # not starved: at least two full windows' worth


def test_two_instances_share_one_budget_and_a_stale_copy_costs_one_lost_write(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    calls = count_calls(client)
    first, second = limiter(client, table, scope, clock), limiter(client, table, scope, clock)
    for _ in range(6):
        assert first.try_acquire() == 0.0
    assert calls["UpdateItem"] == 6  # one conditional write per send
    assert second.try_acquire() == 0.0
    assert calls["UpdateItem"] == 8  # its empty copy lost once, then won with the item it got back
    for _ in range(3):
        assert second.try_acquire() == 0.0
    assert first.try_acquire() == pytest.approx(1.0)  # lost to the second's sends, learnt the wait
    calls.clear()
    assert first.try_acquire() == pytest.approx(1.0)
    assert second.try_acquire() == pytest.approx(1.0)
    assert calls["UpdateItem"] == 0  # a wait the copy already shows costs no request
    other = limiter(client, table, scope.replace("#NFO", "#BFO"), clock)
    assert other.try_acquire() == 0.0  # another scope has its own windows


def test_the_item_expires_once_the_longest_window_has_passed(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    shared = limiter(client, table, scope, clock, limits=order_limits(BrokerName.ZERODHA))
    assert shared.acquire()
    item = client.get_item(
        TableName=table, Key={"pk": {"S": keys.order_rate_pk(scope)}, "sk": {"S": keys.ORDER_RATE_SK}}
    )["Item"]
    day = math.ceil((micros(clock.now()) + 86_400_000_000) / 1_000_000)
    assert int(item[TTL]["N"]) == day + TTL_SLACK_S
    assert item["entity"]["S"] == "ORDER_RATE"
    assert sorted(name for name in item if name.startswith("w")) == [
        "w10_1000000",
        "w400_60000000",
        "w5000_86400000000",
    ]
    assert len(item["w5000_86400000000"]["M"]["times"]["L"]) == 50  # batches of 100: a small item


def test_dynamodb_errors_hold_orders(table: str, scope: str, clock: SleepingClock, client: Any) -> None:
    missing = limiter(client, "no-such-table", scope, clock, max_wait=timedelta(seconds=1))
    assert missing.try_acquire() == ERROR_WAIT_S
    assert missing.acquire() is False
    unreachable = dynamodb_at("http://127.0.0.1:9")
    down = limiter(unreachable, table, scope, clock, max_wait=timedelta(0))
    assert down.try_acquire() == ERROR_WAIT_S
    assert down.acquire() is False


def dynamodb_at(url: str) -> Any:
    import boto3

    config = Config(connect_timeout=0.2, read_timeout=0.2, retries={"total_max_attempts": 1})
    return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, config=config)


# --- Circuit breaker ---------------------------------------------------------------------------------


def breakers(client: Any, table: str, clock: SleepingClock, account: str) -> tuple[SharedCircuitBreaker, ...]:
    return tuple(
        SharedCircuitBreaker(
            client,
            table,
            account,
            clock,
            failure_threshold=3,
            cool_down=timedelta(seconds=30),
            trial_lease=timedelta(seconds=10),
        )
        for _ in range(2)
    )


def test_failures_in_one_container_open_the_circuit_for_the_other(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    a, b = breakers(client, table, clock, scope)
    opened = clock.now()
    for code in ("BROKER_TIMEOUT", "BROKER_UNAVAILABLE"):
        assert a.allow()
        a.record_failure(code)
    assert b.allow()
    b.record_failure("BROKER_TIMEOUT")  # the third consecutive failure, whoever saw it
    assert not a.allow() and not b.allow()
    seen = a.snapshot()
    assert (seen.state, seen.consecutive_failures, seen.last_failure_code) == (
        CircuitState.OPEN,
        3,
        "BROKER_TIMEOUT",
    )
    assert (seen.opened_at, seen.retry_at) == (opened, opened + timedelta(seconds=30))

    clock.advance(timedelta(seconds=30))
    assert b.snapshot().state is CircuitState.HALF_OPEN
    assert a.allow()  # the one trial call
    assert not b.allow() and not a.allow()  # while it is out, nobody else calls
    a.record_success()
    assert b.allow()
    assert b.snapshot().state is CircuitState.CLOSED
    assert b.snapshot().consecutive_failures == 0


def test_a_failed_trial_opens_again_and_a_lost_trial_frees_after_its_lease(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    a, b = breakers(client, table, clock, scope)
    for _ in range(3):
        a.record_failure("BROKER_TIMEOUT")
    clock.advance(timedelta(seconds=30))
    assert b.allow()
    b.record_failure("BROKER_TIMEOUT")
    assert a.snapshot().state is CircuitState.OPEN
    assert a.snapshot().opened_at == clock.now()
    assert not a.allow()

    clock.advance(timedelta(seconds=30))
    assert a.allow()  # takes the trial, then its container dies without a word
    clock.advance(timedelta(seconds=10) - timedelta(microseconds=1))
    assert not b.allow()
    clock.advance(timedelta(microseconds=1))
    assert b.allow()  # the lease ran out: the next container tries


def test_a_success_resets_the_count_and_a_healthy_breaker_writes_nothing(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    a, b = breakers(client, table, clock, scope)
    for _ in range(2):
        a.record_failure("BROKER_TIMEOUT")
    assert b.allow()
    b.record_success()
    a.record_failure("BROKER_TIMEOUT")
    assert a.allow() and a.snapshot().consecutive_failures == 1
    calls = count_calls(client)
    assert b.allow()
    b.record_success()  # b's read showed a failure: the reset is written
    assert b.allow()
    b.record_success()  # healthy: the read, and no write
    assert calls == Counter({"GetItem": 2, "UpdateItem": 1})
    item = client.get_item(
        TableName=table, Key={"pk": {"S": keys.circuit_pk(scope)}, "sk": {"S": keys.CIRCUIT_SK}}
    )["Item"]
    assert item["state"]["S"] == "CLOSED" and item["failures"]["N"] == "0"
    assert int(item[TTL]["N"]) > micros(clock.now()) // 1_000_000 + 86_400


def test_dynamodb_errors_refuse_calls_and_never_raise_from_records(scope: str, clock: SleepingClock) -> None:
    breaker = SharedCircuitBreaker(dynamodb_at("http://127.0.0.1:9"), "t", scope, clock)
    assert breaker.allow() is False
    breaker.record_failure("BROKER_TIMEOUT")
    breaker.record_success()
    seen = breaker.snapshot()  # the last state this instance saw: none yet
    assert (seen.state, seen.consecutive_failures) == (CircuitState.CLOSED, 0)


def test_guarded_broker_takes_both_unchanged(
    client: Any, table: str, scope: str, clock: SleepingClock
) -> None:
    inner = FlakyBroker(clock)
    circuit = SharedCircuitBreaker(client, table, scope, clock, failure_threshold=1)
    broker = GuardedBroker(inner, scope, limiter(client, table, scope, clock), circuit)
    assert broker.place(make_order()).broker_order_id
    inner.failures = [BrokerTimeoutError(message="t")]
    with pytest.raises(BrokerTimeoutError):
        broker.place(make_order())
    with pytest.raises(BrokerCircuitOpenError):
        broker.place(make_order())
    assert inner.placed == 1


# --- Two processes, one scope, the real clock -----------------------------------------------------


class AtomicMotoServer(ThreadedMotoServer):
    """moto answering one request at a time. moto checks a condition and then writes without a
    lock, so two concurrent requests could both pass one condition; DynamoDB makes each request
    atomic, and that is what the limiter relies on. The processes still race over real HTTP."""

    def _server_entry(self) -> None:
        backend = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            with lock:
                return list(backend(environ, start_response))

        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()


def hammer(url: str, table: str, scope: str, seconds: float, barrier: Any, results: Any) -> None:
    """One container: send as fast as the shared limiter lets it for `seconds`."""
    client = dynamodb(url)
    calls = count_calls(client)
    shared = SharedOrderRateLimiter(client, table, scope, order_limits(BrokerName.ZERODHA), SystemClock())
    barrier.wait(timeout=60)
    granted = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if shared.acquire():
            assert shared.last_granted_at is not None
            granted.append(micros(shared.last_granted_at))
    results.put((granted, calls["UpdateItem"]))


@pytest.mark.slow
def test_two_processes_never_send_more_than_ten_in_any_second(
    test_settings: RuntimeSettings, scope: str
) -> None:
    server = AtomicMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    workers: list[Any] = []
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        create_tables(dynamodb(url), test_settings)
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(2), context.Queue()
        args = (url, test_settings.trading_table_name, scope, 2.5, barrier, results)
        workers += [context.Process(target=hammer, args=args) for _ in range(2)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=90) for _ in workers]
        for worker in workers:
            worker.join(timeout=10)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        server.stop()

    (first, first_writes), (second, second_writes) = outcomes
    assert first and second, "both processes got grants"
    sent = first + second
    per_second = Counter(instant // 1_000_000 for instant in sent)
    assert max(per_second.values()) <= 10, per_second
    assert most_in_any_window(sent, SECOND) <= 10
    assert len(sent) >= 20  # ten at once, ten a second later, ...: the budget is used, not starved
    assert (first_writes + second_writes) / len(sent) < 10
