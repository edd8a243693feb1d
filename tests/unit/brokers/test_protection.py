"""MARKET orders leave `ProtectedMarketOrders` as LIMIT orders priced from a fresh quote, or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.brokers.models import (
    BrokerName,
    DerivativesExchange,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    OrderState,
    OrderType,
    Position,
)
from shared_utils.brokers.port import Broker, BrokerError, BrokerNoProtectionPriceError
from shared_utils.brokers.protection import (
    DEFAULT_BAND,
    DEFAULT_MAX_AGE,
    INDEX_OPTION_TICK,
    ProtectedMarketOrders,
    exchange_band_width,
    needs_protection,
    protection_price,
)
from shared_utils.clock import FixedClock
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Product
from tests.unit.brokers.conftest import START, make_order, nifty

SENSEX = OptionInstrument(
    underlying=Underlying.SENSEX,
    expiry=date(2026, 11, 26),
    strike=Decimal("85000"),
    option_type=OptionType.PE,
)


@dataclass
class RecordingBroker:
    """An inner broker that only records what reaches it."""

    broker: BrokerName = BrokerName.DHAN
    placed: list[OrderRequest] = field(default_factory=list)
    calls: list[tuple[str, object]] = field(default_factory=list)

    @property
    def name(self) -> BrokerName:
        return self.broker

    def place(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order)
        return OrderResult(
            broker=self.broker,
            broker_order_id=f"B{len(self.placed)}",
            tag=order.tag,
            status=OrderState.PENDING,
            quantity=order.quantity,
        )

    def _result(self, broker_order_id: str) -> OrderResult:
        return OrderResult(
            broker=self.broker, broker_order_id=broker_order_id, status=OrderState.OPEN, quantity=1
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        self.calls.append(("cancel", broker_order_id))
        return self._result(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        self.calls.append(("order_status", broker_order_id))
        return self._result(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        self.calls.append(("find_order_by_tag", tag))
        return None

    def positions(self) -> list[Position]:
        self.calls.append(("positions", None))
        return []


@dataclass
class Prices:
    """Last prices stamped with their quote time; honours `max_age` like the quote cache adapter."""

    quotes: dict[str, tuple[Decimal, datetime]] = field(default_factory=dict)
    asked: list[tuple[str, datetime, timedelta]] = field(default_factory=list)
    unreadable: bool = False

    def set(self, instrument: OptionInstrument, price: str, as_of: datetime = START) -> None:
        self.quotes[instrument.key] = (Decimal(price), as_of)

    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        self.asked.append((instrument.key, now, max_age))
        if self.unreadable:
            raise MarketDataUnavailableError("quote cache throttled")
        found = self.quotes.get(instrument.key)
        if found is None or now - found[1] > max_age:
            return None
        return found[0]


@pytest.fixture
def inner() -> RecordingBroker:
    return RecordingBroker()


@pytest.fixture
def prices() -> Prices:
    return Prices()


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def protected(inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock) -> ProtectedMarketOrders:
    return ProtectedMarketOrders(inner, prices, fixed_clock)


def square_off(*, instrument: OptionInstrument | None = None, side: Action = Action.SELL) -> OrderRequest:
    return OrderRequest(
        order_key="2026-11-24#strat-1#EXIT#acct-1#1#0",
        tag="SQUAREOFF1",
        instrument=instrument,
        tradingsymbol="NIFTY2612424000CE",
        segment=DerivativesExchange.NFO,
        side=side,
        quantity=75,
        order_type=OrderType.MARKET,
        product=Product.MIS,
    )


# --- the price --------------------------------------------------------------------------------


def test_defaults_are_two_percent_and_ninety_seconds() -> None:
    assert Decimal("0.02") == DEFAULT_BAND
    assert timedelta(seconds=90) == DEFAULT_MAX_AGE
    assert Decimal("0.05") == INDEX_OPTION_TICK


@pytest.mark.parametrize(
    ("side", "last", "band", "expected"),
    [
        (Action.BUY, "118.40", "0.02", "120.80"),  # 120.768 rounded up
        (Action.SELL, "118.40", "0.02", "116.00"),  # 116.032 rounded down
        (Action.BUY, "100", "0.02", "102.00"),  # already on the tick
        (Action.SELL, "100", "0.02", "98.00"),
        (Action.BUY, "1.00", "0.02", "1.05"),  # 1.02: a cheap option still gets one tick of room
        (Action.SELL, "1.00", "0.02", "0.95"),  # 0.98
        (Action.SELL, "0.05", "0.02", "0.05"),  # never below one tick
        (Action.BUY, "0.05", "0.02", "0.10"),
        (Action.BUY, "250.00", "0.05", "262.50"),  # a configured band
        (Action.SELL, "250.00", "0.05", "237.50"),
        (Action.BUY, "33.33", "0.10", "36.70"),  # 36.663 up
        (Action.SELL, "33.33", "0.10", "29.95"),  # 29.997 down
    ],
)
def test_band_rounded_against_the_trader_to_the_tick(
    side: Action, last: str, band: str, expected: str
) -> None:
    price = protection_price(side, Decimal(last), Decimal(band), DerivativesExchange.NFO)

    assert price == Decimal(expected)
    assert price.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("exchange", "side", "last", "band", "expected"),
    [
        # NSE LPP: reference above Rs 50 +/- 40%, up to Rs 50 +/- Rs 20.
        (DerivativesExchange.NFO, Action.BUY, "100", "0.5", "140.00"),
        (DerivativesExchange.NFO, Action.SELL, "100", "0.5", "60.00"),
        (DerivativesExchange.NFO, Action.BUY, "30", "0.9", "50.00"),
        (DerivativesExchange.NFO, Action.SELL, "30", "0.9", "10.00"),
        (DerivativesExchange.NFO, Action.SELL, "10", "0.9", "1.00"),  # Rs 20 below is under zero
        # BSE LPP: +/- 60%, at least Rs 30.
        (DerivativesExchange.BFO, Action.BUY, "100", "0.9", "160.00"),
        (DerivativesExchange.BFO, Action.SELL, "100", "0.9", "40.00"),
        (DerivativesExchange.BFO, Action.BUY, "20", "0.9", "38.00"),  # 38 < 20 + 30: not capped
        (DerivativesExchange.BFO, Action.BUY, "40", "0.9", "70.00"),  # 40 + 30
    ],
)
def test_a_wide_band_is_capped_by_the_exchange_price_band(
    exchange: DerivativesExchange, side: Action, last: str, band: str, expected: str
) -> None:
    assert protection_price(side, Decimal(last), Decimal(band), exchange) == Decimal(expected)


def test_the_default_band_never_reaches_the_exchange_band() -> None:
    for last in (Decimal("0.05"), Decimal("12.5"), Decimal("50"), Decimal("180"), Decimal("2500")):
        for exchange in DerivativesExchange:
            assert last * DEFAULT_BAND < exchange_band_width(exchange, last)


prices_on_paise = st.decimals(min_value=Decimal("0.05"), max_value=Decimal("100000"), places=2)
bands = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.999"), places=3)


@given(
    side=st.sampled_from(list(Action)),
    last=prices_on_paise,
    band=bands,
    exchange=st.sampled_from(list(DerivativesExchange)),
)
def test_protected_price_is_on_the_tick_on_the_right_side_and_positive(
    side: Action, last: Decimal, band: Decimal, exchange: DerivativesExchange
) -> None:
    price = protection_price(side, last, band, exchange)

    assert price > 0
    assert price % INDEX_OPTION_TICK == 0
    width = exchange_band_width(exchange, last)
    if side is Action.BUY:
        assert last <= price <= last + width
    else:
        assert price <= last
        assert price >= last - width or price == INDEX_OPTION_TICK
    # and it is a price an order can carry
    order = make_order(side, order_type=OrderType.LIMIT, price=str(price))
    assert order.price == price


# --- the wrapper --------------------------------------------------------------------------------


def test_market_order_goes_as_a_limit_at_the_protected_price(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(nifty(), "118.40", as_of=START - timedelta(seconds=30))
    order = make_order(Action.BUY)

    result = protected.place(order)

    (sent,) = inner.placed
    assert sent.order_type is OrderType.LIMIT and sent.price == Decimal("120.80")
    assert sent.model_dump(exclude={"order_type", "price"}) == order.model_dump(
        exclude={"order_type", "price"}
    )
    assert OrderRequest.model_validate(sent.model_dump()) == sent
    assert result.broker_order_id == "B1" and result.tag == order.tag
    assert prices.asked == [(nifty().key, START, DEFAULT_MAX_AGE)]


def test_sell_goes_below_the_last_price(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(nifty(), "118.40")

    protected.place(make_order(Action.SELL))

    assert inner.placed[0].price == Decimal("116.00")


def test_bse_contract_is_priced_too(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(SENSEX, "412.35")

    protected.place(make_order(Action.BUY, instrument=SENSEX))

    assert inner.placed[0].price == Decimal("420.60")  # 420.597 up


def test_band_and_max_age_are_configurable(
    inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock
) -> None:
    wrapper = ProtectedMarketOrders(
        inner, prices, fixed_clock, band=Decimal("0.05"), max_age=timedelta(seconds=20)
    )
    prices.set(nifty(), "200", as_of=START - timedelta(seconds=15))

    wrapper.place(make_order(Action.BUY))

    assert inner.placed[0].price == Decimal("210.00")
    assert wrapper.band == Decimal("0.05")
    assert prices.asked[0][2] == timedelta(seconds=20)


def test_limit_orders_pass_unchanged_without_a_quote(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    order = make_order(Action.SELL, order_type=OrderType.LIMIT, price="87.35")

    protected.place(order)

    assert inner.placed == [order]
    assert inner.placed[0] is order
    assert prices.asked == []


def assert_refused(error: BrokerNoProtectionPriceError) -> None:
    assert isinstance(error, BrokerError)
    assert error.code == "NO_PROTECTION_PRICE"
    assert error.order_may_exist is False  # the engine's "not accepted, safe to retry"
    assert error.broker == BrokerName.DHAN.value


def test_stale_quote_refuses_and_sends_nothing(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock
) -> None:
    prices.set(nifty(), "118.40", as_of=START)
    fixed_clock.advance(DEFAULT_MAX_AGE + timedelta(seconds=1))

    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        protected.place(make_order(Action.BUY))

    assert_refused(refused.value)
    assert nifty().key in refused.value.message
    assert inner.placed == []


def test_quote_exactly_max_age_old_still_prices(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock
) -> None:
    prices.set(nifty(), "118.40", as_of=START)
    fixed_clock.advance(DEFAULT_MAX_AGE)

    protected.place(make_order(Action.BUY))

    assert len(inner.placed) == 1


def test_missing_quote_refuses_and_sends_nothing(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(nifty("24100"), "90")  # another strike

    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        protected.place(make_order(Action.SELL))

    assert_refused(refused.value)
    assert inner.placed == []


def test_unreadable_quotes_refuse_and_send_nothing(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(nifty(), "118.40")
    prices.unreadable = True

    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        protected.place(make_order(Action.BUY))

    assert_refused(refused.value)
    assert isinstance(refused.value.__cause__, MarketDataUnavailableError)
    assert inner.placed == []


def test_square_off_by_symbol_alone_is_refused(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    with pytest.raises(BrokerNoProtectionPriceError) as refused:
        protected.place(square_off())

    assert_refused(refused.value)
    assert "NIFTY2612424000CE" in refused.value.message
    assert inner.placed == [] and prices.asked == []


def test_square_off_with_its_instrument_is_priced_by_the_instrument(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    prices.set(nifty(), "118.40")

    protected.place(square_off(instrument=nifty()))

    (sent,) = inner.placed
    assert sent.order_type is OrderType.LIMIT and sent.price == Decimal("116.00")
    assert sent.tradingsymbol == "NIFTY2612424000CE" and sent.segment is DerivativesExchange.NFO


def test_a_refused_order_can_be_placed_again_once_a_quote_arrives(
    protected: ProtectedMarketOrders, inner: RecordingBroker, prices: Prices
) -> None:
    order = make_order(Action.BUY)
    with pytest.raises(BrokerNoProtectionPriceError):
        protected.place(order)

    prices.set(nifty(), "118.40")
    protected.place(order)

    assert [sent.tag for sent in inner.placed] == [order.tag]


@pytest.mark.parametrize("band", ["0", "1", "-0.02", "1.5"])
def test_band_must_be_a_fraction(
    inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock, band: str
) -> None:
    with pytest.raises(ValueError, match="band"):
        ProtectedMarketOrders(inner, prices, fixed_clock, band=Decimal(band))


def test_max_age_must_be_positive(inner: RecordingBroker, prices: Prices, fixed_clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="max_age"):
        ProtectedMarketOrders(inner, prices, fixed_clock, max_age=timedelta(0))


def test_everything_else_is_delegated(protected: ProtectedMarketOrders, inner: RecordingBroker) -> None:
    assert isinstance(protected, Broker)
    assert protected.name is BrokerName.DHAN and protected.inner is inner

    protected.cancel("B7")
    protected.order_status("B7")
    protected.find_order_by_tag("TAG1")
    protected.positions()

    assert [name for name, _ in inner.calls] == [
        "cancel",
        "order_status",
        "find_order_by_tag",
        "positions",
    ]


# --- which brokers ------------------------------------------------------------------------------


def test_zerodha_and_paper_are_not_wrapped() -> None:
    assert needs_protection(BrokerName.ZERODHA) is False  # market_protection=-1 in its adapter
    assert needs_protection(BrokerName.PAPER) is False


@pytest.mark.parametrize("broker", [b for b in BrokerName if b not in (BrokerName.ZERODHA, BrokerName.PAPER)])
def test_every_other_broker_is_wrapped(broker: BrokerName) -> None:
    assert needs_protection(broker) is True
