"""Index levels for pricing, read from the timer's quote cache."""

from __future__ import annotations

from decimal import Decimal

from shared_utils.clock import Clock
from shared_utils.timer.market_data import QuoteReader, SimulatedMarketData


class CachedLevels:
    """Index levels from the timer's quote cache; the simulated market where nothing is cached
    (the source the market-data refresher uses in this build).

    A level is read at most once per underlying per minute (the quote cache holds one level a
    minute anyway), so pricing many positions costs one read per underlying, not one per contract.
    """

    def __init__(self, cache: QuoteReader, clock: Clock, fallback: SimulatedMarketData | None = None) -> None:
        self._cache = cache
        self._clock = clock
        self._fallback = fallback or SimulatedMarketData()
        self._memo: tuple[int, dict[str, Decimal | None]] = (-1, {})

    def __call__(self, underlying: str) -> Decimal | None:
        now = self._clock.now()
        minute = int(now.timestamp() // 60)
        memo = self._memo
        if memo[0] != minute:
            memo = (minute, {})
            self._memo = memo  # a new minute drops the last one's levels: the memo stays small
        levels = memo[1]
        if underlying not in levels:
            quote = self._cache.get(underlying, now)
            if quote is not None:
                levels[underlying] = quote.last_price
            else:
                simulated = self._fallback.quotes([underlying], now)
                levels[underlying] = simulated[0].last_price if simulated else None
        return levels[underlying]
