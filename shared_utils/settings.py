"""Run-time configuration of every Lambda function, validated once per cold start.

Field aliases are the environment variable names; the CDK stack builds the same model and
exports it with `as_environment()`, so the names are written in one place only.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class MarketDataSourceName(StrEnum):
    SIMULATED = "simulated"
    KITE = "kite"
    ANGEL_ONE = "angel_one"
    FINVASIA = "finvasia"


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    environment: str = Field(alias="PLATFORM_ENV", min_length=1)
    trading_table_name: str = Field(alias="TRADING_TABLE_NAME", min_length=3)
    history_table_name: str = Field(alias="HISTORY_TABLE_NAME", min_length=3)
    broker_accounts_table_name: str = Field(alias="BROKER_ACCOUNTS_TABLE_NAME", min_length=3)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    # The live feed: its connections table, and the WebSocket API's management endpoint
    # (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) the broadcaster posts to.
    feed_connections_table_name: str | None = Field(alias="FEED_CONNECTIONS_TABLE_NAME", default=None)
    feed_endpoint_url: str | None = Field(alias="FEED_ENDPOINT_URL", default=None)
    # The WebSocket $connect authorizer: the user pool whose ID tokens it accepts, and the app
    # client they must be issued to.
    cognito_user_pool_id: str | None = Field(alias="COGNITO_USER_POOL_ID", default=None)
    cognito_app_client_id: str | None = Field(alias="COGNITO_APP_CLIENT_ID", default=None)
    # Unset: the pool's own https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json.
    cognito_jwks_url: str | None = Field(alias="COGNITO_JWKS_URL", default=None)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    schedule_shards: int = Field(alias="SCHEDULE_SHARDS", default=1, ge=1, le=100)
    broker_secret_prefix: str = Field(alias="BROKER_SECRET_PREFIX", default="")
    # Linked accounts' app credentials (API secret, PIN, TOTP secret): only the account routes
    # and the morning's login read them, never the order path. And the key new secrets use.
    broker_app_secret_prefix: str = Field(alias="BROKER_APP_SECRET_PREFIX", default="")
    # False where another stack (the auth stack) links accounts and keeps their broker sessions:
    # the platform then neither logs accounts in each morning nor logs them out after the close.
    manage_broker_sessions: bool = Field(alias="MANAGE_BROKER_SESSIONS", default=True)
    broker_secret_kms_key: str | None = Field(alias="BROKER_SECRET_KMS_KEY", default=None)
    # The exchange-registered algo id every order carries where its broker takes one (Kite's
    # `algo_id`; for Upstox, the algo name configured in its app). `algo_id` in environments.json.
    # Each client group's static-IP egress (`brokers/egress.EgressDocument`, JSON, set by the
    # stack from `client_egress`): an account without one gets no broker built when required.
    client_egress: str | None = Field(alias="CLIENT_EGRESS", default=None, max_length=4096)
    broker_algo_id: str | None = Field(alias="BROKER_ALGO_ID", default=None, min_length=1, max_length=64)
    # Set by the local platform to point boto3 at the moto server; unset on AWS.
    dynamodb_endpoint_url: str | None = Field(alias="DYNAMODB_ENDPOINT_URL", default=None)
    # The master timer's state machine; only the timer starter needs it (set by the timer construct).
    timer_state_machine_arn: str | None = Field(alias="TIMER_STATE_MACHINE_ARN", default=None)
    # A timer event whose tick is older than this (an EventBridge retry, a DLQ redrive) is dropped:
    # a 09:30 entry must not be placed at 11:30.
    timer_event_max_lag_seconds: int = Field(alias="TIMER_EVENT_MAX_LAG_SECONDS", default=120, ge=10, le=3600)
    # Intraday positions are squared off this long before the session's close (per environment).
    square_off_minutes_before_close: int = Field(
        alias="SQUARE_OFF_MINUTES_BEFORE_CLOSE", default=10, ge=5, le=60
    )
    # An order without an outcome (UNKNOWN, or PENDING / PLACED) this long raises an alarm.
    unknown_order_alert_seconds: int = Field(alias="UNKNOWN_ORDER_ALERT_SECONDS", default=300, ge=60, le=3600)

    # The strategy-run queue the executors consume (set by the stack). Unset: only a process that
    # runs everything itself (the local platform, tests) may go on, with its in-process queue.
    strategy_run_queue_url: str | None = Field(alias="STRATEGY_RUN_QUEUE_URL", default=None)
    # An entry whose run reaches an executor later than this after its minute is stored as not
    # entered, never placed late (exits always run).
    entry_max_lag_seconds: int = Field(alias="ENTRY_MAX_LAG_SECONDS", default=120, ge=10, le=3600)
    # Worker threads of the local platform's run queue.
    local_run_workers: int = Field(alias="LOCAL_RUN_WORKERS", default=4, ge=1, le=64)
    # Where the minute's quotes come from (`market_data` in environments.json; the local platform:
    # "simulated"). Unset, or a source this build has no adapter for: the refresh fails loudly and
    # nothing is priced; never a silent simulation.
    market_data_source: MarketDataSourceName | None = Field(alias="MARKET_DATA_SOURCE", default=None)
    # A quote older than this prices nothing (no entry, no stop-loss decision on it).
    quote_max_age_seconds: int = Field(alias="QUOTE_MAX_AGE_SECONDS", default=90, ge=30, le=3600)
    # The source's credentials (a Secrets Manager secret shaped like a broker account's:
    # api_key, access_token ...) and, for a stub or a proxy, its base URL (unset: the SDK's own).
    market_data_secret: str | None = Field(alias="MARKET_DATA_SECRET", default=None)
    market_data_url: str | None = Field(alias="MARKET_DATA_URL", default=None)
    # Chains refreshed for due strategies: ATM ± this many strike steps, every listed expiry kind.
    chain_strikes_each_side: int = Field(alias="CHAIN_STRIKES_EACH_SIDE", default=30, ge=1, le=100)
    # The annual rate of the forward and Black-76 (the 91-day T-bill yield; set per environment).
    option_pricing_rate: float = Field(alias="OPTION_PRICING_RATE", default=0.065, ge=0, le=0.25)

    # The brokers whose instrument master is kept each morning as a symbol book (orders then
    # carry the broker's listed symbol and token): comma-separated broker names. The market-data
    # source's broker is kept too, from the same download.
    symbol_book_brokers: str = Field(alias="SYMBOL_BOOK_BROKERS", default="", pattern=r"^[A-Z_,]*$")
    # The web app's origins (comma-separated, `cors_allowed_origins` of the environment): a
    # response to a request from one of them says so (Access-Control-Allow-Origin), or the
    # browser withholds it from the app. API Gateway answers the preflight itself.
    cors_allowed_origins: str = Field(alias="CORS_ALLOWED_ORIGINS", default="", max_length=2048)

    # Backtests as jobs (docs/backtesting.md): the jobs' table, the bucket of their results and
    # the function the API starts them on (set by the stack on the functions that need them; the
    # local platform hands in its own thread and directory instead of the last two).
    backtest_jobs_table_name: str | None = Field(alias="BACKTEST_JOBS_TABLE_NAME", default=None, min_length=3)
    backtest_results_bucket: str | None = Field(alias="BACKTEST_RESULTS_BUCKET", default=None, min_length=3)
    backtest_runner_function: str | None = Field(alias="BACKTEST_RUNNER_FUNCTION", default=None, min_length=1)
    # A user's request: at most this many calendar days, this many strategies, and this many of
    # their jobs unfinished at once.
    backtest_max_days: int = Field(alias="BACKTEST_MAX_DAYS", default=366, ge=1, le=3660)
    backtest_max_strategies: int = Field(alias="BACKTEST_MAX_STRATEGIES", default=10, ge=1, le=100)
    backtest_max_running: int = Field(alias="BACKTEST_MAX_RUNNING", default=2, ge=1, le=50)

    # Notifications (docs/notifications.md), set by the stack on the functions that need them:
    # the queue of deliveries (the notifier and the settings routes send to it, the sender
    # consumes it), where users' Telegram bot tokens live (and the key new ones use), the SES
    # sender address (unset: no e-mail channel) and its configuration set, and Telegram's Bot API
    # base URL (unset: Telegram's own; a stub in tests, the local platform's choice).
    notification_queue_url: str | None = Field(alias="NOTIFICATION_QUEUE_URL", default=None)
    notification_secret_prefix: str = Field(alias="NOTIFICATION_SECRET_PREFIX", default="")
    notification_secret_kms_key: str | None = Field(alias="NOTIFICATION_SECRET_KMS_KEY", default=None)
    notification_email_sender: str | None = Field(
        alias="NOTIFICATION_EMAIL_SENDER", default=None, max_length=254
    )
    notification_ses_configuration_set: str | None = Field(
        alias="NOTIFICATION_SES_CONFIGURATION_SET", default=None
    )
    telegram_api_url: str | None = Field(alias="TELEGRAM_API_URL", default=None, pattern=r"^https?://")

    @property
    def symbol_books(self) -> tuple[str, ...]:
        return tuple(name for name in self.symbol_book_brokers.split(",") if name)

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(origin for origin in self.cors_allowed_origins.split(",") if origin)

    def as_environment(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.model_dump(by_alias=True).items() if value is not None}


@lru_cache(maxsize=1)
def load_settings() -> RuntimeSettings:
    """Read and validate the environment once; a missing variable fails the cold start loudly."""
    return RuntimeSettings.model_validate(dict(os.environ))
