"""The versioned envelope every timer event carries in its EventBridge `detail`.

The tick (a UTC 0-second boundary) is the event's identity: a re-emitted tick gets a new
EventBridge id but the same tick, so handlers deduplicate on (detail-type, tick).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared_utils.clock import utc_iso
from shared_utils.events.catalog import ENVELOPE_VERSION, EVENT_SOURCE, DetailType
from shared_utils.timer.boundaries import is_boundary


class TimerEnvelope(BaseModel):
    """`detail` of a timer event. `window_start`/`window_end` bound the data the handler looks at:
    the trigger's lookahead `[tick, tick + 5 min)`, the duplicate check's lookback
    `[tick - 5 min, tick)`; other events carry `[tick, tick + 1 min)`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    tick: AwareDatetime
    trade_date: date
    phase: str = Field(min_length=1)
    priority: int = Field(ge=1, le=10)
    window_start: AwareDatetime
    window_end: AwareDatetime

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != ENVELOPE_VERSION:
            raise ValueError(
                f"unsupported envelope version {value!r}; this consumer reads {ENVELOPE_VERSION!r}"
            )
        return value

    @field_validator("tick")
    @classmethod
    def _on_boundary(cls, value: datetime) -> datetime:
        if not is_boundary(value):
            raise ValueError("tick must be a 0-second boundary")
        return value

    def tick_iso(self) -> str:
        return utc_iso(self.tick)


class TimerEvent(BaseModel):
    """One event to publish: a detail-type and its envelope."""

    model_config = ConfigDict(frozen=True)

    detail_type: DetailType
    envelope: TimerEnvelope

    def to_entry(self, bus_name: str) -> dict[str, Any]:
        """A `PutEvents` entry; `Time` is the tick, so the event's time is the minute it stands for."""
        return {
            "Source": EVENT_SOURCE,
            "DetailType": self.detail_type.value,
            "Detail": json.dumps(self.envelope.model_dump(mode="json"), separators=(",", ":")),
            "EventBusName": bus_name,
            "Time": self.envelope.tick,
            "Resources": [],
        }


class TimerEventBridgeModel(EventBridgeModel):
    """An incoming timer event as EventBridge delivers it to a handler Lambda."""

    detail: TimerEnvelope
