"""A due schedule entry handed to the execution side: the timer's trigger builds these, and
the executions requester (the run queue, with a listed basket's subscribers) carries them out.

The contract lives with its implementations so that the timer depends on execution, not the
reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared_utils.keys import ScheduleKind


class ExecutionRequest(BaseModel):
    """What the execution engine receives for one due schedule entry."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    basket_id: str
    action: ScheduleKind
    scheduled_at: AwareDatetime
    trade_date: date
    strategy_version: int
    tick: AwareDatetime


class ExecutionRequester(Protocol):
    def request_executions(self, requests: Sequence[ExecutionRequest]) -> None:
        """Hand every request over, or raise."""
        ...
