"""Cells of users' files to typed numpy arrays, a column at a time (never a row at a time).

Each parser answers (values, empty, unparseable) masks; text is parsed once per distinct cell and
spread back over the rows, since a year of bars repeats a few symbols, expiries, strikes and
minutes millions of times. Times become UTC nanoseconds; days, days since the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from shared_utils.clock import IST
from shared_utils.market_data.history import layout

NS_PER_MINUTE = 60 * 10**9
NS_PER_DAY = 86_400 * 10**9
IST_OFFSET_NS = 19_800 * 10**9  # IST is UTC+05:30 all year (no daylight saving)
_EPOCH = date(1970, 1, 1)
# An offset after a time of day (`T09:15:00+05:30`, `09:15Z`); a bare date's `-23` is not one.
_OFFSET = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def stripped(series: pd.Series) -> pd.Series:
    """Cells as stripped text, '' for an empty one."""
    return series.astype("string").fillna("").str.strip()


Parsed = tuple[npt.NDArray[Any], Mask, Mask]


def per_distinct(series: pd.Series, parse: Callable[[pd.Series], Parsed]) -> Parsed:
    """`parse` applied to each distinct cell once and spread back over the rows: a year of bars
    repeats a few symbols, expiries, strikes and minutes millions of times."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    values, empty, bad = parse(pd.Series(uniques, dtype=series.dtype))
    return values[codes], empty[codes], bad[codes]


def _numbers_of_text(column: pd.Series) -> Parsed:
    cells = stripped(column)
    empty = (cells == "").to_numpy(dtype=bool)
    values = pd.to_numeric(cells.mask(cells == ""), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    return values, empty, (np.isnan(values) & ~empty) | np.isinf(values)


def numbers(series: pd.Series) -> tuple[Floats, Mask, Mask]:
    """(values, empty, unparseable) of a numeric column read as numbers or as text."""
    if is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return values, np.isnan(values), np.isinf(values)
    return per_distinct(series, _numbers_of_text)


def utc_nanos(stamps: pd.Series) -> Ints:
    utc = stamps.dt.tz_convert(UTC).dt.as_unit("ns").dt.tz_localize(None)
    return utc.to_numpy(dtype="datetime64[ns]").view("int64")


def _timestamps_of_text(column: pd.Series) -> Parsed:
    cells = stripped(column)
    blank = cells == ""
    aware = cells.str.contains(_OFFSET, regex=True) & ~blank
    with_offset = pd.to_datetime(cells.where(aware), utc=True, format="ISO8601", errors="coerce")
    local = pd.to_datetime(cells.where(~aware & ~blank), format="ISO8601", errors="coerce")
    if not isinstance(local.dtype, pd.DatetimeTZDtype):
        local = local.dt.tz_localize(IST)
    nanos = np.where(aware.to_numpy(dtype=bool), utc_nanos(with_offset), utc_nanos(local))
    empty = blank.to_numpy(dtype=bool)
    bad = (nanos == np.iinfo(np.int64).min) & ~empty  # NaT
    return nanos, empty, bad


def timestamps(series: pd.Series) -> tuple[Ints, Mask, Mask]:
    """(UTC nanoseconds, empty, unparseable): an offset is honoured, a naive time is IST."""
    if is_datetime64_any_dtype(series.dtype):
        aware = series if isinstance(series.dtype, pd.DatetimeTZDtype) else series.dt.tz_localize(IST)
        empty = aware.isna().to_numpy(dtype=bool)
        return utc_nanos(aware), empty, np.zeros(len(series), dtype=bool)
    return per_distinct(series, _timestamps_of_text)


def _dates_of_text(column: pd.Series) -> Parsed:
    cells = stripped(column)
    empty = (cells == "").to_numpy(dtype=bool)
    parsed = pd.to_datetime(cells.mask(cells == ""), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy(dtype=bool) & ~empty
    return parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), empty, bad


def dates(series: pd.Series) -> tuple[npt.NDArray[np.datetime64], Mask, Mask]:
    """(datetime64[D], empty, unparseable) of a YYYY-MM-DD column (text, date or datetime cells)."""
    if is_datetime64_any_dtype(series.dtype):
        values = series.dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) else series
        empty = values.isna().to_numpy(dtype=bool)
        bad = (values != values.dt.normalize()).to_numpy(dtype=bool) & ~empty
        return values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), empty, bad
    return per_distinct(series, _dates_of_text)


def codes_of(series: pd.Series, names: Sequence[str]) -> tuple[Ints, Mask]:
    """(position of each cell in `names`, -1 for another value; empty), case-insensitive."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    cells = stripped(pd.Series(uniques, dtype=series.dtype)).str.upper()
    position = {name: number for number, name in enumerate(names)}
    known = np.array([position.get(cell, -1) for cell in cells.tolist()], dtype=np.int64)
    empty = (cells == "").to_numpy(dtype=bool)
    return known[codes], empty[codes]


def blank_rows(raw: pd.DataFrame) -> Mask:
    """Rows with every layout column empty (a blank line of a CSV file)."""
    blank = np.ones(len(raw), dtype=bool)
    for column in layout.COLUMNS:
        series = raw[column]
        empty = series.isna()
        if not (is_numeric_dtype(series.dtype) or is_datetime64_any_dtype(series.dtype)):
            empty |= series.eq("")
        blank &= empty.to_numpy(dtype=bool)
    return blank


def groups(keys: npt.NDArray[Any]) -> tuple[Ints, npt.NDArray[Any], Ints, Ints]:
    """(group of each row, the groups' keys, each group's first row, its row count), by hashing."""
    codes, uniques = pd.factorize(keys)
    running = np.maximum.accumulate(codes) if codes.size else codes
    first = np.searchsorted(running, np.arange(len(uniques)))
    return codes, np.asarray(uniques), first, np.bincount(codes, minlength=len(uniques))


def date_of(number: int) -> date:
    return date.fromordinal(_EPOCH.toordinal() + number)
