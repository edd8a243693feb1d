"""The one weekday type: a strategy's entry days, an index's expiry day in the contract specs."""

from __future__ import annotations

from enum import StrEnum


class Weekday(StrEnum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"

    @property
    def iso_index(self) -> int:
        """Python's `date.weekday()` number (Monday = 0)."""
        return list(Weekday).index(self)
