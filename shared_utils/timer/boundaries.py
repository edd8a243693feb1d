"""0-second boundary arithmetic of the timer loop, in absolute (UTC) time.

Every function works on aware datetimes and never on the process's local time zone, so the
result is the same under `TZ=UTC`, `TZ=Asia/Kolkata` or anything else. The loop never drifts
because each wait targets an absolute boundary computed from the full timestamp (seconds and
microseconds included), never "now + 60 s".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return instant.astimezone(UTC)


def floor_minute(instant: datetime) -> datetime:
    """The 0-second boundary at or before `instant` (UTC)."""
    return _require_aware(instant).replace(second=0, microsecond=0)


def is_boundary(instant: datetime) -> bool:
    utc = _require_aware(instant)
    return utc.second == 0 and utc.microsecond == 0


def next_boundary_after(instant: datetime) -> datetime:
    """The first 0-second boundary strictly after `instant`: 09:00:00 -> 09:01:00 and
    09:00:59.999999 -> 09:01:00, so a tick is never produced twice."""
    return floor_minute(instant) + MINUTE


def boundary_at_or_after(instant: datetime) -> datetime:
    utc = _require_aware(instant)
    return utc if is_boundary(utc) else next_boundary_after(utc)


def boundaries(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every boundary in `[start, end]` (both aware), in order."""
    tick = boundary_at_or_after(start)
    last = _require_aware(end)
    while tick <= last:
        yield tick
        tick += MINUTE


def minute_of_day(instant: datetime) -> int:
    """Minutes since UTC midnight: used for "every 5 minutes" (IST is UTC+5:30, so a 5-minute
    boundary in UTC is a 5-minute boundary in IST too)."""
    utc = _require_aware(instant)
    return utc.hour * 60 + utc.minute


def parse_tick(value: str) -> datetime:
    """An ISO-8601 timestamp with an offset or `Z` (Step Functions form), as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    return _require_aware(parsed)
