from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from shared_utils.brokers.credentials import (
    CREDENTIALS_UNAVAILABLE_METRIC,
    SecretsManagerCredentialsProvider,
)
from shared_utils.brokers.port import BrokerAuthError
from shared_utils.errors import ConfigurationError

PREFIX = "test/brokers/"
SECRET = {"api_key": "kite-api-key-XYZ", "access_token": "very-secret-token-123", "user_id": "AB1234"}


@pytest.fixture
def secrets_client() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="ap-south-1")


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    metrics = Metrics(namespace="BrokersTest")
    metrics.clear_metrics()
    yield metrics
    metrics.clear_metrics()


def provider(client: object, metrics: Metrics, max_age_s: int = 300) -> SecretsManagerCredentialsProvider:
    return SecretsManagerCredentialsProvider(
        PREFIX,
        parameters.SecretsProvider(boto3_client=client),
        metrics,
        max_age_s=max_age_s,  # type: ignore[arg-type]
    )


def test_reads_the_account_secret_and_keeps_values_out_of_reprs(
    secrets_client: object, metrics: Metrics
) -> None:
    secrets_client.create_secret(Name=f"{PREFIX}acct-1", SecretString=json.dumps(SECRET))  # type: ignore[attr-defined]
    credentials = provider(secrets_client, metrics).get("acct-1")
    assert credentials.access_token.get_secret_value() == SECRET["access_token"]
    assert credentials.user_id == "AB1234"
    assert SECRET["access_token"] not in repr(credentials) and SECRET["api_key"] not in str(credentials)


def test_cached_value_is_served_while_fresh(secrets_client: object, metrics: Metrics) -> None:
    secrets_client.create_secret(Name=f"{PREFIX}acct-1", SecretString=json.dumps(SECRET))  # type: ignore[attr-defined]
    cached = provider(secrets_client, metrics)
    first = cached.get("acct-1")
    secrets_client.delete_secret(SecretId=f"{PREFIX}acct-1", ForceDeleteWithoutRecovery=True)  # type: ignore[attr-defined]
    assert cached.get("acct-1") == first
    with pytest.raises(BrokerAuthError):
        cached.get("acct-1", refresh=True)


def test_unreadable_secret_fails_closed_with_an_alert_metric_and_no_secret_in_logs(
    secrets_client: object, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    secrets_client.create_secret(  # type: ignore[attr-defined]
        Name=f"{PREFIX}acct-bad", SecretString='{"api_key": "kite-api-key-XYZ", "oops": '
    )
    with pytest.raises(BrokerAuthError) as missing:
        provider(secrets_client, metrics, max_age_s=0).get("acct-missing")
    with pytest.raises(BrokerAuthError):
        provider(secrets_client, metrics, max_age_s=0).get("acct-bad")
    assert missing.value.code == "BROKER_AUTH" and missing.value.__cause__ is None
    assert metrics.metric_set[CREDENTIALS_UNAVAILABLE_METRIC]["Value"] == [1.0, 1.0]
    assert [r.getMessage() for r in caplog.records] == ["broker credentials unavailable"] * 2
    assert all("kite-api-key-XYZ" not in str(vars(record)) for record in caplog.records)
    assert caplog.records[0].secret_name == f"{PREFIX}acct-missing"  # type: ignore[attr-defined]


def test_secret_without_a_token_is_refused(secrets_client: object, metrics: Metrics) -> None:
    secrets_client.create_secret(Name=f"{PREFIX}acct-2", SecretString=json.dumps({"api_key": "k"}))  # type: ignore[attr-defined]
    with pytest.raises(BrokerAuthError):
        provider(secrets_client, metrics).get("acct-2")


def test_an_empty_prefix_is_a_configuration_error(secrets_client: object, metrics: Metrics) -> None:
    with pytest.raises(ConfigurationError):
        SecretsManagerCredentialsProvider(
            "", parameters.SecretsProvider(boto3_client=secrets_client), metrics
        )  # type: ignore[arg-type]
