"""The execution path of one process, for crash tests: the real engine, ledger and Zerodha adapter
against a moto server and a Kite stub on 127.0.0.1. A test runs `enter` in a child process and
kills it with SIGKILL mid-order, then `build_service` in its own process plays the next one.

    python -m tests.reliability.crash_child ENDPOINT STUB_URL USER STRATEGY_ID NOW_ISO
"""

from __future__ import annotations

import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.clock import FixedClock, to_ist
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.execution.leases import StrategyLeases
from shared_utils.execution.market import SimulatedOptionMarket
from shared_utils.execution.service import ExecutionService
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.trading import DynamoTradingRepository
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import BROKER_ACCOUNTS, EXECUTION_HISTORY, IDEMPOTENCY, TRADING_CONFIGURATIONS
from tests.conftest import TEST_PREFIX, TEST_REGION
from tests.integration.brokers import stub_kite

ACCOUNT = "z1"
LEVELS = {"NIFTY": Decimal("26000")}
# Long enough that the order in flight is still unanswered when the test kills the process.
BROKER_TIMEOUT_S = 30.0


def settings(endpoint: str) -> RuntimeSettings:
    return RuntimeSettings(
        environment="test",
        trading_table_name=TRADING_CONFIGURATIONS.name(TEST_PREFIX),
        history_table_name=EXECUTION_HISTORY.name(TEST_PREFIX),
        broker_accounts_table_name=BROKER_ACCOUNTS.name(TEST_PREFIX),
        idempotency_table_name=IDEMPOTENCY.name(TEST_PREFIX),
        event_bus_name=f"{TEST_PREFIX}-timer-bus",
        dynamodb_endpoint_url=endpoint,
    )


def build_service(endpoint: str, stub_url: str, clock: FixedClock, timeout_s: float) -> ExecutionService:
    """What a cold start builds for execution, with the Kite stub as the broker."""
    config = settings(endpoint)
    client: Any = boto3.client("dynamodb", region_name=TEST_REGION, endpoint_url=endpoint)
    credentials = BrokerCredentials(
        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
    )
    registry = BrokerRegistry(
        StaticCredentialsProvider({ACCOUNT: credentials}),
        clock,
        config=RegistryConfig(
            endpoints={BrokerName.ZERODHA: BrokerEndpoint(base_url=stub_url, timeout_s=timeout_s)}
        ),
    )
    accounts = DynamoBrokerAccounts(client, config.broker_accounts_table_name)
    return ExecutionService(
        ExecutionStore(client, config.history_table_name),
        DynamoTradingRepository.from_settings(config, client, clock),
        lambda user_id: AccountBrokers(registry, accounts, user_id),
        SimulatedOptionMarket(LEVELS.get, clock),
        TradingCalendar.default(),
        clock,
        leases=StrategyLeases(client, config.history_table_name, clock),
    )


def main(argv: list[str]) -> int:
    endpoint, stub_url, user_id, strategy_id, now = argv
    clock = FixedClock(datetime.fromisoformat(now))
    service = build_service(endpoint, stub_url, clock, BROKER_TIMEOUT_S)
    service.enter(user_id, strategy_id, to_ist(clock.now()).date())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
