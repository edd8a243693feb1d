from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderRequest, OrderType
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.clock import FixedClock
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying

START = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 09:30 IST


class SleepingClock(FixedClock):
    """A fixed clock whose `sleep` moves time forward: waits cost nothing and are recorded."""

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(timedelta(seconds=seconds))


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock()


def nifty(strike: str = "24000", option_type: OptionType = OptionType.CE) -> OptionInstrument:
    return OptionInstrument(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 11, 24),
        strike=Decimal(strike),
        option_type=option_type,
    )


def make_order(
    side: Action = Action.BUY,
    quantity: int = 75,
    *,
    leg: int = 1,
    instrument: OptionInstrument | None = None,
    order_type: OrderType = OrderType.MARKET,
    price: str | None = None,
    broker: BrokerName = BrokerName.PAPER,
) -> OrderRequest:
    key = order_key(date(2026, 11, 24), "strat-1", "ENTRY", "acct-1", leg, 0)
    return OrderRequest(
        order_key=key,
        tag=broker_tag(f"{key}#{side.value}#{quantity}", broker),
        instrument=instrument or nifty(),
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=Decimal(price) if price else None,
    )


PriceTable = dict[str, Decimal]


def price_source(table: PriceTable) -> Callable[[OptionInstrument], Decimal | None]:
    return lambda instrument: table.get(instrument.key)
