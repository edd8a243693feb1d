"""Schedule entries: the GSI2 projection the timer reads every five minutes."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.keys import ScheduleKind
from shared_utils.market.underlyings import Underlying
from shared_utils.market.weekdays import Weekday
from shared_utils.models.common import ClockTime, EntityId


class ScheduleEntry(BaseModel):
    """One strategy's entry or exit time. `due_at` is set when read back for a time window."""

    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    strategy_id: EntityId
    basket_id: EntityId
    underlying: Underlying
    kind: ScheduleKind
    at: ClockTime = Field(description="Clock time in IST")
    weekdays: list[Weekday] = Field(description="IST weekdays it fires on (exits: every weekday)")
    days_before_expiry: int | None = Field(default=None, description="Exits only: fire N days before expiry")
    strategy_version: int = Field(ge=1)
    due_at: AwareDatetime | None = None

    def fires_on(self, weekday: int) -> bool:
        return any(day.iso_index == weekday for day in self.weekdays)
