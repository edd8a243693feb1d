"""Builds the `Broker` for a broker account: the only place adapters are chosen.

- PAPER accounts (or any account flagged `paper`) get the paper broker.
- ZERODHA / ANGEL_ONE / FINVASIA / UPSTOX / DHAN get their SDK adapter, wrapped with the
  account's rate limiter and circuit breaker, built from credentials read through the
  `CredentialsProvider` (a failure there raises `BrokerAuthError` before anything is sent).
- A broker name that is unknown, known without an adapter (FYERS) or missing the
  configuration its adapter needs raises `ConfigurationError`: never a silent fall-back to paper.
Rate limiters, circuit breakers and built adapters are kept per account for the life of the
registry (one warm Lambda container); an adapter is rebuilt when its credentials change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_one import AngelOneBroker
from shared_utils.brokers.angel_one import SymbolTokenLookup as AngelTokens
from shared_utils.brokers.circuit import CircuitBreaker, CircuitSnapshot
from shared_utils.brokers.credentials import BrokerCredentials, CredentialsProvider
from shared_utils.brokers.egress import ClientEgress, with_egress_ip
from shared_utils.brokers.finvasia import FinvasiaBroker
from shared_utils.brokers.finvasia import SymbolTokenLookup as NorenTokens
from shared_utils.brokers.guarded import GuardedBroker
from shared_utils.brokers.guards import Circuit, OrderLimiter
from shared_utils.brokers.listed import ListedSymbolBroker, SymbolBook
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.paper import PaperBroker, PaperConfig, PriceSource
from shared_utils.brokers.port import Broker
from shared_utils.brokers.protection import (
    DEFAULT_MAX_AGE,
    ProtectedMarketOrders,
    ProtectionPrices,
    needs_protection,
)
from shared_utils.brokers.rate_limit import OrderRateLimiter, order_limits
from shared_utils.brokers.zerodha import ZerodhaBroker
from shared_utils.clock import Clock
from shared_utils.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ADAPTERS = frozenset(
    {BrokerName.ZERODHA, BrokerName.ANGEL_ONE, BrokerName.FINVASIA, BrokerName.UPSTOX, BrokerName.DHAN}
)


def parse_broker_name(value: str) -> BrokerName:
    try:
        return BrokerName(value.strip().upper())
    except ValueError:
        raise ConfigurationError(message=f"unknown broker {value!r}") from None


@dataclass(frozen=True)
class SharedGuards:
    """Where the shared rate limits and circuits live (the execution-history table)."""

    client: DynamoDBClient
    table_name: str


@dataclass
class RegistryConfig:
    endpoints: Mapping[BrokerName, BrokerEndpoint] = field(default_factory=dict)
    paper: PaperConfig = field(default_factory=PaperConfig)
    angel_one_tokens: AngelTokens | None = None
    finvasia_tokens: NorenTokens | None = None
    # Upstox and Dhan address a contract by their own token (instrument key, security id).
    upstox_tokens: AngelTokens | None = None
    dhan_tokens: AngelTokens | None = None
    circuit_failure_threshold: int = 5
    circuit_cool_down: timedelta = timedelta(seconds=30)
    rate_limit_max_wait: timedelta = timedelta(seconds=5)
    sebi_unregistered_cap: bool = True
    # Each broker's listed symbols (the morning's instrument masters); None: the rules' symbols.
    symbol_book: SymbolBook | None = None
    # Quotes that price a MARKET order as a protected LIMIT for brokers without native market
    # protection (`protection.needs_protection`). Unset: such a broker's account is refused.
    protection_prices: ProtectionPrices | None = None
    protection_max_age: timedelta = DEFAULT_MAX_AGE
    # Rate limits and circuits kept in DynamoDB for every container (None: in this process).
    shared_guards: SharedGuards | None = None


class BrokerRegistry:
    def __init__(
        self,
        credentials: CredentialsProvider,
        clock: Clock,
        prices: PriceSource | None = None,
        config: RegistryConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._prices = prices
        self._config = config or RegistryConfig()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paper: dict[str, PaperBroker] = {}
        self._guards: dict[str, tuple[OrderLimiter, Circuit]] = {}
        self._adapters: dict[str, tuple[str, Broker]] = {}

    def broker_for(
        self,
        account_id: str,
        broker: str,
        *,
        paper: bool = False,
        refresh_credentials: bool = False,
        egress: ClientEgress | None = None,
    ) -> Broker:
        """`refresh_credentials` re-reads the secret past its cache (after a `BrokerAuthError`).
        `egress`: the client's static-IP route; every request of the adapter leaves through it."""
        name = parse_broker_name(broker)
        if paper or name is BrokerName.PAPER:
            return self._paper_broker(account_id)
        if name not in ADAPTERS:
            raise ConfigurationError(message=f"broker {name.value} has no adapter; account {account_id}")
        credentials = self._credentials.get(account_id, refresh=refresh_credentials)
        limiter, circuit = self._guard(account_id, name)
        with self._lock:
            cached = self._adapters.get(account_id)
        endpoint = self._config.endpoints.get(name, BrokerEndpoint())
        if egress is not None:
            endpoint = with_egress_ip(endpoint, egress).model_copy(update={"proxy_url": egress.proxy_url})
        fingerprint = f"{name.value}:{credentials.fingerprint()}:{endpoint.proxy_url}"
        if cached is not None and cached[0] == fingerprint:
            adapter = cached[1]
        else:
            adapter = self._build_adapter(name, credentials, endpoint)
            with self._lock:
                self._adapters[account_id] = (fingerprint, adapter)
        built: Broker = GuardedBroker(adapter, account_id, limiter, circuit)
        if self._config.symbol_book is not None:
            built = ListedSymbolBroker(built, self._config.symbol_book)
        if needs_protection(name):
            # Outside the guard: an order refused for want of a price takes no rate-limit token.
            built = ProtectedMarketOrders(
                built, self._protection_prices(name), self._clock, max_age=self._config.protection_max_age
            )
        return built

    def _protection_prices(self, name: BrokerName) -> ProtectionPrices:
        if self._config.protection_prices is None:
            raise ConfigurationError(
                message=f"{name.value} has no market protection: its orders need a protection price source"
            )
        return self._config.protection_prices

    @property
    def config(self) -> RegistryConfig:
        return self._config

    def circuit_state(self, account_id: str) -> CircuitSnapshot | None:
        with self._lock:
            guard = self._guards.get(account_id)
        return guard[1].snapshot() if guard else None

    def _paper_broker(self, account_id: str) -> PaperBroker:
        if self._prices is None:
            raise ConfigurationError(message="the paper broker needs a price source")
        with self._lock:
            broker = self._paper.get(account_id)
            if broker is None:
                broker = PaperBroker(self._prices, self._clock, self._config.paper, account_id=account_id)
                self._paper[account_id] = broker
            return broker

    def _guard(self, account_id: str, name: BrokerName) -> tuple[OrderLimiter, Circuit]:
        with self._lock:
            guard = self._guards.get(account_id)
            if guard is None:
                guard = self._new_guard(account_id, name)
                self._guards[account_id] = guard
            return guard

    def _new_guard(self, account_id: str, name: BrokerName) -> tuple[OrderLimiter, Circuit]:
        """The account's limiter and circuit: in this process, or shared by every container
        through DynamoDB (`shared_guards`; the exchange counts the client's orders, whichever
        container sends them). Per account, across both exchanges: stricter than the rule's
        per-exchange count, never looser."""
        config = self._config
        limits = order_limits(name, sebi_unregistered_cap=config.sebi_unregistered_cap)
        shared = config.shared_guards
        if shared is None:
            return (
                OrderRateLimiter(limits, self._clock, self._sleep, config.rate_limit_max_wait),
                CircuitBreaker(
                    account_id, self._clock, config.circuit_failure_threshold, config.circuit_cool_down
                ),
            )
        from shared_utils.brokers.shared_limits import SharedCircuitBreaker, SharedOrderRateLimiter

        return (
            SharedOrderRateLimiter(
                shared.client,
                shared.table_name,
                account_id,
                limits,
                self._clock,
                self._sleep,
                config.rate_limit_max_wait,
            ),
            SharedCircuitBreaker(
                shared.client,
                shared.table_name,
                account_id,
                self._clock,
                config.circuit_failure_threshold,
                config.circuit_cool_down,
            ),
        )

    def _build_adapter(
        self, name: BrokerName, credentials: BrokerCredentials, endpoint: BrokerEndpoint
    ) -> Broker:
        if name is BrokerName.ZERODHA:
            return ZerodhaBroker(credentials, self._clock, endpoint)
        if name is BrokerName.ANGEL_ONE:
            if self._config.angel_one_tokens is None:
                raise ConfigurationError(message="Angel One needs a symbol-token lookup (scrip master)")
            return AngelOneBroker(credentials, self._clock, self._config.angel_one_tokens, endpoint)
        if name is BrokerName.UPSTOX:
            from shared_utils.brokers.upstox import UpstoxBroker

            if self._config.upstox_tokens is None:
                raise ConfigurationError(message="Upstox needs an instrument-key lookup (its instruments)")
            return UpstoxBroker(credentials, self._clock, self._config.upstox_tokens, endpoint)
        if name is BrokerName.DHAN:
            from shared_utils.brokers.dhan import DhanBroker

            if self._config.dhan_tokens is None:
                raise ConfigurationError(message="Dhan needs a security-id lookup (its scrip master)")
            return DhanBroker(credentials, self._clock, self._config.dhan_tokens, endpoint)
        return FinvasiaBroker(credentials, self._clock, endpoint, self._config.finvasia_tokens)
