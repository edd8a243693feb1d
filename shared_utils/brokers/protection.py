"""No naked MARKET order reaches a broker.

Zerodha's adapter sends MARKET orders with `market_protection=-1` (Kite's automatic protection,
which Kite requires of API market orders). Every other broker gets `ProtectedMarketOrders` around
its adapter: a MARKET order leaves it as a LIMIT order priced from a fresh quote of the contract,

- BUY at `last x (1 + band)` rounded UP to the tick,
- SELL at `last x (1 - band)` rounded DOWN to the tick, and never below one tick,

each capped by the exchange's Limit Price Protection range (below). LIMIT orders pass unchanged.

Without a fresh quote the order is not sent: `BrokerNoProtectionPriceError` (`NO_PROTECTION_PRICE`,
`order_may_exist=False`), which the engine records as NOT_SENT, safe to place again with the same
tag. That includes a quote read that fails (`MarketDataUnavailableError` from the price source)
and an order naming only the broker's `tradingsymbol` (the square-off of a position read from
the broker, without an `instrument`): there is no contract to look a quote up by, so it is
refused, never sent at market. An order carrying both is priced by its `instrument`.

Band: 2% by default (`DEFAULT_BAND`), configurable per wrapper. The LIMIT is meant to be
marketable: to cross the spread at once and fill like a market order, while refusing a fill far
from the quote. Index options near the money (what the strategies trade) are assumed to quote a
few ticks wide on premiums of tens to hundreds of rupees, under 1% (an assumption, not a published
figure), so 2% crosses the spread with some room for the quote's age; in a fast move a quote up
to `max_age` old can be further off than that, and the order then rests unfilled instead of
filling far away. It sits at the tight end of what brokers apply to their own protected
market orders on index options: Angel One 2.5% above Rs 50 (5/10/20% on cheaper premiums),
https://angelone.in/news/market-price-protection-mpp-on-angel-one-safeguarding-your-orders ;
Dhan's published slabs 2% (Rs 1000-5000) to 20% (under Rs 50),
https://madefortrade.in/t/26463 (election-week RMS, 2024) ;
HDFC Securities 10% or Rs 20, https://www.hdfcsec.com/Products/FAQ/26440 . Tight favours price
over certainty of fill on purpose: an unfilled protected order rests OPEN as a LIMIT, which the
engine already handles (placed, not filled yet), while a fill far from the quote cannot be
undone. Rounding away from the trader gives at least one tick of room even on a cheap option
(last 1.00: buy 1.05, sell 0.95). Cheap far-OTM options or a fast market may want more: pass a
wider `band`.

Exchange price band (the cap): NSE's Limit Price Protection rejects an index option limit order
priced beyond the reference price +/- Rs 20 (reference up to Rs 50) or +/- 40% (above Rs 50)
(circular NSE/FAOP/54242, 2022-10-28; https://nseindia.com/trade/limit-price-protection-faqs);
BSE's beyond +/- 60% of the reference price, at least Rs 30 (notice 20240405-40,
https://www.bseindia.com/markets/MarketInfo/DispNoticesNCirculars.aspx?noticeno=20240405-40).
The exchange measures from its own reference price (the average trade price of the last 30
seconds), which the platform does not see: the cap is taken around the last price, so a wide
configured band never asks for a price the exchange would refuse on sight. It cannot bind at the
default 2%. Should the reference have moved, the exchange may still refuse the order: a
definitive rejection, nothing filled.

Tick: Rs 0.05 for index options ("Price Steps Rs.0.05", NSE contract specifications,
https://www.nseindia.com/products-services/equity-derivatives-contract-specifications); the
brokers' instrument masters list 0.05 for the BSE index options as well.

Quote age: `max_age` (90 s by default, as QUOTE_MAX_AGE_SECONDS) is handed to the price source;
the quote cache is refreshed once a minute, and an older quote is no basis for a price.

`needs_protection(broker)` says which brokers get the wrapper; the registry wires it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from shared_utils.brokers.models import (
    BrokerName,
    DerivativesExchange,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    OrderType,
    Position,
)
from shared_utils.brokers.port import Broker, BrokerNoProtectionPriceError
from shared_utils.clock import Clock
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import Action

DEFAULT_BAND = Decimal("0.02")
DEFAULT_MAX_AGE = timedelta(seconds=90)  # settings: QUOTE_MAX_AGE_SECONDS (default 90)
INDEX_OPTION_TICK = Decimal("0.05")
_PAISE = Decimal("0.01")

# Limit Price Protection of index options: (minimum half-width in rupees, fraction of the
# reference price). NSE: Rs 20 up to a Rs 50 reference, 40% above (0.4 x 50 = 20, so the larger
# of the two); BSE: 60%, at least Rs 30.
EXCHANGE_PRICE_BAND: dict[DerivativesExchange, tuple[Decimal, Decimal]] = {
    DerivativesExchange.NFO: (Decimal("20"), Decimal("0.40")),
    DerivativesExchange.BFO: (Decimal("30"), Decimal("0.60")),
}

# Brokers whose adapter protects MARKET orders itself, or that never reach an exchange.
_NATIVELY_PROTECTED = frozenset({BrokerName.ZERODHA, BrokerName.PAPER})


def needs_protection(broker: BrokerName) -> bool:
    """Whether `broker`'s adapter must be wrapped in `ProtectedMarketOrders`.

    - ZERODHA: False. The adapter sends MARKET with `market_protection=-1`, Kite's automatic
      protection (the order becomes a limit within a system-chosen range); Kite rejects API market
      orders without it (https://kite.trade/forum/discussion/comment/52970/,
      https://kite.trade/forum/discussion/comment/52940/).
    - PAPER: False. Fills are simulated against the platform's own prices; nothing reaches an
      exchange.
    - UPSTOX: True. Upstox documents `market_protection` on place order v3 (Beta from 2026-03-11:
      0 = none, the default; 1-25 a percentage; -1 automatic;
      https://upstox.com/developer/api-documentation/announcements/market-protection), but the
      adapter does not send it (its MARKET orders go unprotected), so they are priced here.
    - DHAN: True. Dhan announced that from 2026-03-21 an API market order is converted on its side
      into a limit order within a predefined MPP range
      (DhanHQ announcement, https://madefortrade.in/t/61689);
      the order API has no field to choose it (https://dhanhq.co/docs/v2/orders/) and the range
      is Dhan's to change, so the platform sends its own LIMIT.
    - ANGEL_ONE: True. Angel One publishes Market Price Protection for market orders (index
      options 2.5% above Rs 50 up to 20% under Rs 10,
      https://angelone.in/news/market-price-protection-mpp-on-angel-one-safeguarding-your-orders),
      but that page does not say it covers SmartAPI orders, and SmartAPI's order parameters (the
      `smartapi-python` SDK's included) carry no protection field: not relied on.
    - FINVASIA (Shoonya): True. Shoonya's API documentation lists no market protection field for
      place order (https://github.com/Shoonya-Dev/ShoonyaApi-py, README "place_order"; the Noren
      OMS underneath reports a `mkt_protection` in order books of other Noren brokers), and
      neither the SDK (`NorenApi.place_order`) nor the adapter sends one.
    - FYERS and any broker added later: True (no adapter reviewed; protected unless shown not
      to need it).
    """
    return broker not in _NATIVELY_PROTECTED


class ProtectionPrices(Protocol):
    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        """The contract's last traded price, or None when there is none quoted no longer than
        `max_age` before `now`. Raises `MarketDataUnavailableError` when the prices cannot be read."""
        ...


def _to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    ticks = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return ticks * tick


def exchange_band_width(exchange: DerivativesExchange, last: Decimal) -> Decimal:
    """Half-width of the exchange's Limit Price Protection range around `last` (see the module)."""
    minimum, fraction = EXCHANGE_PRICE_BAND[exchange]
    return max(minimum, last * fraction)


def protection_price(
    side: Action,
    last: Decimal,
    band: Decimal,
    exchange: DerivativesExchange,
    tick: Decimal = INDEX_OPTION_TICK,
) -> Decimal:
    """The LIMIT price standing in for a MARKET order: `band` away from `last` against the trader,
    on the tick (up for a buy, down for a sell, at least one tick), inside the exchange's band."""
    width = exchange_band_width(exchange, last)
    if side is Action.BUY:
        wanted = _to_tick(last * (1 + band), tick, up=True)
        price = min(wanted, _to_tick(last + width, tick, up=False))
    else:
        wanted = _to_tick(last * (1 - band), tick, up=False)
        price = max(wanted, _to_tick(last - width, tick, up=True), tick)
    return price.quantize(_PAISE)


class ProtectedMarketOrders:
    def __init__(
        self,
        inner: Broker,
        prices: ProtectionPrices,
        clock: Clock,
        band: Decimal = DEFAULT_BAND,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        if not Decimal("0") < band < Decimal("1"):
            raise ValueError(f"the protection band is a fraction between 0 and 1, not {band}")
        if max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        self._inner = inner
        self._prices = prices
        self._clock = clock
        self._band = band
        self._max_age = max_age

    @property
    def name(self) -> BrokerName:
        return self._inner.name

    @property
    def inner(self) -> Broker:
        return self._inner

    @property
    def band(self) -> Decimal:
        return self._band

    def place(self, order: OrderRequest) -> OrderResult:
        return self._inner.place(self.protected(order))

    def protected(self, order: OrderRequest) -> OrderRequest:
        """`order` as it may be sent: a MARKET order as a protected LIMIT, anything else as is.
        Raises `BrokerNoProtectionPriceError` when a MARKET order cannot be priced."""
        if order.order_type is not OrderType.MARKET:
            return order
        if order.instrument is None:
            raise self._refusal(f"{order.tradingsymbol} names no contract to quote: not sent at market")
        now = self._clock.now()
        try:
            last = self._prices.last_price(order.instrument, now, self._max_age)
        except MarketDataUnavailableError as error:
            raise self._refusal(f"{order.instrument.key}: quotes unreadable ({error.message})") from error
        if last is None or last <= 0:
            age = int(self._max_age.total_seconds())
            raise self._refusal(f"{order.instrument.key}: no quote in the last {age} s")
        price = protection_price(order.side, last, self._band, order.exchange)
        return order.model_copy(update={"order_type": OrderType.LIMIT, "price": price})

    def _refusal(self, detail: str) -> BrokerNoProtectionPriceError:
        return BrokerNoProtectionPriceError(
            message=f"no protection price for a MARKET order at {self.name.value}: {detail}",
            broker=self.name.value,
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        return self._inner.cancel(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        return self._inner.order_status(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self._inner.find_order_by_tag(tag)

    def positions(self) -> list[Position]:
        return self._inner.positions()
