"""The trigger's read side over the data layer: due entries (GSI2, every shard) and each
strategy's status (a paused one enters nothing but keeps its exits; a deleted one is gone)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared_utils.models.common import StrategyStatus
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.repository.ports import TradingRepository


class RepositorySchedule:
    def __init__(self, repository: TradingRepository) -> None:
        self._repository = repository

    def due_schedule_entries(self, start: datetime, end: datetime) -> list[ScheduleEntry]:
        return self._repository.due_schedule_entries(start, end)

    def statuses_of(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StrategyStatus]:
        """Batch reads (100 strategies per request); a deleted strategy is left out."""
        return {pair: strategy.status for pair, strategy in self._repository.get_strategies(wanted).items()}
