"""Fixtures shared by every test: AWS credentials that cannot reach AWS, moto tables built from
the same definitions the stack uses, and run-time settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared_utils.settings import RuntimeSettings, load_settings
from shared_utils.tables import ALL_TABLES, resource_prefix

TEST_REGION = "ap-south-1"
TEST_PREFIX = resource_prefix("test")


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "options-platform-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OptionsPlatformTest")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


@pytest.fixture
def test_settings() -> RuntimeSettings:
    return RuntimeSettings(
        environment="test",
        trading_table_name=f"{TEST_PREFIX}-trading-configurations",
        history_table_name=f"{TEST_PREFIX}-execution-history",
        broker_accounts_table_name=f"{TEST_PREFIX}-broker-accounts",
        idempotency_table_name=f"{TEST_PREFIX}-idempotency",
        event_bus_name=f"{TEST_PREFIX}-timer-bus",
        schedule_shards=2,
    )


@pytest.fixture
def aws(test_settings: RuntimeSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with every table created from `shared_utils.tables` and the settings exported."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=TEST_REGION)
        for definition in ALL_TABLES:
            client.create_table(**definition.create_table_kwargs(definition.name(TEST_PREFIX)))
        boto3.client("events", region_name=TEST_REGION).create_event_bus(Name=test_settings.event_bus_name)
        for key, value in test_settings.as_environment().items():
            monkeypatch.setenv(key, value)
        load_settings.cache_clear()
        yield {"dynamodb": client, "settings": test_settings}
