"""Fixtures shared by every test: AWS credentials that cannot reach AWS, moto tables built from
the same definitions the stack uses, and run-time settings pointing at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from moto import mock_aws

from local_platform import moto_transactions
from local_platform.root import one_process_root
from shared_utils.clock import FixedClock
from shared_utils.composition import Platform, install
from shared_utils.settings import MarketDataSourceName, RuntimeSettings, load_settings
from shared_utils.tables import ALL_TABLES, resource_prefix

TEST_REGION = "ap-south-1"
TEST_PREFIX = resource_prefix("test")

# The instant the platform's clock shows in a test, unless the test sets its own: a Wednesday
# 09:30 IST in the session. `PLATFORM_NOW=2028-02-29T04:30:00Z pytest ...` runs the suite at
# another instant (the date-shift guard: no test may depend on the machine's date).
DEFAULT_PLATFORM_NOW = "2026-11-25T04:00:00Z"

moto_transactions.install()  # one rollback snapshot per transaction, not one per item

# What a Lambda's environment holds before its first import: handler modules build their Powertools
# objects at import time (collection imports some of them, before any fixture runs).
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "options-platform-test",
    "POWERTOOLS_METRICS_NAMESPACE": "OptionsPlatformTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
os.environ.update(POWERTOOLS_ENVIRONMENT)


def platform_now() -> datetime:
    raw = os.environ.get("PLATFORM_NOW") or DEFAULT_PLATFORM_NOW
    instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError(f"PLATFORM_NOW={raw!r} needs a time zone (end it in Z)")
    return instant.astimezone(UTC)


@pytest.fixture
def platform_clock() -> FixedClock:
    """The clock every service of the test's composition root reads."""
    return FixedClock(platform_now())


@pytest.fixture(autouse=True)
def _no_platform_left_behind() -> Iterator[None]:
    """A test's composition root never outlives it."""
    previous = install(None)
    yield
    left = install(previous)
    if left is not None:
        left.close()


def install_platform(settings: RuntimeSettings, clock: Any, dynamodb: Any, **clients: Any) -> Platform:
    """Build and install the process's composition root the way a cold start would, with the
    test's clock and client."""
    root = one_process_root(settings, clock, dynamodb=dynamodb, wait_for_runs=True, **clients)
    install(root)
    return root


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    for name, value in POWERTOOLS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    load_settings.cache_clear()
    # Powertools keeps one metric set for every Metrics() of the process: a metric a test adds
    # without flushing would otherwise reach the next handler that flushes (their testing guide).
    Metrics().clear_metrics()
    yield
    load_settings.cache_clear()
    Metrics().clear_metrics()


@pytest.fixture
def test_settings() -> RuntimeSettings:
    return RuntimeSettings(
        environment="test",
        trading_table_name=f"{TEST_PREFIX}-trading-configurations",
        history_table_name=f"{TEST_PREFIX}-execution-history",
        broker_accounts_table_name=f"{TEST_PREFIX}-broker-accounts",
        idempotency_table_name=f"{TEST_PREFIX}-idempotency",
        feed_connections_table_name=f"{TEST_PREFIX}-feed-connections",
        backtest_jobs_table_name=f"{TEST_PREFIX}-backtest-jobs",
        event_bus_name=f"{TEST_PREFIX}-timer-bus",
        schedule_shards=2,
        market_data_source=MarketDataSourceName.SIMULATED,
    )


@pytest.fixture
def aws(
    test_settings: RuntimeSettings, platform_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """moto with every table created from `shared_utils.tables`, the settings exported and the
    composition root installed on the test's clock."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=TEST_REGION)
        for definition in ALL_TABLES:
            client.create_table(**definition.create_table_kwargs(definition.name(TEST_PREFIX)))
        boto3.client("events", region_name=TEST_REGION).create_event_bus(Name=test_settings.event_bus_name)
        for key, value in test_settings.as_environment().items():
            monkeypatch.setenv(key, value)
        load_settings.cache_clear()
        root = install_platform(test_settings, platform_clock, client)
        yield {"dynamodb": client, "settings": test_settings, "clock": platform_clock, "platform": root}
