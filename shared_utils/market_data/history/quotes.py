"""Historical quotes for backtests, read from the store minute by minute (numpy only).

`HistoricalQuotes` answers as the live quote cache does (`ChainReader`) and as an index level
(`UnderlyingLevel`), so `QuotedOptionMarket` runs over it unchanged. The bar of a minute is the
one *starting* in it: at 09:30:20 the answers are the 09:30 bar's close, stamped 09:30:00.

One day per underlying is held in memory; a per-minute answer is index arithmetic on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.history.store import MANIFEST, DayBars, Manifest, read_day, read_manifest
from shared_utils.market_data.models import Quote


def _decimal(value: float) -> Decimal:
    """The price as the file wrote it (float repr round-trips the parsed decimal text), whole
    numbers without a trailing `.0`."""
    return Decimal(int(value)) if value.is_integer() else Decimal(repr(value))


@dataclass(frozen=True)
class _LoadedDay:
    bars: DayBars
    day: date
    start: float  # the first session minute, seconds since the epoch
    keys: list[str]  # OptionInstrument.key per contract column
    expiries: dict[date, tuple[int, int]]  # an expiry's contract columns [lo, hi)

    @classmethod
    def of(cls, bars: DayBars) -> _LoadedDay:
        expiry_days = bars.expiry.astype("datetime64[D]")
        keys = [
            OptionInstrument(
                underlying=bars.underlying,
                expiry=expiry,
                strike=_decimal(strike),
                option_type=OptionType(option_type),
            ).key
            for expiry, strike, option_type in zip(
                expiry_days.tolist(), bars.strike.tolist(), bars.option_type.tolist(), strict=True
            )
        ]
        unique, first = np.unique(expiry_days, return_index=True)
        bounds = [*first.tolist(), len(keys)]
        expiries = {expiry: (bounds[i], bounds[i + 1]) for i, expiry in enumerate(unique.tolist())}
        return cls(bars=bars, day=bars.day, start=bars.open.timestamp(), keys=keys, expiries=expiries)

    def minute(self, at: datetime) -> int | None:
        row = math.floor((at.timestamp() - self.start) / 60)
        return row if 0 <= row < self.bars.minutes else None


class HistoricalQuotes:
    """Index levels and option-chain quotes of a historical store (`importer.import_history`)."""

    def __init__(self, store_dir: str | Path) -> None:
        self._dir = Path(store_dir)
        if not (self._dir / MANIFEST).is_file():
            raise ConfigurationError(f"no historical store at {self._dir} ({MANIFEST} missing): import first")
        self._manifest: Manifest = read_manifest(self._dir)
        self._loaded: dict[Underlying, _LoadedDay] = {}

    def days(self, underlying: str) -> list[date]:
        """The stored trading days of `underlying`, in order."""
        known = _known(underlying)
        return [] if known is None else sorted(self._manifest.days.get(known, {}))

    def expiries(self, underlying: str, day: date) -> list[date]:
        """The expiries with contracts stored on `day`, in order."""
        loaded = self._day(_known(underlying), day)
        return [] if loaded is None else list(loaded.expiries)

    def level(self, underlying: str, at: datetime) -> Decimal | None:
        """The close of the index bar of the minute containing `at`; None without one."""
        found = self._at(underlying, at)
        if found is None:
            return None
        loaded, row = found
        close = float(loaded.bars.index_close[row])
        return None if math.isnan(close) else _decimal(close)

    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]:
        """The contracts of `expiry` with a bar in the minute containing `now` (a close of zero
        is left out: a quote's price is positive), stamped with the bar's minute."""
        found = self._at(underlying, now)
        if found is None:
            return []
        loaded, row = found
        span = loaded.expiries.get(expiry)
        if span is None:
            return []
        lo, hi = span
        closes = loaded.bars.close[row, lo:hi]
        present = np.flatnonzero(closes > 0)
        as_of = loaded.bars.minute_start(row)
        volumes = loaded.bars.volume[row, lo:hi][present].tolist()
        interest = loaded.bars.oi[row, lo:hi][present].tolist()
        return [
            Quote(
                instrument=loaded.keys[lo + column],
                last_price=_decimal(close),
                as_of=as_of,
                volume=volume if volume >= 0 else None,
                open_interest=oi if oi >= 0 else None,
            )
            for column, close, volume, oi in zip(
                present.tolist(), closes[present].tolist(), volumes, interest, strict=True
            )
        ]

    def _at(self, underlying: str, at: datetime) -> tuple[_LoadedDay, int] | None:
        if at.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        known = _known(underlying)
        if known is None:
            return None
        loaded = self._day(known, at.astimezone(IST).date())
        if loaded is None:
            return None
        row = loaded.minute(at)
        return None if row is None else (loaded, row)

    def _day(self, underlying: Underlying | None, day: date) -> _LoadedDay | None:
        if underlying is None:
            return None
        loaded = self._loaded.get(underlying)
        if loaded is not None and loaded.day == day:
            return loaded
        stored = self._manifest.days.get(underlying, {}).get(day)
        if stored is None:
            return None
        loaded = _LoadedDay.of(read_day(self._dir, underlying, stored))
        self._loaded[underlying] = loaded
        return loaded


def _known(underlying: str) -> Underlying | None:
    try:
        return Underlying(str(underlying).upper())
    except ValueError:
        return None
