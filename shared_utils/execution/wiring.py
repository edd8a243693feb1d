"""Builds the execution engine's adapters from the run-time settings (handler modules and the
timer wiring only; domain code receives them as arguments).

The broker registry is kept for the life of the execution environment, so each account's rate
limiter, circuit breaker and paper book survive warm invocations.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities import parameters

from shared_utils.brokers.credentials import (
    CredentialsProvider,
    SecretsManagerCredentialsProvider,
    StaticCredentialsProvider,
)
from shared_utils.brokers.port import Broker
from shared_utils.brokers.registry import BrokerRegistry
from shared_utils.clock import Clock, SystemClock
from shared_utils.errors import ConfigurationError
from shared_utils.execution.engine import BrokerProvider
from shared_utils.execution.kill_switch import KillSwitch
from shared_utils.execution.market import SimulatedOptionMarket
from shared_utils.execution.service import ExecutionService, StrategyReader
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.ports import BrokerAccountsReader
from shared_utils.repository.trading import DynamoTradingRepository
from shared_utils.settings import RuntimeSettings
from shared_utils.timer.market_data import QuoteCache, QuoteReader, SimulatedMarketData

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AccountBrokers:
    """`BrokerProvider` of one user: an account must be the user's own; its broker comes from
    the registry (paper for paper accounts, the SDK adapter otherwise, never a silent fall-back)."""

    def __init__(self, registry: BrokerRegistry, accounts: BrokerAccountsReader, user_id: str) -> None:
        self._registry = registry
        self._accounts = accounts
        self._user_id = user_id

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        account = self._accounts.get_account(self._user_id, broker_account_id)
        if account is None:
            raise ConfigurationError(message=f"broker account {broker_account_id} is not linked to this user")
        return self._registry.broker_for(broker_account_id, account.broker, paper=account.paper)


class CachedLevels:
    """Index levels from the timer's quote cache; the simulated market where nothing is cached
    (the source the market-data refresher uses in this build).

    A level is read at most once per underlying per minute (the quote cache holds one level a
    minute anyway), so pricing many positions costs one read per underlying, not one per contract.
    """

    def __init__(self, cache: QuoteReader, clock: Clock, fallback: SimulatedMarketData | None = None) -> None:
        self._cache = cache
        self._clock = clock
        self._fallback = fallback or SimulatedMarketData()
        self._memo: tuple[int, dict[str, Decimal | None]] = (-1, {})

    def __call__(self, underlying: str) -> Decimal | None:
        now = self._clock.now()
        minute = int(now.timestamp() // 60)
        memo = self._memo
        if memo[0] != minute:
            memo = (minute, {})
            self._memo = memo  # a new minute drops the last one's levels: the memo stays small
        levels = memo[1]
        if underlying not in levels:
            quote = self._cache.get(underlying, now)
            if quote is not None:
                levels[underlying] = quote.last_price
            else:
                simulated = self._fallback.quotes([underlying], now)
                levels[underlying] = simulated[0].last_price if simulated else None
        return levels[underlying]


def _credentials(settings: RuntimeSettings, metrics: Metrics) -> CredentialsProvider:
    if not settings.broker_secret_prefix:
        # No secrets configured: paper accounts trade, any real account fails closed (auth error).
        return StaticCredentialsProvider({})
    return SecretsManagerCredentialsProvider(
        settings.broker_secret_prefix, parameters.SecretsProvider(), metrics
    )


@lru_cache(maxsize=2)
def _market(client: DynamoDBClient, table: str) -> SimulatedOptionMarket:
    clock = SystemClock()
    return SimulatedOptionMarket(CachedLevels(QuoteCache(client, table), clock), clock)


@lru_cache(maxsize=2)
def _registry(client: DynamoDBClient, settings: RuntimeSettings) -> BrokerRegistry:
    market = _market(client, settings.trading_table_name)
    return BrokerRegistry(_credentials(settings, Metrics()), SystemClock(), prices=market.price)


def market(client: DynamoDBClient, settings: RuntimeSettings) -> SimulatedOptionMarket:
    return _market(client, settings.trading_table_name)


def store(client: DynamoDBClient, settings: RuntimeSettings) -> ExecutionStore:
    return ExecutionStore(client, settings.history_table_name)


def repository(client: DynamoDBClient, settings: RuntimeSettings) -> DynamoTradingRepository:
    return DynamoTradingRepository.from_settings(settings, client, SystemClock())


def service(
    client: DynamoDBClient,
    settings: RuntimeSettings,
    metrics: Metrics | None = None,
    strategies: StrategyReader | None = None,
) -> ExecutionService:
    """The execution service; `strategies` replaces the repository as the strategy reader (the
    marketplace runs a published strategy for its subscribers through it)."""
    accounts = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
    registry = _registry(client, settings)

    def brokers_for_user(user_id: str) -> BrokerProvider:
        return AccountBrokers(registry, accounts, user_id)

    return ExecutionService(
        store(client, settings),
        strategies if strategies is not None else repository(client, settings),
        brokers_for_user,
        market(client, settings),
        TradingCalendar.default(),
        SystemClock(),
        metrics=metrics,
    )


def reset() -> None:
    """Forget cached registries and markets (tests switching moto contexts)."""
    _market.cache_clear()
    _registry.cache_clear()


def kill_switch(
    client: DynamoDBClient, settings: RuntimeSettings, metrics: Metrics | None = None
) -> KillSwitch:
    return KillSwitch(service(client, settings, metrics), repository(client, settings), SystemClock())
