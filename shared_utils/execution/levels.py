"""Index levels for pricing, read from the timer's quote cache."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shared_utils.clock import Clock
from shared_utils.market_data.cache import QuoteReader
from shared_utils.market_data.models import fresh

# A quote older than this prices nothing: planning records "no fresh quote" and the stop-loss
# check makes no price decision until a fresh one arrives (settings: QUOTE_MAX_AGE_SECONDS).
QUOTE_MAX_AGE = timedelta(seconds=90)


class CachedLevels:
    """Index levels from the timer's quote cache, only while fresh: a level missing from the
    cache, or quoted longer than `max_age` ago, is None, never a simulated or remembered one.

    A level is read at most once per underlying per minute (the quote cache holds one level a
    minute anyway), so pricing many positions costs one read per underlying, not one per contract.
    """

    def __init__(self, cache: QuoteReader, clock: Clock, max_age: timedelta = QUOTE_MAX_AGE) -> None:
        self._cache = cache
        self._clock = clock
        self._max_age = max_age
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
            levels[underlying] = (
                quote.last_price if quote is not None and fresh(quote, now, self._max_age) else None
            )
        return levels[underlying]
