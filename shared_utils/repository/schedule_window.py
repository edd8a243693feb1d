"""Turn a due window [start, end) into GSI2 sort-key ranges and due instants.

Schedule entries are keyed by their UTC clock minute (HHMM). A window of up to 24 hours covers
at most two HHMM ranges (one if it does not cross UTC midnight), so each shard is read with one
`between` query per range, however many users there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared_utils.errors import InvalidInputError

MAX_WINDOW = timedelta(hours=24)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class DueWindow:
    """Whole minutes `first`..`last` (inclusive, UTC) that fall inside [start, end)."""

    first: datetime
    last: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> DueWindow | None:
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInputError("due window needs timezone-aware datetimes")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start or end - start > MAX_WINDOW:
            raise InvalidInputError("due window must be non-empty and at most 24 hours long")
        first, last = _ceil_minute(start), _ceil_minute(end) - MINUTE
        return cls(first, last) if first <= last else None

    def hhmm_ranges(self) -> list[tuple[str, str]]:
        if self.first.date() == self.last.date():
            return [(_hhmm(self.first), _hhmm(self.last))]
        return [(_hhmm(self.first), "2359"), ("0000", _hhmm(self.last))]

    def due_at(self, hhmm: str) -> datetime | None:
        """The instant in the window with this UTC clock minute, if any."""
        candidate = self.first.replace(hour=int(hhmm[:2]), minute=int(hhmm[2:]))
        if candidate < self.first:
            candidate += timedelta(days=1)
        return candidate if candidate <= self.last else None


def _ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + MINUTE


def _hhmm(instant: datetime) -> str:
    return f"{instant.hour:02d}{instant.minute:02d}"
