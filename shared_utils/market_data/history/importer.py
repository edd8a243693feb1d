"""Import users' historical minute bars (CSV or Parquet, `layout`) into the store, once.

Every file is checked in full, column by column with pandas/numpy, before anything is written:
a file that breaks the layout is refused with its problems (file, data row, reason; the first
`max_problems` of them), and a refused import writes nothing. Gaps are not problems: they are
reported per (underlying, day), never filled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.underlyings import EXCHANGE_OF, Underlying
from shared_utils.market_data.history import layout
from shared_utils.market_data.history.layout import FileFormat, RowType
from shared_utils.market_data.history.report import (
    DayCoverage,
    HistoryImportRefused,
    ImportProblem,
    ImportReport,
    SourceFile,
    hhmm,
    minute_ranges,
)
from shared_utils.market_data.history.store import NO_COUNT, DayBars, StoredSource, commit

MAX_PROBLEMS = 20
_NS_PER_MINUTE = 60 * 10**9
_NS_PER_DAY = 86_400 * 10**9
_IST_OFFSET_NS = 19_800 * 10**9  # IST is UTC+05:30 all year (no daylight saving)
_EPOCH = date(1970, 1, 1)
# An offset after a time of day (`T09:15:00+05:30`, `09:15Z`); a bare date's `-23` is not one.
_OFFSET = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# Symbols and row types travel as small codes into these tuples, not as millions of strings.
_SYMBOLS: tuple[str, ...] = tuple(u.value for u in Underlying)
_KINDS: tuple[str, ...] = (RowType.INDEX.value, RowType.CE.value, RowType.PE.value)
_INDEX = 0
_EXCHANGES: tuple[str, ...] = tuple(sorted({e.value for e in EXCHANGE_OF.values()}))
_EXCHANGE_CODES = np.array([_EXCHANGES.index(EXCHANGE_OF[u].value) for u in Underlying], dtype=np.int64)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def import_history(
    paths: Sequence[str | Path],
    store_dir: str | Path,
    *,
    now: datetime,
    specs: SpecTable | None = None,
    calendar: TradingCalendar | None = None,
    max_problems: int = MAX_PROBLEMS,
) -> ImportReport:
    """Check every file, then store its (underlying, trading day)s, each replacing the stored day
    as a whole (so a day's index and option files go in one import). `now` stamps the import.

    Raises `HistoryImportRefused` (nothing written) when any file breaks the layout."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    calendar = calendar or TradingCalendar.default()
    problems = _Problems(max_problems)
    frames: list[pd.DataFrame] = []
    sources: list[StoredSource] = []
    files: list[SourceFile] = []
    seen: dict[str, str] = {}
    for number, path in enumerate(Path(p) for p in paths):
        name = str(path)
        problems.order[name] = number
        loaded = _load(path, problems)
        if loaded is None:
            continue
        kind, digest, raw = loaded
        if digest in seen:
            problems.file(name, f"same content as {seen[digest]}")
            continue
        seen[digest] = name
        checked = _FileCheck(name, len(files), raw, problems, calendar, specs or default_specs()).run()
        frames.append(checked)
        files.append(SourceFile(file=name, format=kind, sha256=digest, rows=len(raw)))
        sources.append(StoredSource(file=name, sha256=digest, rows=len(raw), imported_at=now))
    bars = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not bars.empty:
        _check_duplicates(bars, [f.file for f in files], problems)
    if problems.total:
        raise HistoryImportRefused.listing(problems.first(), problems.total)
    store = Path(store_dir)
    coverage: list[DayCoverage] = []
    if not bars.empty:
        hashes = [f.sha256 for f in files]
        commit(store, _days(bars, calendar, hashes, coverage), sources, now)
    return ImportReport(store=str(store), imported_at=now, files=files, days=coverage)


@dataclass
class _Problems:
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


def _load(path: Path, problems: _Problems) -> tuple[FileFormat, str, pd.DataFrame] | None:
    name = str(path)
    kind = layout.file_format(path.name)
    if kind is None:
        suffixes = ", ".join(layout.SUFFIXES)
        problems.file(name, f"unsupported file type: expected one of {suffixes}")
        return None
    if not path.is_file():
        problems.file(name, "no such file")
        return None
    try:
        raw = (
            pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig")
            if kind is FileFormat.CSV
            else pd.read_parquet(path, engine="pyarrow")
        )
    except (ValueError, OSError, UnicodeDecodeError) as error:
        problems.file(name, f"cannot be read as {kind.value}: {error}")
        return None
    raw.columns = [str(column).strip() for column in raw.columns]
    missing = [column for column in layout.COLUMNS if column not in raw.columns]
    if missing:
        problems.file(name, f"missing columns: {', '.join(missing)} (expected {', '.join(layout.COLUMNS)})")
        return None
    return kind, _sha256(path), raw.reset_index(drop=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _text(series: pd.Series) -> pd.Series:
    """Cells as stripped text, '' for an empty one."""
    return series.astype("string").fillna("").str.strip()


Parsed = tuple[npt.NDArray[Any], Mask, Mask]


def _per_distinct(series: pd.Series, parse: Callable[[pd.Series], Parsed]) -> Parsed:
    """`parse` applied to each distinct cell once and spread back over the rows: a year of bars
    repeats a few symbols, expiries, strikes and minutes millions of times."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    values, empty, bad = parse(pd.Series(uniques, dtype=series.dtype))
    return values[codes], empty[codes], bad[codes]


def _numbers_of_text(text: pd.Series) -> Parsed:
    cells = _text(text)
    empty = (cells == "").to_numpy(dtype=bool)
    values = pd.to_numeric(cells.mask(cells == ""), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    return values, empty, (np.isnan(values) & ~empty) | np.isinf(values)


def _numbers(series: pd.Series) -> tuple[Floats, Mask, Mask]:
    """(values, empty, unparseable) of a numeric column read as numbers or as text."""
    if is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return values, np.isnan(values), np.isinf(values)
    return _per_distinct(series, _numbers_of_text)


def _utc_nanos(stamps: pd.Series) -> Ints:
    utc = stamps.dt.tz_convert(UTC).dt.as_unit("ns").dt.tz_localize(None)
    return utc.to_numpy(dtype="datetime64[ns]").view("int64")


def _timestamps_of_text(text: pd.Series) -> Parsed:
    cells = _text(text)
    blank = cells == ""
    aware = cells.str.contains(_OFFSET, regex=True) & ~blank
    with_offset = pd.to_datetime(cells.where(aware), utc=True, format="ISO8601", errors="coerce")
    local = pd.to_datetime(cells.where(~aware & ~blank), format="ISO8601", errors="coerce")
    if not isinstance(local.dtype, pd.DatetimeTZDtype):
        local = local.dt.tz_localize(IST)
    nanos = np.where(aware.to_numpy(dtype=bool), _utc_nanos(with_offset), _utc_nanos(local))
    empty = blank.to_numpy(dtype=bool)
    bad = (nanos == np.iinfo(np.int64).min) & ~empty  # NaT
    return nanos, empty, bad


def _timestamps(series: pd.Series) -> tuple[Ints, Mask, Mask]:
    """(UTC nanoseconds, empty, unparseable): an offset is honoured, a naive time is IST."""
    if is_datetime64_any_dtype(series.dtype):
        aware = series if isinstance(series.dtype, pd.DatetimeTZDtype) else series.dt.tz_localize(IST)
        empty = aware.isna().to_numpy(dtype=bool)
        return _utc_nanos(aware), empty, np.zeros(len(series), dtype=bool)
    return _per_distinct(series, _timestamps_of_text)


def _dates_of_text(text: pd.Series) -> Parsed:
    cells = _text(text)
    empty = (cells == "").to_numpy(dtype=bool)
    parsed = pd.to_datetime(cells.mask(cells == ""), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy(dtype=bool) & ~empty
    return parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), empty, bad


def _dates(series: pd.Series) -> tuple[npt.NDArray[np.datetime64], Mask, Mask]:
    """(datetime64[D], empty, unparseable) of a YYYY-MM-DD column (text, date or datetime cells)."""
    if is_datetime64_any_dtype(series.dtype):
        values = series.dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) else series
        empty = values.isna().to_numpy(dtype=bool)
        bad = (values != values.dt.normalize()).to_numpy(dtype=bool) & ~empty
        return values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), empty, bad
    return _per_distinct(series, _dates_of_text)


def _codes(series: pd.Series, names: Sequence[str]) -> tuple[Ints, Mask]:
    """(position of each cell in `names`, -1 for another value; empty), case-insensitive."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    cells = _text(pd.Series(uniques, dtype=series.dtype)).str.upper()
    position = {name: number for number, name in enumerate(names)}
    known = np.array([position.get(cell, -1) for cell in cells.tolist()], dtype=np.int64)
    empty = (cells == "").to_numpy(dtype=bool)
    return known[codes], empty[codes]


def _blank_rows(raw: pd.DataFrame) -> Mask:
    """Rows with every layout column empty (a blank line of a CSV file)."""
    blank = np.ones(len(raw), dtype=bool)
    for column in layout.COLUMNS:
        series = raw[column]
        empty = series.isna()
        if not (is_numeric_dtype(series.dtype) or is_datetime64_any_dtype(series.dtype)):
            empty |= series.eq("")
        blank &= empty.to_numpy(dtype=bool)
    return blank


def _groups(keys: npt.NDArray[Any]) -> tuple[Ints, npt.NDArray[Any], Ints, Ints]:
    """(group of each row, the groups' keys, each group's first row, its row count), by hashing."""
    codes, uniques = pd.factorize(keys)
    running = np.maximum.accumulate(codes) if codes.size else codes
    first = np.searchsorted(running, np.arange(len(uniques)))
    return codes, np.asarray(uniques), first, np.bincount(codes, minlength=len(uniques))


def _day(number: int) -> date:
    return date.fromordinal(_EPOCH.toordinal() + number)


def _plain(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


class _FileCheck:
    """Every row-level check of one file, vectorised: returns the typed rows."""

    def __init__(
        self,
        name: str,
        number: int,
        raw: pd.DataFrame,
        problems: _Problems,
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
        self._blank = _blank_rows(raw)
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
        values, empty, bad = _numbers(self._raw[column])
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
        nanos, empty, bad = _timestamps(raw[layout.TIMESTAMP])
        self._required(layout.TIMESTAMP, empty, bad, "an ISO 8601 date-time")
        stamped = ~empty & ~bad
        self._flag(
            stamped & (nanos % _NS_PER_MINUTE != 0),
            lambda i: f"timestamp {self._cell(layout.TIMESTAMP, i)} is not the start of a minute",
        )

        symbol, empty_symbol = _codes(raw[layout.SYMBOL], _SYMBOLS)
        known_symbol = symbol >= 0
        self._flag(empty_symbol, lambda i: "symbol is missing")
        self._flag(
            ~known_symbol & ~empty_symbol,
            lambda i: f"unknown symbol {self._cell(layout.SYMBOL, i)!r}: expected {', '.join(_SYMBOLS)}",
        )
        kind, empty_kind = _codes(raw[layout.TYPE], _KINDS)
        self._flag(empty_kind, lambda i: "type is missing")
        self._flag(
            (kind < 0) & ~empty_kind,
            lambda i: f"unknown type {self._cell(layout.TYPE, i)!r}: expected CE, PE or INDEX",
        )
        option = kind > _INDEX
        index = kind == _INDEX

        prices = {column: self._amounts(column) for column in layout.PRICES}
        high, low = prices[layout.HIGH], prices[layout.LOW]
        self._flag(high < low, lambda i: f"high {_plain(high[i])} is below low {_plain(low[i])}")

        counts = {column: self._amounts(column, needed=option, whole=True) for column in layout.COUNTS}

        expiry, empty_expiry, bad_expiry = _dates(raw[layout.EXPIRY])
        self._required(layout.EXPIRY, empty_expiry, bad_expiry, "a date (YYYY-MM-DD)", rows=option)
        strike, empty_strike, bad_strike = _numbers(raw[layout.STRIKE])
        self._required(layout.STRIKE, empty_strike, bad_strike, "a number", rows=option)
        self._not_for_index(layout.EXPIRY, index & ~empty_expiry)
        self._not_for_index(layout.STRIKE, index & ~empty_strike)
        self._flag(option & (strike <= 0), lambda i: f"strike {_plain(strike[i])} is not above zero")

        local_day = np.where(stamped, (nanos + _IST_OFFSET_NS) // _NS_PER_DAY, 0)
        expiry_day = expiry.astype("int64")
        dated = option & ~empty_expiry & ~bad_expiry & stamped
        self._flag(
            dated & (expiry_day < local_day),
            lambda i: f"expiry {_day(int(expiry_day[i]))} is before the bar's date {_day(int(local_day[i]))}",
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
        codes, pairs, _, _ = _groups(symbol[picked] * (1 << 32) + days[picked])
        steps = np.full(len(pairs), np.nan)
        unknown: dict[int, str] = {}
        for j, pair in enumerate(pairs.tolist()):
            underlying, day = _SYMBOLS[pair >> 32], _day(pair & 0xFFFFFFFF)
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
                f"of {_SYMBOLS[symbol[i]]} contracts expiring {_day(int(days[i]))}"
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
        codes, keys, first, count = _groups(exchange * (1 << 32) + local_day[picked])
        day_open = np.zeros(len(keys), dtype=np.int64)
        day_close = np.zeros(len(keys), dtype=np.int64)
        day_shut = np.zeros(len(keys), dtype=bool)
        for j, key in enumerate(keys.tolist()):
            name, day = _EXCHANGES[key >> 32], _day(key & 0xFFFFFFFF)
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
                f"{self._local(opens[i])}-{self._local(closes[i])} of {_day(int(local_day[i]))}"
            ),
        )

    @staticmethod
    def _local(nanos: np.int64) -> str:
        return hhmm(int((nanos + _IST_OFFSET_NS) % _NS_PER_DAY // _NS_PER_MINUTE))


def _check_duplicates(bars: pd.DataFrame, names: list[str], problems: _Problems) -> None:
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


def _days(
    bars: pd.DataFrame, calendar: TradingCalendar, hashes: list[str], coverage: list[DayCoverage]
) -> Iterator[tuple[DayBars, list[str]]]:
    """Each (underlying, day)'s arrays, built one at a time (a year never sits in memory twice);
    its coverage is appended to `coverage` as it goes."""
    kind = bars["kind"].to_numpy()
    symbol_codes = bars["symbol"].to_numpy()
    # Per (underlying, day): the index rows, then the contracts by expiry, type, strike; each by minute.
    order = np.lexsort(
        (
            bars["nanos"].to_numpy(),
            bars["strike"].to_numpy(),
            kind,
            bars["expiry"].to_numpy(),
            bars["day"].to_numpy(),
            symbol_codes,
        )
    )
    sorted_bars = bars.iloc[order].reset_index(drop=True)
    sorted_symbols = symbol_codes[order]
    sorted_days = sorted_bars["day"].to_numpy()
    starts = np.flatnonzero(
        np.concatenate(([True], (np.diff(sorted_symbols) != 0) | (np.diff(sorted_days) != 0)))
    )
    ends = [*starts[1:].tolist(), len(sorted_bars)]
    for start, end in zip(starts.tolist(), ends, strict=True):
        underlying = Underlying(_SYMBOLS[sorted_symbols[start]])
        group = sorted_bars.iloc[start:end]
        day = _day(int(sorted_days[start]))
        session = calendar.for_exchange(EXCHANGE_OF[underlying].value).session(day)
        assert session is not None  # days without a session were refused
        built, covered = _build(underlying, day, session.open, session.close, group)
        coverage.append(covered)
        used = sorted(set(group["file"].tolist()))
        yield built, [hashes[number] for number in used]


def _build(
    underlying: Underlying, day: date, open_: datetime, close: datetime, group: pd.DataFrame
) -> tuple[DayBars, DayCoverage]:
    minutes = int((close - open_).total_seconds() // 60)
    open_nanos = int(open_.timestamp()) * 10**9
    row = (group["nanos"].to_numpy() - open_nanos) // _NS_PER_MINUTE
    kinds = group["kind"].to_numpy()
    is_index = kinds == _INDEX
    closes = group["close"].to_numpy(dtype=np.float64)

    index_close = np.full(minutes, np.nan)
    index_close[row[is_index]] = closes[is_index]

    option = ~is_index
    expiry = group["expiry"].to_numpy()[option]
    kind = kinds[option]
    strike = group["strike"].to_numpy(dtype=np.float64)[option]
    new_contract = np.ones(len(strike), dtype=bool)
    new_contract[1:] = (np.diff(expiry) != 0) | (kind[1:] != kind[:-1]) | (np.diff(strike) != 0)
    contract = np.cumsum(new_contract) - 1
    first = np.flatnonzero(new_contract)
    count = len(first)
    close_matrix = np.full((minutes, count), np.nan)
    volume = np.full((minutes, count), NO_COUNT, dtype=np.int64)
    oi = np.full((minutes, count), NO_COUNT, dtype=np.int64)
    at = row[option]
    close_matrix[at, contract] = closes[option]
    volume[at, contract] = group["volume"].to_numpy(dtype=np.float64)[option].astype(np.int64)
    oi[at, contract] = group["oi"].to_numpy(dtype=np.float64)[option].astype(np.int64)

    bars = DayBars(
        underlying=underlying,
        open=open_.astimezone(UTC),
        index_close=index_close,
        expiry=expiry[first].astype("datetime64[D]"),
        option_type=np.array(_KINDS, dtype="<U5")[kind[first]].astype("<U2"),
        strike=strike[first],
        close=close_matrix,
        volume=volume,
        oi=oi,
    )
    first_minute = open_.astimezone(IST).hour * 60 + open_.astimezone(IST).minute
    bars_per_contract = np.bincount(contract, minlength=count)
    covered = DayCoverage(
        underlying=underlying,
        day=day,
        session=f"{hhmm(first_minute)}-{hhmm(first_minute + minutes)}",
        index_bars=int(is_index.sum()),
        index_missing=minute_ranges(np.flatnonzero(np.isnan(index_close)) + first_minute),
        contracts=count,
        option_bars=int(option.sum()),
        contracts_with_gaps=int((bars_per_contract < minutes).sum()),
        missing_contract_minutes=int(minutes * count - option.sum()),
    )
    return bars, covered
