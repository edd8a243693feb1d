"""What an import answers: the report of a stored import, or the refusal listing the problems.

Both are pydantic models, so `model_dump_json()` is the CLI's output. No pandas here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

from shared_utils.errors import FieldIssue, InvalidInputError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.history.layout import FileFormat


class ImportProblem(BaseModel):
    """One reason a file is refused. `row` is the 1-based data row as in the file (the CSV header
    is not counted: data row 1 is line 2); None for a problem with the whole file."""

    model_config = ConfigDict(frozen=True)

    file: str
    row: int | None = None
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.reason}"
            if self.row is None
            else f"{self.file} row {self.row}: {self.reason}"
        )


@dataclass
class HistoryImportRefused(InvalidInputError):
    """The files break the layout: nothing was written. `problems` holds the first ones (by file
    and row), `total` how many were found in all."""

    problems: list[ImportProblem] = field(default_factory=list)
    total: int = 0

    @classmethod
    def listing(cls, problems: Sequence[ImportProblem], total: int) -> HistoryImportRefused:
        more = f"\n... and {total - len(problems)} more" if total > len(problems) else ""
        lines = "\n".join(str(problem) for problem in problems)
        return cls(
            message=f"history import refused, nothing written ({total} problem(s)):\n{lines}{more}",
            details=[FieldIssue(field=f"{p.file}:{p.row or 0}", issue=p.reason) for p in problems],
            problems=list(problems),
            total=total,
        )


class SourceFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    format: FileFormat
    sha256: str
    rows: NonNegativeInt


class DayCoverage(BaseModel):
    """One imported (underlying, trading day) and its gaps, which are reported, never filled.

    `index_missing` lists the session minutes without an index bar as bar-start ranges
    (`09:15-09:20` = the six bars 09:15 to 09:20, `12:01` = one bar)."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    day: date
    session: str = Field(description="session minutes, e.g. 09:15-15:30 (the close is exclusive)")
    index_bars: NonNegativeInt
    index_missing: list[str]
    contracts: NonNegativeInt
    option_bars: NonNegativeInt
    contracts_with_gaps: NonNegativeInt = Field(description="contracts without a bar in some minute")
    missing_contract_minutes: NonNegativeInt

    @property
    def complete(self) -> bool:
        return not self.index_missing and self.contracts_with_gaps == 0


class ImportReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    store: str
    imported_at: AwareDatetime
    files: list[SourceFile]
    days: list[DayCoverage] = Field(description="every imported (underlying, day), replaced as a whole")


def hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def minute_ranges(minutes: npt.NDArray[np.int64]) -> list[str]:
    """Sorted minutes of the day compressed to ranges: [555, 556, 557, 600] -> 09:15-09:17, 10:00."""
    if minutes.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(minutes) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [minutes.size - 1]))
    return [
        hhmm(int(minutes[s])) if s == e else f"{hhmm(int(minutes[s]))}-{hhmm(int(minutes[e]))}"
        for s, e in zip(starts, ends, strict=True)
    ]
