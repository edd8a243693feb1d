"""The paper broker: the default everywhere. Fills against an injected price source.

- MARKET orders fill at once at the source's price moved against the trader by `slippage_bps`,
  rounded to the tick away from the trader.
- LIMIT orders fill when marketable (at the better of the slipped price and the limit), else rest
  OPEN and are re-checked against the price source whenever their status is asked for.
- A seeded RNG rejects `rejection_probability` of orders (status REJECTED, like a broker's RMS).
- `latency` is waited through the injected `sleep` before each order is handled (0 by default).
Orders are kept by id and by tag, so `find_order_by_tag` reconciles exactly like a real broker.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.brokers.models import (
    BrokerName,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    OrderState,
    OrderType,
    Position,
)
from shared_utils.brokers.port import BrokerOrderNotFoundError, BrokerRejectedError
from shared_utils.brokers.symbols import zerodha as display_symbols
from shared_utils.clock import Clock
from shared_utils.market.options import Action
from shared_utils.models.common import Product

# Last traded price of an instrument, or None when the market has none.
PriceSource = Callable[[OptionInstrument], Decimal | None]

TICK = Decimal("0.05")
NO_PRICE = "NO_MARKET_PRICE"
SIMULATED_REJECTION = "SIMULATED_REJECTION"
UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"


class PaperConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    slippage_bps: Decimal = Field(default=Decimal("0"), ge=0, le=1000)
    latency: timedelta = timedelta(0)
    rejection_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    seed: int = 0


def _no_sleep(_seconds: float) -> None:
    return None


def _round_to_tick(price: Decimal, *, up: bool) -> Decimal:
    ticks = (price / TICK).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return max(TICK, ticks * TICK).quantize(Decimal("0.01"))


@dataclass
class _PaperOrder:
    request: OrderRequest
    result: OrderResult


@dataclass
class _Book:
    instrument: OptionInstrument
    product: Product
    quantity: int = 0
    average_price: Decimal = Decimal("0")
    realised: Decimal = Decimal("0")


class PaperBroker:
    def __init__(
        self,
        prices: PriceSource,
        clock: Clock,
        config: PaperConfig | None = None,
        sleep: Callable[[float], None] = _no_sleep,
        account_id: str = "paper",
    ) -> None:
        self._prices = prices
        self._clock = clock
        self._config = config or PaperConfig()
        self._sleep = sleep
        self._rng = random.Random(self._config.seed)
        self._ids = itertools.count(1)
        self._account_id = account_id
        self._lock = threading.Lock()
        self._orders: dict[str, _PaperOrder] = {}
        self._by_tag: dict[str, str] = {}
        self._books: dict[tuple[str, Product], _Book] = {}

    @property
    def name(self) -> BrokerName:
        return BrokerName.PAPER

    # --- orders -------------------------------------------------------------------------------

    def place(self, order: OrderRequest) -> OrderResult:
        if self._config.latency > timedelta(0):
            self._sleep(self._config.latency.total_seconds())
        with self._lock:
            order_id = f"PAPER{self._account_id}-{next(self._ids):08d}"
            now = self._clock.now()
            result = OrderResult(
                broker=BrokerName.PAPER,
                broker_order_id=order_id,
                tag=order.tag,
                status=OrderState.OPEN,
                quantity=order.quantity,
                updated_at=now,
            )
            instrument = order.instrument or self._known_instrument(order)
            if instrument is None:
                result = result.model_copy(
                    update={"status": OrderState.REJECTED, "reason": UNKNOWN_INSTRUMENT}
                )
            elif (
                self._config.rejection_probability and self._rng.random() < self._config.rejection_probability
            ):
                result = result.model_copy(
                    update={"status": OrderState.REJECTED, "reason": SIMULATED_REJECTION}
                )
            else:
                order = order.model_copy(update={"instrument": instrument})
                result = self._try_fill(order, result)
            self._orders[order_id] = _PaperOrder(order, result)
            self._by_tag[order.tag] = order_id
            return result

    def _known_instrument(self, order: OrderRequest) -> OptionInstrument | None:
        """A paper position's instrument, by the symbol `positions()` showed for it."""
        for book in self._books.values():
            if display_symbols.tradingsymbol(book.instrument) == order.tradingsymbol:
                return book.instrument
        return None

    def _try_fill(self, order: OrderRequest, result: OrderResult) -> OrderResult:
        assert order.instrument is not None  # resolved in `place`
        market = self._prices(order.instrument)
        if market is None:
            if order.order_type is OrderType.MARKET:
                return result.model_copy(update={"status": OrderState.REJECTED, "reason": NO_PRICE})
            return result
        buying = order.side is Action.BUY
        factor = Decimal(1) + (self._config.slippage_bps / Decimal(10_000)) * (1 if buying else -1)
        slipped = _round_to_tick(market * factor, up=buying)
        if order.order_type is OrderType.LIMIT:
            assert order.price is not None
            if (buying and market > order.price) or (not buying and market < order.price):
                return result
            slipped = min(slipped, order.price) if buying else max(slipped, order.price)
        self._book_fill(order, slipped)
        return result.model_copy(
            update={
                "status": OrderState.COMPLETE,
                "filled_quantity": order.quantity,
                "average_price": slipped,
                "updated_at": self._clock.now(),
            }
        )

    def _book_fill(self, order: OrderRequest, price: Decimal) -> None:
        assert order.instrument is not None  # resolved in `place`
        key = (order.instrument.key, order.product)
        book = self._books.setdefault(key, _Book(order.instrument, order.product))
        signed = order.quantity if order.side is Action.BUY else -order.quantity
        if book.quantity == 0 or (book.quantity > 0) == (signed > 0):
            total = book.quantity + signed
            book.average_price = (book.average_price * abs(book.quantity) + price * abs(signed)) / abs(total)
            book.quantity = total
            return
        closing = min(abs(signed), abs(book.quantity))
        direction = 1 if book.quantity > 0 else -1
        book.realised += (price - book.average_price) * closing * direction
        remainder = signed + (closing if signed < 0 else -closing)
        book.quantity += signed
        if book.quantity == 0:
            book.average_price = Decimal("0")
        elif remainder:
            book.average_price = price  # flipped sides: the rest opened at this price

    def cancel(self, broker_order_id: str) -> OrderResult:
        with self._lock:
            paper = self._lookup(broker_order_id)
            if paper.result.status.is_final:
                raise BrokerRejectedError(
                    message=f"order {broker_order_id} is already {paper.result.status.value}",
                    broker=BrokerName.PAPER.value,
                    reason=f"ORDER_{paper.result.status.value}",
                )
            paper.result = paper.result.model_copy(
                update={"status": OrderState.CANCELLED, "updated_at": self._clock.now()}
            )
            return paper.result

    def order_status(self, broker_order_id: str) -> OrderResult:
        with self._lock:
            return self._refresh(self._lookup(broker_order_id))

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        with self._lock:
            order_id = self._by_tag.get(tag)
            return self._refresh(self._orders[order_id]) if order_id else None

    def _lookup(self, broker_order_id: str) -> _PaperOrder:
        paper = self._orders.get(broker_order_id)
        if paper is None:
            raise BrokerOrderNotFoundError(
                message=f"no order {broker_order_id}", broker=BrokerName.PAPER.value
            )
        return paper

    def _refresh(self, paper: _PaperOrder) -> OrderResult:
        if paper.result.status is OrderState.OPEN:
            paper.result = self._try_fill(paper.request, paper.result)
        return paper.result

    def order_tags(self) -> list[str]:
        """Every order's tag, in the order they were placed (the broker's order book: a tag seen
        twice is an order sent twice)."""
        with self._lock:
            return [paper.request.tag for paper in self._orders.values()]

    # --- portfolio and market -------------------------------------------------------------------

    def positions(self) -> list[Position]:
        with self._lock:  # closed positions stay listed with 0, like a broker's day positions
            books = [
                (book.instrument, book.product, book.quantity, book.average_price, book.realised)
                for book in self._books.values()
            ]
        positions = []
        for instrument, product, quantity, average, realised in books:
            positions.append(
                Position(
                    broker=BrokerName.PAPER,
                    tradingsymbol=display_symbols.tradingsymbol(instrument),
                    exchange=instrument.exchange,
                    product=product,
                    quantity=quantity,
                    average_price=average.quantize(Decimal("0.01")) if quantity else None,
                    realised_pnl=realised.quantize(Decimal("0.01")),
                    last_price=self._prices(instrument),
                    instrument=instrument,
                )
            )
        return positions
