"""The historical store: one compressed `.npz` per (underlying, trading day) and a JSON manifest.

    <store>/manifest.json
    <store>/NIFTY/2026-11-23.npz

A day file holds the session's minute grid (minute m = the bar starting `open` + m minutes) and
per contract a (expiry, type, strike) table, sorted by expiry, type, strike, so an expiry's
contracts are one contiguous column range:

    format       int64 ()              FORMAT_VERSION
    open         int64 ()              the first session minute, seconds since the epoch (UTC)
    index_close  float64 (minutes,)    NaN = no index bar
    expiry       datetime64[D] (contracts,)
    option_type  <U2 (contracts,)      CE or PE
    strike       float64 (contracts,)
    close        float64 (minutes, contracts)   NaN = no bar that minute
    volume, oi   int64 (minutes, contracts)     -1 = no bar

Reading needs numpy and pydantic only (a Lambda without pandas or pyarrow): nothing here may
import them. Writing goes through a staging folder inside the store and `os.replace`, with the
manifest written last, so readers never see half a day.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, Field, NonNegativeInt

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.underlyings import Underlying

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NO_COUNT = -1  # volume / oi of a cell without a bar


@dataclass(frozen=True)
class DayBars:
    """One underlying's trading day as stored (see the module docstring for the arrays)."""

    underlying: Underlying
    open: datetime
    index_close: npt.NDArray[np.float64]
    expiry: npt.NDArray[np.datetime64]
    option_type: npt.NDArray[np.str_]
    strike: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]
    oi: npt.NDArray[np.int64]

    @property
    def day(self) -> date:
        return self.open.astimezone(IST).date()

    @property
    def minutes(self) -> int:
        return int(self.index_close.shape[0])

    @property
    def contracts(self) -> int:
        return int(self.strike.shape[0])

    def minute_start(self, minute: int) -> datetime:
        """The aware IST start of the bar in row `minute`."""
        return (self.open + timedelta(minutes=minute)).astimezone(IST)


class StoredDay(BaseModel):
    file: str = Field(description="path of the day file inside the store")
    imported_at: AwareDatetime
    sources: list[str] = Field(description="sha256 of the files the day came from")


class StoredSource(BaseModel):
    file: str
    sha256: str
    rows: NonNegativeInt
    imported_at: AwareDatetime


class Manifest(BaseModel):
    format: Literal[1] = 1
    updated_at: AwareDatetime | None = None
    days: dict[Underlying, dict[date, StoredDay]] = Field(default_factory=dict)
    sources: dict[str, StoredSource] = Field(default_factory=dict, description="by sha256")


def day_file(underlying: Underlying, day: date) -> str:
    """A day file's path inside the store (the one place it is spelled)."""
    return f"{underlying.value}/{day.isoformat()}.npz"


def read_manifest(store_dir: Path) -> Manifest:
    """The store's manifest; an empty one for a folder not yet written to."""
    path = store_dir / MANIFEST
    if not path.exists():
        return Manifest()
    return Manifest.model_validate_json(path.read_bytes())


def read_day(store_dir: Path, underlying: Underlying, stored: StoredDay) -> DayBars:
    with np.load(store_dir / stored.file, allow_pickle=False) as data:
        if int(data["format"]) != FORMAT_VERSION:
            raise ConfigurationError(f"{stored.file}: store format {int(data['format'])} is not supported")
        return DayBars(
            underlying=underlying,
            open=datetime.fromtimestamp(int(data["open"]), tz=UTC),
            index_close=data["index_close"],
            expiry=data["expiry"],
            option_type=data["option_type"],
            strike=data["strike"],
            close=data["close"],
            volume=data["volume"],
            oi=data["oi"],
        )


def _write_day(path: Path, bars: DayBars) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        np.savez_compressed(
            out,
            format=np.int64(FORMAT_VERSION),
            open=np.int64(int(bars.open.timestamp())),
            index_close=bars.index_close,
            expiry=bars.expiry.astype("datetime64[D]"),
            option_type=bars.option_type.astype("<U2"),
            strike=bars.strike,
            close=bars.close,
            volume=bars.volume,
            oi=bars.oi,
        )


def commit(
    store_dir: Path,
    days: Iterable[tuple[DayBars, Sequence[str]]],
    sources: Sequence[StoredSource],
    now: datetime,
) -> Manifest:
    """Write `days`, each with the sha256 of the files it came from (a day replaces the stored day
    of its underlying as a whole), and record them in the manifest.

    Days are written one at a time into a staging folder and moved into place only when all were
    written; the manifest goes last. On a failure the staging folder is removed and the store's
    manifest is left as it was."""
    store_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store_dir))
    try:
        written: list[tuple[Underlying, date, str, list[str]]] = []
        for bars, hashes in days:
            name = day_file(bars.underlying, bars.day)
            _write_day(staging / name, bars)
            written.append((bars.underlying, bars.day, name, list(hashes)))
        manifest = read_manifest(store_dir)
        for underlying, day, name, hashes in written:
            (store_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, store_dir / name)
            manifest.days.setdefault(underlying, {})[day] = StoredDay(
                file=name, imported_at=now, sources=hashes
            )
        manifest.days = {u: dict(sorted(d.items())) for u, d in sorted(manifest.days.items())}
        used = {sha for stored in manifest.days.values() for day in stored.values() for sha in day.sources}
        merged = {**manifest.sources, **{source.sha256: source for source in sources}}
        manifest.sources = {sha: source for sha, source in merged.items() if sha in used}
        manifest.updated_at = now
        _write_manifest(store_dir, manifest, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write_manifest(store_dir: Path, manifest: Manifest, staging: Path) -> None:
    temporary = staging / MANIFEST
    temporary.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    os.replace(temporary, store_dir / MANIFEST)
