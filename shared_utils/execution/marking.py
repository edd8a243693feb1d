"""Positions valued at the latest price when they are read.

Marks are not stored: writing every open position back each minute cost one DynamoDB write per
leg and account per minute, for a value the quote cache already holds. Whoever shows or judges a
position (the stop-loss check, the positions route, the local report) marks it here instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from shared_utils.brokers.models import OptionInstrument
from shared_utils.execution.models import PositionView
from shared_utils.execution.valuation import revalue


class PriceSource(Protocol):
    def price(self, instrument: OptionInstrument) -> Decimal | None: ...


def mark_positions(
    positions: Iterable[PositionView], prices: PriceSource, unpriced: set[str] | None = None
) -> list[PositionView]:
    """Each open position revalued at its contract's latest price (one lookup per contract);
    closed positions and contracts without a price keep their stored valuation, and the
    `position_sk` of each open one left unpriced is added to `unpriced`."""
    latest: dict[OptionInstrument, Decimal | None] = {}
    marked = []
    for position in positions:
        if position.net_quantity != 0:
            if position.instrument not in latest:
                latest[position.instrument] = prices.price(position.instrument)
            price = latest[position.instrument]
            if price is not None:
                position = revalue(position, price)
            elif unpriced is not None:
                unpriced.add(position.position_sk)
        marked.append(position)
    return marked
