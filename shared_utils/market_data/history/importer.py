"""Import users' historical minute bars (CSV or Parquet, `layout`) into the store, once.

Every file is checked in full, column by column with pandas/numpy (`checks`), before anything is
written: a file that breaks the layout is refused with its problems (file, data row, reason; the
first `max_problems` of them), and a refused import writes nothing. Gaps are not problems: they are
reported per (underlying, day), never filled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from shared_utils.clock import IST
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.underlyings import EXCHANGE_OF, Underlying
from shared_utils.market_data.history import layout
from shared_utils.market_data.history.checks import (
    INDEX,
    KINDS,
    SYMBOLS,
    FileCheck,
    Problems,
    check_duplicates,
)
from shared_utils.market_data.history.columns import NS_PER_MINUTE, date_of
from shared_utils.market_data.history.layout import FileFormat
from shared_utils.market_data.history.report import (
    DayCoverage,
    HistoryImportRefused,
    ImportReport,
    SourceFile,
    hhmm,
    minute_ranges,
)
from shared_utils.market_data.history.store import NO_COUNT, DayBars, StoredSource, commit

MAX_PROBLEMS = 20


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
    problems = Problems(max_problems)
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
        checked = FileCheck(name, len(files), raw, problems, calendar, specs or default_specs()).run()
        frames.append(checked)
        files.append(SourceFile(file=name, format=kind, sha256=digest, rows=len(raw)))
        sources.append(StoredSource(file=name, sha256=digest, rows=len(raw), imported_at=now))
    bars = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not bars.empty:
        check_duplicates(bars, [f.file for f in files], problems)
    if problems.total:
        raise HistoryImportRefused.listing(problems.first(), problems.total)
    store = Path(store_dir)
    coverage: list[DayCoverage] = []
    if not bars.empty:
        hashes = [f.sha256 for f in files]
        commit(store, _days(bars, calendar, hashes, coverage), sources, now)
    return ImportReport(store=str(store), imported_at=now, files=files, days=coverage)


def _load(path: Path, problems: Problems) -> tuple[FileFormat, str, pd.DataFrame] | None:
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


def _days(
    bars: pd.DataFrame, calendar: TradingCalendar, hashes: list[str], coverage: list[DayCoverage]
) -> Iterator[tuple[DayBars, list[str]]]:
    """Each (underlying, day)'s arrays, built one at a time as the store writes them (only one
    day's matrices are held); its coverage is appended to `coverage` as it goes."""
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
        underlying = Underlying(SYMBOLS[sorted_symbols[start]])
        group = sorted_bars.iloc[start:end]
        day = date_of(int(sorted_days[start]))
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
    row = (group["nanos"].to_numpy() - open_nanos) // NS_PER_MINUTE
    kinds = group["kind"].to_numpy()
    is_index = kinds == INDEX
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
        option_type=np.array(KINDS, dtype="<U5")[kind[first]].astype("<U2"),
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
