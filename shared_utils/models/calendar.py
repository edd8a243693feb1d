"""The market calendar's admin changes: API input, the stored change and the views."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared_utils.market.underlyings import Exchange

HhMm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["18:15"])]


class ChangeKind(StrEnum):
    HOLIDAY = "HOLIDAY"  # a closure added (an ad-hoc closure, next year's circular)
    OPEN = "OPEN"  # a shipped or provisional holiday declared a trading day
    SESSION = "SESSION"  # a special session (Muhurat evening, Budget Saturday)


class HolidayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    label: str = Field(min_length=1, max_length=120, examples=["Republic Day"])


class SessionCreate(BaseModel):
    """A special session: its own times, on any day (a Sunday Muhurat, a Budget Saturday).
    `full_trading_day` false = a Muhurat-style session that trades but does not count as a
    trading day for expiries."""

    model_config = ConfigDict(extra="forbid")

    date: date
    label: str = Field(min_length=1, max_length=120)
    pre_open_start: HhMm
    pre_open_end: HhMm
    open: HhMm
    close: HhMm
    full_trading_day: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        times = [
            time.fromisoformat(t) for t in (self.pre_open_start, self.pre_open_end, self.open, self.close)
        ]
        if not times[0] <= times[1] <= times[2] < times[3]:
            raise ValueError(
                "session times must run pre_open_start <= pre_open_end <= open < close within the day"
            )
        return self


class CalendarChange(BaseModel):
    """One stored change: who made it and when."""

    model_config = ConfigDict(frozen=True)

    exchange: Exchange
    date: date
    kind: ChangeKind
    label: str
    session: SessionCreate | None = None
    created_by: str
    created_at: AwareDatetime


class MovedExpiry(BaseModel):
    model_config = ConfigDict(frozen=True)

    underlying: str
    nominal: date
    monthly: bool
    expiry_before: date
    expiry_after: date


class CalendarChangeResult(BaseModel):
    """What a change did: the stored change and the listed contracts whose expiry it moved."""

    change: CalendarChange
    moved_expiries: list[MovedExpiry]


class CalendarDay(BaseModel):
    date: date
    label: str = ""
    source: str = Field(description="official (shipped data), provisional (rule) or admin (a change)")


class CalendarSession(BaseModel):
    date: date
    label: str
    pre_open_start: datetime
    open: datetime
    close: datetime
    full_trading_day: bool
    source: str


class ExchangeCalendar(BaseModel):
    """An exchange's year as the platform trades it now, with the changes behind it."""

    exchange: Exchange
    year: int
    provisional: bool = Field(description="true when the year's official holiday list is not in the data yet")
    confirmed_until: date | None
    holidays: list[CalendarDay]
    special_sessions: list[CalendarSession]
    changes: list[CalendarChange]
