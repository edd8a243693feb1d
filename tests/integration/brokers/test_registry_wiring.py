"""The composition root's broker registry carries the exchange's order rules: the configured algo
id on every adapter's endpoint, symbol books, and protected pricing for brokers without market
protection."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderRequest
from shared_utils.brokers.port import BrokerRateLimitedError
from shared_utils.brokers.registry import ADAPTERS, BrokerRegistry, RegistryConfig, SharedGuards
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.clock import FixedClock
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from tests.conftest import install_platform
from tests.integration.brokers import stub_kite
from tests.integration.brokers.stub_server import StubHttpServer


def test_every_adapter_gets_the_configured_algo_id_and_the_order_rules(aws: dict[str, Any]) -> None:
    settings = aws["settings"].model_copy(update={"broker_algo_id": "NSEALGO42"})
    root = install_platform(settings, aws["clock"], aws["dynamodb"])
    config = root.broker_registry.config
    assert {name: config.endpoints[name].algo_id for name in ADAPTERS} == dict.fromkeys(ADAPTERS, "NSEALGO42")
    assert config.symbol_book is root.symbol_books
    assert config.protection_prices is not None
    assert config.shared_guards is not None  # every container counts the same orders


def test_two_containers_share_one_accounts_order_rate(aws: dict[str, Any]) -> None:
    """Two registries (two warm containers) on one table: the exchange's 10 orders a second
    hold for the account whichever of them sends; the 11th waits, nothing is booked for it."""
    clock = FixedClock(datetime(2026, 11, 24, 4, 0, tzinfo=UTC))
    credentials = BrokerCredentials(
        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
    )
    with StubHttpServer(stub_kite.KiteStub()) as server:

        def container() -> BrokerRegistry:
            config = RegistryConfig(
                endpoints={BrokerName.ZERODHA: BrokerEndpoint(base_url=server.url, timeout_s=2)},
                shared_guards=SharedGuards(aws["dynamodb"], aws["settings"].trading_table_name),
                rate_limit_max_wait=timedelta(0),
            )
            return BrokerRegistry(StaticCredentialsProvider({"z-1": credentials}), clock, config=config)

        first, second = container().broker_for("z-1", "ZERODHA"), container().broker_for("z-1", "ZERODHA")
        for n in range(10):
            (first if n % 2 else second).place(order(n))
        with pytest.raises(BrokerRateLimitedError):
            second.place(order(10))
        assert len(server.stub.orders) == 10
        clock.advance(timedelta(seconds=1))
        second.place(order(10))
        assert len(server.stub.orders) == 11


def order(n: int) -> OrderRequest:
    key = order_key(date(2026, 11, 24), f"strat-{n}", "ENTRY", "z-1", 1, 0)
    instrument = OptionInstrument(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 11, 24),
        strike=Decimal(24000),
        option_type=OptionType.CE,
    )
    return OrderRequest(
        order_key=key,
        tag=broker_tag(key, BrokerName.ZERODHA),
        instrument=instrument,
        side=Action.BUY,
        quantity=75,
    )
