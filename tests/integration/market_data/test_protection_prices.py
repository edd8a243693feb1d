"""Protection prices read from the quote cache on moto: only fresh contract quotes price a MARKET
order; a stale, expired, missing or unreadable one refuses it before anything is sent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.brokers.models import (
    BrokerName,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    OrderState,
    OrderType,
    Position,
)
from shared_utils.brokers.port import BrokerNoProtectionPriceError
from shared_utils.brokers.protection import DEFAULT_MAX_AGE, ProtectedMarketOrders
from shared_utils.clock import FixedClock
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data import models as market
from shared_utils.market_data.cache import QUOTE_TTL, QuoteCache
from shared_utils.market_data.protection_prices import CachedProtectionPrices

CALL = OptionInstrument(
    underlying=Underlying.NIFTY,
    expiry=date(2026, 12, 1),
    strike=Decimal("26200"),
    option_type=OptionType.CE,
)
PUT = CALL.model_copy(update={"option_type": OptionType.PE})


class RecordingBroker:
    def __init__(self) -> None:
        self.placed: list[OrderRequest] = []

    @property
    def name(self) -> BrokerName:
        return BrokerName.UPSTOX

    def place(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order)
        return OrderResult(
            broker=self.name,
            broker_order_id="U1",
            tag=order.tag,
            status=OrderState.PENDING,
            quantity=order.quantity,
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        raise NotImplementedError

    def order_status(self, broker_order_id: str) -> OrderResult:
        raise NotImplementedError

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        raise NotImplementedError

    def positions(self) -> list[Position]:
        raise NotImplementedError


@pytest.fixture
def cache(aws: dict[str, Any]) -> QuoteCache:
    return QuoteCache(aws["dynamodb"], aws["settings"].trading_table_name)


@pytest.fixture
def clock(aws: dict[str, Any]) -> FixedClock:
    clock: FixedClock = aws["clock"]
    return clock


def quote(instrument: OptionInstrument, price: str, as_of: datetime) -> market.Quote:
    return market.Quote(
        instrument=instrument.key,
        last_price=Decimal(price),
        as_of=as_of,
        bid=Decimal(price) - Decimal("0.05"),
        ask=Decimal(price) + Decimal("0.05"),
    )


def order(side: Action, instrument: OptionInstrument = CALL) -> OrderRequest:
    return OrderRequest(
        order_key="2026-11-25#strat-1#ENTRY#acct-1#1#0",
        tag="PROTECTEDTAG1",
        instrument=instrument,
        side=side,
        quantity=65,
    )


def test_fresh_contract_quote_is_the_last_price(cache: QuoteCache, clock: FixedClock) -> None:
    now = clock.now()
    cache.put([quote(CALL, "118.40", now - timedelta(seconds=2)), quote(PUT, "96.15", now)], now)

    prices = CachedProtectionPrices(cache)

    assert prices.last_price(CALL, now, DEFAULT_MAX_AGE) == Decimal("118.40")
    assert prices.last_price(PUT, now, DEFAULT_MAX_AGE) == Decimal("96.15")


def test_missing_stale_expired_or_future_quotes_are_none(cache: QuoteCache, clock: FixedClock) -> None:
    now = clock.now()
    prices = CachedProtectionPrices(cache)
    assert prices.last_price(CALL, now, DEFAULT_MAX_AGE) is None  # never quoted

    # Written now, but quoted by the exchange longer than max_age ago: still cached, not fresh.
    cache.put([quote(CALL, "118.40", now - DEFAULT_MAX_AGE - timedelta(seconds=1))], now)
    assert prices.last_price(CALL, now, DEFAULT_MAX_AGE) is None
    assert prices.last_price(CALL, now, DEFAULT_MAX_AGE + timedelta(seconds=5)) == Decimal("118.40")

    # Stamped beyond the clocks' allowed disagreement in the future: not trusted.
    cache.put([quote(PUT, "96.15", now + market.CLOCK_SKEW_ALLOWANCE + timedelta(seconds=1))], now)
    assert prices.last_price(PUT, now, DEFAULT_MAX_AGE) is None

    # Expired in the cache (DynamoDB's TTL deletes late, moto never): gone, whatever max_age says.
    cache.put([quote(PUT, "96.15", now)], now)
    later = now + QUOTE_TTL
    assert prices.last_price(PUT, later, timedelta(days=1)) is None


def test_market_orders_are_priced_from_the_cache(cache: QuoteCache, clock: FixedClock) -> None:
    now = clock.now()
    cache.put([quote(CALL, "118.40", now - timedelta(seconds=40)), quote(PUT, "96.15", now)], now)
    inner = RecordingBroker()
    protected = ProtectedMarketOrders(inner, CachedProtectionPrices(cache), clock)

    protected.place(order(Action.BUY))
    protected.place(order(Action.SELL, PUT))

    buy, sell = inner.placed
    assert (buy.order_type, buy.price) == (OrderType.LIMIT, Decimal("120.80"))  # 120.768 up
    assert (sell.order_type, sell.price) == (OrderType.LIMIT, Decimal("94.20"))  # 94.227 down


def test_a_quote_gone_stale_refuses_and_sends_nothing(cache: QuoteCache, clock: FixedClock) -> None:
    now = clock.now()
    cache.put([quote(CALL, "118.40", now)], now)
    inner = RecordingBroker()
    protected = ProtectedMarketOrders(inner, CachedProtectionPrices(cache), clock)
    clock.advance(DEFAULT_MAX_AGE + timedelta(seconds=1))  # no refresh came

    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        protected.place(order(Action.BUY))

    assert refused.value.code == "NO_PROTECTION_PRICE" and refused.value.order_may_exist is False
    assert inner.placed == []


def test_an_unreadable_cache_refuses_and_sends_nothing(aws: dict[str, Any], clock: FixedClock) -> None:
    missing = QuoteCache(aws["dynamodb"], "no-such-table")
    prices = CachedProtectionPrices(missing)
    with pytest.raises(MarketDataUnavailableError):
        prices.last_price(CALL, clock.now(), DEFAULT_MAX_AGE)

    inner = RecordingBroker()
    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        ProtectedMarketOrders(inner, prices, clock).place(order(Action.SELL))

    assert isinstance(refused.value.__cause__, MarketDataUnavailableError)
    assert inner.placed == []
