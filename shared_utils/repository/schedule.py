"""The schedule entries the timer reads: every entry or exit due in a window, across all users."""

from __future__ import annotations

from datetime import datetime

from shared_utils import keys
from shared_utils.clock import to_ist
from shared_utils.models.items import ScheduleItem
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.repository.schedule_window import DueWindow
from shared_utils.repository.trading_table import TradingTable
from shared_utils.tables import USER_EXECUTION_SCHEDULE


class ScheduleStore(TradingTable):
    def due_schedule_entries(self, start: datetime, end: datetime) -> list[ScheduleEntry]:
        """Entries due in [start, end): one GSI2 `between` query per shard (two if the window
        crosses UTC midnight), plus pages; entries not firing on the IST weekday are dropped."""
        window = DueWindow.of(start, end)
        if window is None:
            return []
        due: list[ScheduleEntry] = []
        for shard in range(self._shards):
            for first, last in window.hhmm_ranges():
                low, high = keys.schedule_gsi2sk_bounds(first, last)
                for raw in self._query_all(
                    IndexName=USER_EXECUTION_SCHEDULE,
                    KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :low AND :high",
                    ExpressionAttributeValues={
                        ":pk": {"S": keys.schedule_gsi2pk(shard)},
                        ":low": {"S": low},
                        ":high": {"S": high},
                    },
                ):
                    item = ScheduleItem.from_dynamo(raw)
                    due_at = window.due_at(item.at_utc)
                    if due_at is not None and item.to_domain().fires_on(to_ist(due_at).weekday()):
                        due.append(item.to_domain(due_at))
        due.sort(key=lambda entry: (entry.due_at, entry.kind.value, entry.user_id, entry.strategy_id))
        return due
