"""The local bootstrap: the ONE place the local platform reads or sets process environment.

The handlers read their configuration from the environment (`shared_utils.settings`) and botocore
honours `AWS_ENDPOINT_URL_DYNAMODB` for every DynamoDB client, so exporting the local settings
here is how the very same handlers reach the moto server.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from shared_utils.settings import MarketDataSourceName, RuntimeSettings, load_settings
from shared_utils.tables import (
    BACKTEST_JOBS,
    BROKER_ACCOUNTS,
    EXECUTION_HISTORY,
    FEED_CONNECTIONS,
    IDEMPOTENCY,
    TRADING_CONFIGURATIONS,
    resource_prefix,
)

LOCAL_ENVIRONMENT = "local"
REGION = "ap-south-1"
DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = Path(".build") / "local"
# Fake credentials: the moto server accepts anything, and nothing here can reach AWS.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def local_settings(
    endpoint_url: str | None,
    schedule_shards: int = 1,
    timer_event_max_lag_seconds: int = 120,
    quote_max_age_seconds: int = 90,
    entry_max_lag_seconds: int = 120,
) -> RuntimeSettings:
    """`timer_event_max_lag_seconds`, `quote_max_age_seconds` and `entry_max_lag_seconds` grow
    with an accelerated clock: two real seconds of handler work at x60 are two minutes of clock
    time (an entry run found "too late" and refused, a quote "stale"). The local platform's
    market data is the simulation, by configuration."""
    prefix = resource_prefix(LOCAL_ENVIRONMENT)
    return RuntimeSettings(
        environment=LOCAL_ENVIRONMENT,
        trading_table_name=TRADING_CONFIGURATIONS.name(prefix),
        history_table_name=EXECUTION_HISTORY.name(prefix),
        broker_accounts_table_name=BROKER_ACCOUNTS.name(prefix),
        idempotency_table_name=IDEMPOTENCY.name(prefix),
        feed_connections_table_name=FEED_CONNECTIONS.name(prefix),
        event_bus_name=f"{prefix}-timer-bus",
        schedule_shards=schedule_shards,
        dynamodb_endpoint_url=endpoint_url,
        timer_event_max_lag_seconds=timer_event_max_lag_seconds,
        market_data_source=MarketDataSourceName.SIMULATED,
        quote_max_age_seconds=quote_max_age_seconds,
        entry_max_lag_seconds=entry_max_lag_seconds,
        backtest_jobs_table_name=BACKTEST_JOBS.name(prefix),
        # Unset: Telegram messages stay in the local outbox (no network); set it to a stub's URL,
        # or to https://api.telegram.org to send for real.
        telegram_api_url=os.environ.get("TELEGRAM_API_URL") or None,
    )


def requested_port(default: int = DEFAULT_PORT) -> int:
    """`PORT` from the environment (the README's way to move the API), else `default`."""
    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"PORT={raw!r} is not a port number") from None


def export_client_environment(log_level: str = "WARNING") -> None:
    """Region, fake credentials and Powertools switches, before any boto3 client exists."""
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(_FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "options-platform-local")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OptionsPlatformLocal")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = log_level
    # Metrics are off locally; Powertools still warns on every invocation that none were sent.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def export_runtime_settings(settings: RuntimeSettings) -> None:
    """What every in-process handler reads: the run-time settings and the DynamoDB endpoint."""
    os.environ.update(settings.as_environment())
    if settings.dynamodb_endpoint_url:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = settings.dynamodb_endpoint_url
    load_settings.cache_clear()
