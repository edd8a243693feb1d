from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared_utils.brokers.models import OrderRequest, OrderState, OrderType
from shared_utils.brokers.paper import (
    NO_PRICE,
    SIMULATED_REJECTION,
    UNKNOWN_INSTRUMENT,
    PaperBroker,
    PaperConfig,
)
from shared_utils.brokers.port import Broker, BrokerOrderNotFoundError, BrokerRejectedError
from shared_utils.market.options import Action, OptionType
from tests.unit.brokers.conftest import SleepingClock, make_order, nifty, price_source


@pytest.fixture
def prices() -> dict[str, Decimal]:
    return {nifty().key: Decimal("120.00"), nifty("24000", OptionType.PE).key: Decimal("95.35")}


def paper(clock: SleepingClock, prices: dict[str, Decimal], **config: object) -> PaperBroker:
    return PaperBroker(price_source(prices), clock, PaperConfig.model_validate(config), sleep=clock.sleep)


def test_satisfies_the_port(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    assert isinstance(paper(clock, prices), Broker)


def test_market_order_fills_at_once_with_slippage_rounded_against_the_trader(
    clock: SleepingClock, prices: dict[str, Decimal]
) -> None:
    broker = paper(clock, prices, slippage_bps=Decimal("10"))
    bought = broker.place(make_order(Action.BUY, 75))
    assert bought.status is OrderState.COMPLETE
    assert bought.filled_quantity == 75
    assert bought.average_price == Decimal("120.15")  # 120.12 rounded up to the tick
    sold = broker.place(make_order(Action.SELL, 75, leg=2))
    assert sold.average_price == Decimal("119.85")  # 119.88 rounded down


def test_limit_order_fills_only_when_marketable(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    broker = paper(clock, prices)
    resting = broker.place(make_order(Action.BUY, 75, order_type=OrderType.LIMIT, price="110"))
    assert resting.status is OrderState.OPEN and resting.filled_quantity == 0
    marketable = broker.place(make_order(Action.BUY, 75, leg=2, order_type=OrderType.LIMIT, price="125"))
    assert marketable.status is OrderState.COMPLETE and marketable.average_price == Decimal("120.00")
    prices[nifty().key] = Decimal("109.50")
    later = broker.order_status(resting.broker_order_id)
    assert later.status is OrderState.COMPLETE and later.average_price == Decimal("109.50")


def test_finds_orders_by_tag_and_by_id(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    broker = paper(clock, prices)
    order = make_order()
    placed = broker.place(order)
    assert broker.find_order_by_tag(order.tag) == placed
    assert broker.order_status(placed.broker_order_id) == placed
    assert broker.find_order_by_tag("NOSUCHTAG") is None
    with pytest.raises(BrokerOrderNotFoundError):
        broker.order_status("PAPER-unknown")


def test_positions_are_net_per_instrument_with_realised_pnl(
    clock: SleepingClock, prices: dict[str, Decimal]
) -> None:
    broker = paper(clock, prices)
    broker.place(make_order(Action.SELL, 150))
    broker.place(make_order(Action.BUY, 75, leg=2, instrument=nifty("24000", OptionType.PE)))
    prices[nifty().key] = Decimal("100.00")
    broker.place(make_order(Action.BUY, 75, leg=3))
    by_symbol = {p.tradingsymbol: p for p in broker.positions()}
    call, put = by_symbol["NIFTY26N2424000CE"], by_symbol["NIFTY26N2424000PE"]
    assert (call.quantity, call.average_price, call.realised_pnl) == (
        -75,
        Decimal("120.00"),
        Decimal("1500.00"),
    )
    assert call.last_price == Decimal("100.00")
    assert (put.quantity, put.average_price) == (75, Decimal("95.35"))
    broker.place(make_order(Action.BUY, 75, leg=4))
    closed = {p.tradingsymbol: p for p in broker.positions()}["NIFTY26N2424000CE"]
    assert closed.quantity == 0 and closed.realised_pnl == Decimal("3000.00")


def test_seeded_rejections_are_reproducible(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    def statuses(seed: int) -> list[OrderState]:
        broker = paper(clock, prices, rejection_probability=0.3, seed=seed)
        return [broker.place(make_order(leg=leg)).status for leg in range(40)]

    first = statuses(7)
    assert first == statuses(7)
    assert 0 < first.count(OrderState.REJECTED) < 40
    rejected = paper(clock, prices, rejection_probability=1.0).place(make_order())
    assert rejected.reason == SIMULATED_REJECTION and rejected.filled_quantity == 0


def test_latency_waits_through_the_injected_sleep(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    broker = paper(clock, prices, latency=timedelta(milliseconds=250))
    start = clock.now()
    broker.place(make_order())
    assert clock.slept == [0.25]
    assert clock.now() - start == timedelta(milliseconds=250)


def test_market_order_without_a_price_is_rejected(clock: SleepingClock) -> None:
    result = paper(clock, {}).place(make_order())
    assert result.status is OrderState.REJECTED and result.reason == NO_PRICE


def test_cancel_open_order_and_refuse_to_cancel_a_filled_one(
    clock: SleepingClock, prices: dict[str, Decimal]
) -> None:
    broker = paper(clock, prices)
    resting = broker.place(make_order(order_type=OrderType.LIMIT, price="100"))
    assert broker.cancel(resting.broker_order_id).status is OrderState.CANCELLED
    prices[nifty().key] = Decimal("90")
    assert broker.order_status(resting.broker_order_id).status is OrderState.CANCELLED
    filled = broker.place(make_order(leg=2))
    with pytest.raises(BrokerRejectedError) as error:
        broker.cancel(filled.broker_order_id)
    assert error.value.code == "BROKER_REJECTED" and error.value.order_may_exist is False


def test_square_off_by_the_symbol_positions_report(clock: SleepingClock, prices: dict[str, Decimal]) -> None:
    broker = paper(clock, prices)
    broker.place(make_order(Action.SELL, 75))
    [position] = broker.positions()
    square_off = make_order(Action.BUY, 75, leg=9).model_copy(
        update={"instrument": None, "tradingsymbol": position.tradingsymbol, "segment": position.exchange}
    )
    assert broker.place(square_off).status is OrderState.COMPLETE
    assert [p.quantity for p in broker.positions()] == [0]
    unknown = square_off.model_copy(update={"tradingsymbol": "NIFTY26N2499999CE"})
    rejected = broker.place(unknown)
    assert rejected.status is OrderState.REJECTED and rejected.reason == UNKNOWN_INSTRUMENT


def test_an_order_needs_a_contract() -> None:
    with pytest.raises(ValidationError):
        OrderRequest(order_key="k", tag="T1", side=Action.BUY, quantity=75, tradingsymbol="NIFTY26N2424000CE")
    with pytest.raises(ValidationError):
        OrderRequest(
            order_key="k", tag="T1", side=Action.BUY, quantity=75, instrument=nifty(), price=Decimal(1)
        )
