"""The documented layout of users' historical minute bars (docs/historical-data.md).

One row per instrument per minute. `timestamp` is the bar's start minute (ISO 8601 with an
offset; naive = IST). Index rows leave `expiry` and `strike` empty and may leave `volume`/`oi`
empty; option rows fill every column. Extra columns are ignored.
"""

from __future__ import annotations

from enum import StrEnum

TIMESTAMP = "timestamp"
SYMBOL = "symbol"
EXPIRY = "expiry"
STRIKE = "strike"
TYPE = "type"
OPEN = "open"
HIGH = "high"
LOW = "low"
CLOSE = "close"
VOLUME = "volume"
OI = "oi"

COLUMNS: tuple[str, ...] = (TIMESTAMP, SYMBOL, EXPIRY, STRIKE, TYPE, OPEN, HIGH, LOW, CLOSE, VOLUME, OI)
PRICES: tuple[str, ...] = (OPEN, HIGH, LOW, CLOSE)
COUNTS: tuple[str, ...] = (VOLUME, OI)


class RowType(StrEnum):
    CE = "CE"
    PE = "PE"
    INDEX = "INDEX"


class FileFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


SUFFIXES: dict[str, FileFormat] = {
    ".csv": FileFormat.CSV,
    ".csv.gz": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}


def file_format(name: str) -> FileFormat | None:
    """The format a file name's suffix declares, or None for an unsupported one."""
    lowered = name.lower()
    for suffix, kind in SUFFIXES.items():
        if lowered.endswith(suffix):
            return kind
    return None
