"""Position valuation (pure): average price of the open side, realised and unrealised P&L by the
average-cost method, and a position marked at a price."""

from __future__ import annotations

from decimal import Decimal

from shared_utils.execution.models import PositionView


def valuation(
    net: int, buy_q: int, buy_v: Decimal, sell_q: int, sell_v: Decimal, last: Decimal | None
) -> tuple[Decimal | None, Decimal, Decimal | None]:
    """Average price of the open side, realised and unrealised P&L (average-cost method)."""
    if net > 0:
        average = buy_v / buy_q
        return average, sell_v - sell_q * average, net * (last - average) if last is not None else None
    if net < 0:
        average = sell_v / sell_q
        return average, buy_q * average - buy_v, -net * (average - last) if last is not None else None
    return None, sell_v - buy_v, Decimal("0")


def revalue(position: PositionView, last_price: Decimal) -> PositionView:
    """The position marked at `last_price`."""
    _average, realised, unrealised = valuation(
        position.net_quantity,
        position.buy_quantity,
        position.buy_value,
        position.sell_quantity,
        position.sell_value,
        last_price,
    )
    cents = Decimal("0.01")
    return position.model_copy(
        update={
            "last_price": last_price,
            "realised_pnl": realised.quantize(cents),
            "unrealised_pnl": unrealised.quantize(cents) if unrealised is not None else None,
        }
    )
