"""The checks of the layout's rules, vectorised over a file's rows: each finds its rows with a
mask and describes only the first few it reports (a million bad rows never become a million
objects)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable
from shared_utils.market.underlyings import EXCHANGE_OF, Underlying
from shared_utils.market_data.history import layout
from shared_utils.market_data.history.columns import (
    IST_OFFSET_NS,
    NS_PER_DAY,
    NS_PER_MINUTE,
    Floats,
    Ints,
    Mask,
    blank_rows,
    codes_of,
    date_of,
    dates,
    groups,
    numbers,
    timestamps,
)
from shared_utils.market_data.history.layout import RowType
from shared_utils.market_data.history.report import ImportProblem, hhmm

# Symbols and row types travel as small codes into these tuples, not as millions of strings.
SYMBOLS: tuple[str, ...] = tuple(u.value for u in Underlying)
KINDS: tuple[str, ...] = (RowType.INDEX.value, RowType.CE.value, RowType.PE.value)
INDEX = 0
_EXCHANGES: tuple[str, ...] = tuple(sorted({e.value for e in EXCHANGE_OF.values()}))
_EXCHANGE_CODES = np.array([_EXCHANGES.index(EXCHANGE_OF[u].value) for u in Underlying], dtype=np.int64)


@dataclass
class Problems:
    """Counts every problem, keeps the first `limit` of each check (enough for the first `limit`
    overall): a million bad rows never become a million objects."""

    limit: int
    total: int = 0
    found: list[ImportProblem] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)

    def file(self, file: str, reason: str, row: int | None = None) -> None:
        self.total += 1
        self.found.append(ImportProblem(file=file, row=row, reason=reason))

    def rows(self, file: str, rows: Ints, mask: Mask, describe: Callable[[int], str]) -> None:
        hits = np.flatnonzero(mask)
        self.total += int(hits.size)
        self.found.extend(
            ImportProblem(file=file, row=int(rows[i]), reason=describe(int(i))) for i in hits[: self.limit]
        )

    def first(self) -> list[ImportProblem]:
        ranked = sorted(self.found, key=lambda p: (self.order.get(p.file, 0), p.row or 0))
        return ranked[: self.limit]


def _plain(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


class FileCheck:
    """Every row-level check of one file, vectorised: returns the typed rows."""

    def __init__(
        self,
        name: str,
        number: int,
        raw: pd.DataFrame,
        problems: Problems,
        calendar: TradingCalendar,
        specs: SpecTable,
    ) -> None:
        self._name = name
        self._number = number
        self._raw = raw
        self._problems = problems
        self._calendar = calendar
        self._specs = specs
        self._rows = np.arange(1, len(raw) + 1, dtype=np.int64)
        self._blank = blank_rows(raw)
        self._ok = ~self._blank

    def _flag(self, mask: Mask, describe: Callable[[int], str]) -> None:
        """Refuse the rows of `mask` (an empty row is one problem, flagged once in `run`)."""
        mask = mask & ~self._blank
        self._problems.rows(self._name, self._rows, mask, describe)
        self._ok &= ~mask

    def _cell(self, column: str, i: int) -> str:
        return str(self._raw[column].iloc[i]).strip()

    def _required(self, column: str, empty: Mask, bad: Mask, expected: str, rows: Mask | None = None) -> None:
        needed = np.ones_like(empty) if rows is None else rows
        self._flag(empty & needed, lambda i: f"{column} is missing")
        self._flag(bad, lambda i: f"{column} {self._cell(column, i)!r} is not {expected}")

    def _amounts(self, column: str, needed: Mask | None = None, whole: bool = False) -> Floats:
        """A price or count column: present where `needed` (every row by default), a number, not
        below zero, and a whole number when `whole`."""
        values, empty, bad = numbers(self._raw[column])
        self._required(column, empty, bad, "a number", rows=needed)
        if whole:
            self._flag(
                ~np.isnan(values) & (values != np.floor(values)),
                lambda i: f"{column} {self._cell(column, i)} is not a whole number",
            )
        self._flag(values < 0, lambda i: f"{column} {_plain(values[i])} is below zero")
        return values

    def _not_for_index(self, column: str, filled: Mask) -> None:
        self._flag(filled, lambda i: f"an INDEX row has no {column} (found {self._cell(column, i)!r})")

    def run(self) -> pd.DataFrame:
        raw = self._raw
        self._problems.rows(self._name, self._rows, self._blank, lambda i: "the row is empty")
        nanos, empty, bad = timestamps(raw[layout.TIMESTAMP])
        self._required(layout.TIMESTAMP, empty, bad, "an ISO 8601 date-time")
        stamped = ~empty & ~bad
        self._flag(
            stamped & (nanos % NS_PER_MINUTE != 0),
            lambda i: f"timestamp {self._cell(layout.TIMESTAMP, i)} is not the start of a minute",
        )

        symbol, empty_symbol = codes_of(raw[layout.SYMBOL], SYMBOLS)
        known_symbol = symbol >= 0
        self._flag(empty_symbol, lambda i: "symbol is missing")
        self._flag(
            ~known_symbol & ~empty_symbol,
            lambda i: f"unknown symbol {self._cell(layout.SYMBOL, i)!r}: expected {', '.join(SYMBOLS)}",
        )
        kind, empty_kind = codes_of(raw[layout.TYPE], KINDS)
        self._flag(empty_kind, lambda i: "type is missing")
        self._flag(
            (kind < 0) & ~empty_kind,
            lambda i: f"unknown type {self._cell(layout.TYPE, i)!r}: expected CE, PE or INDEX",
        )
        option = kind > INDEX
        index = kind == INDEX

        prices = {column: self._amounts(column) for column in layout.PRICES}
        high, low = prices[layout.HIGH], prices[layout.LOW]
        self._flag(high < low, lambda i: f"high {_plain(high[i])} is below low {_plain(low[i])}")

        counts = {column: self._amounts(column, needed=option, whole=True) for column in layout.COUNTS}

        expiry, empty_expiry, bad_expiry = dates(raw[layout.EXPIRY])
        self._required(layout.EXPIRY, empty_expiry, bad_expiry, "a date (YYYY-MM-DD)", rows=option)
        strike, empty_strike, bad_strike = numbers(raw[layout.STRIKE])
        self._required(layout.STRIKE, empty_strike, bad_strike, "a number", rows=option)
        self._not_for_index(layout.EXPIRY, index & ~empty_expiry)
        self._not_for_index(layout.STRIKE, index & ~empty_strike)
        self._flag(option & (strike <= 0), lambda i: f"strike {_plain(strike[i])} is not above zero")

        local_day = np.where(stamped, (nanos + IST_OFFSET_NS) // NS_PER_DAY, 0)
        expiry_day = expiry.astype("int64")
        dated = option & ~empty_expiry & ~bad_expiry & stamped
        self._flag(
            dated & (expiry_day < local_day),
            lambda i: (
                f"expiry {date_of(int(expiry_day[i]))} is before the bar's date {date_of(int(local_day[i]))}"
            ),
        )
        on_grid = option & known_symbol & ~empty_expiry & ~bad_expiry & (strike > 0)
        self._check_grid(symbol, expiry, strike, on_grid)
        self._check_sessions(symbol, nanos, local_day, stamped & known_symbol)

        return pd.DataFrame(
            {
                "file": np.full(len(raw), self._number, dtype=np.int64),
                "row": self._rows,
                "symbol": symbol.astype(np.int8),
                "kind": kind.astype(np.int8),
                "nanos": nanos,
                "day": local_day,
                "expiry": np.where(option, expiry_day, 0),
                "strike": np.where(option, strike, 0.0),
                "close": prices[layout.CLOSE],
                "volume": counts[layout.VOLUME],
                "oi": counts[layout.OI],
                "ok": self._ok,
            }
        )

    def _check_grid(
        self, symbol: Ints, expiry: npt.NDArray[np.datetime64], strike: Floats, rows: Mask
    ) -> None:
        """Strikes on the step of the contract spec in force for each (underlying, expiry)."""
        picked = np.flatnonzero(rows)
        if picked.size == 0:
            return
        days = expiry.astype("int64")
        codes, pairs, _, _ = groups(symbol[picked] * (1 << 32) + days[picked])
        steps = np.full(len(pairs), np.nan)
        unknown: dict[int, str] = {}
        for j, pair in enumerate(pairs.tolist()):
            underlying, day = SYMBOLS[pair >> 32], date_of(pair & 0xFFFFFFFF)
            try:
                steps[j] = self._specs.spec_for(underlying, day).strike_step
            except ConfigurationError as error:
                unknown[j] = error.message
        step = np.full(len(strike), np.nan)
        step[picked] = steps[codes]
        code_of = np.full(len(strike), -1)
        code_of[picked] = codes
        self._flag(rows & np.isnan(step), lambda i: unknown[int(code_of[i])])
        ratio = strike / step
        off = rows & ~np.isnan(step) & ~np.isclose(ratio, np.round(ratio), rtol=0, atol=1e-6)
        self._flag(
            off,
            lambda i: (
                f"strike {_plain(strike[i])} is not on the {_plain(step[i])}-point grid "
                f"of {SYMBOLS[symbol[i]]} contracts expiring {date_of(int(days[i]))}"
            ),
        )

    def _check_sessions(self, symbol: Ints, nanos: Ints, local_day: Ints, rows: Mask) -> None:
        """Bars only on days with a session of the index's exchange, inside its minutes. A day
        without one is one problem (its first row), not one per bar."""
        opens = np.zeros(len(nanos), dtype=np.int64)
        closes = np.zeros(len(nanos), dtype=np.int64)
        shut = np.zeros(len(nanos), dtype=bool)
        picked = np.flatnonzero(rows)
        exchange = _EXCHANGE_CODES[symbol[picked]]
        codes, keys, first, count = groups(exchange * (1 << 32) + local_day[picked])
        day_open = np.zeros(len(keys), dtype=np.int64)
        day_close = np.zeros(len(keys), dtype=np.int64)
        day_shut = np.zeros(len(keys), dtype=bool)
        for j, key in enumerate(keys.tolist()):
            name, day = _EXCHANGES[key >> 32], date_of(key & 0xFFFFFFFF)
            session = self._calendar.for_exchange(name).session(day)
            if session is None:
                day_shut[j] = True
                self._problems.file(
                    self._name,
                    f"{day} is not a trading day on {name} ({int(count[j])} row(s) on it)",
                    row=int(self._rows[picked[first[j]]]),
                )
                continue
            day_open[j] = int(session.open.timestamp()) * 10**9
            day_close[j] = int(session.close.timestamp()) * 10**9
        opens[picked] = day_open[codes]
        closes[picked] = day_close[codes]
        shut[picked] = day_shut[codes]
        self._ok &= ~shut
        outside = rows & ~shut & ((nanos < opens) | (nanos >= closes))
        self._flag(
            outside,
            lambda i: (
                f"bar at {self._local(nanos[i])} is outside the session "
                f"{self._local(opens[i])}-{self._local(closes[i])} of {date_of(int(local_day[i]))}"
            ),
        )

    @staticmethod
    def _local(nanos: np.int64) -> str:
        return hhmm(int((nanos + IST_OFFSET_NS) % NS_PER_DAY // NS_PER_MINUTE))


def check_duplicates(bars: pd.DataFrame, names: list[str], problems: Problems) -> None:
    """The same instrument twice in one minute, within a file or across the import's files."""
    keys = ["symbol", "kind", "expiry", "strike", "nanos"]
    valid = bars[bars["ok"].to_numpy(dtype=bool)]
    repeated = valid.duplicated(keys, keep=False).to_numpy(dtype=bool)
    if not repeated.any():
        return
    group = valid[repeated]
    first_file = group.groupby(keys, sort=False)["file"].transform("first").to_numpy()
    first_row = group.groupby(keys, sort=False)["row"].transform("first").to_numpy()
    later = group.duplicated(keys, keep="first").to_numpy(dtype=bool)
    files = group["file"].to_numpy()
    rows = group["row"].to_numpy()
    for number, name in enumerate(names):
        mine = later & (files == number)
        problems.rows(
            name,
            rows,
            mine,
            lambda i: f"same instrument and minute as {names[int(first_file[i])]} row {int(first_row[i])}",
        )
