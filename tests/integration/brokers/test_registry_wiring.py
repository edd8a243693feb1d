"""The composition root's broker registry carries the exchange's order rules: the configured algo
id on every adapter's endpoint, symbol books, and protected pricing for brokers without market
protection."""

from __future__ import annotations

from typing import Any

from shared_utils.brokers.registry import ADAPTERS
from tests.conftest import install_platform


def test_every_adapter_gets_the_configured_algo_id_and_the_order_rules(aws: dict[str, Any]) -> None:
    settings = aws["settings"].model_copy(update={"broker_algo_id": "NSEALGO42"})
    root = install_platform(settings, aws["clock"], aws["dynamodb"])
    config = root.broker_registry.config
    assert {name: config.endpoints[name].algo_id for name in ADAPTERS} == dict.fromkeys(ADAPTERS, "NSEALGO42")
    assert config.symbol_book is root.symbol_books
    assert config.protection_prices is not None
