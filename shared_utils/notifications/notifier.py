"""The notifier: the events of a batch of stream records -> one delivery per (event, user,
channel) the user wants, on the notification queue. It only reads and queues: sending, and
waiting on a channel, is the sender's (so an outage of Telegram delays nobody's stream).

Per invocation: one batched read of the users' preferences (plus, for the platform-wide kill
switch, every user's), one batched read of the strategies' names the messages show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from shared_utils.clock import Clock
from shared_utils.notifications.events import NotificationEvent, account_events, history_events
from shared_utils.notifications.models import Delivery, NotificationSettings
from shared_utils.notifications.queue import NotificationQueue
from shared_utils.notifications.settings_store import NotificationSettingsStore
from shared_utils.notifications.texts import render

logger = Logger(child=True)


class NotifyReport(BaseModel):
    events: int = 0
    deliveries: int = 0


def table_of(record: dict[str, Any]) -> str:
    """The table a stream record came from (`arn:aws:dynamodb:...:table/{name}/stream/{label}`)."""
    return str(record.get("eventSourceARN", "")).partition(":table/")[2].partition("/")[0]


class Notifier:
    def __init__(self, settings: NotificationSettingsStore, queue: NotificationQueue, clock: Clock) -> None:
        self._settings = settings
        self._queue = queue
        self._clock = clock

    def records(
        self, records: Iterable[dict[str, Any]], history_table: str, accounts_table: str
    ) -> NotifyReport:
        """Stream records of either table (a Lambda event source's batch)."""
        history, accounts = [], []
        for record in records:
            table = table_of(record)
            if table == history_table:
                history.append(record)
            elif table == accounts_table:
                accounts.append(record)
            else:
                logger.warning("Stream record of an unknown table skipped", extra={"table": table})
        return self.changes(history, accounts)

    def changes(self, history: Iterable[dict[str, Any]], accounts: Iterable[dict[str, Any]]) -> NotifyReport:
        now = self._clock.now()
        events = [event for record in history for event in history_events(record, now)]
        events += [event for record in accounts for event in account_events(record, now)]
        return self.notify(events)

    def notify(self, events: Sequence[NotificationEvent]) -> NotifyReport:
        if not events:
            return NotifyReport()
        users = self._settings.many(event.user_id for event in events if event.user_id)
        everyone = self._settings.everyone() if any(event.user_id is None for event in events) else []
        addressed: list[tuple[NotificationEvent, NotificationSettings]] = []
        for event in events:
            audience = [users[event.user_id]] if event.user_id else everyone
            addressed += [(event, settings) for settings in audience if settings.targets(event.kind)]
        names = self._settings.strategy_names(
            (settings.user_id, event.strategy_id) for event, settings in addressed if event.strategy_id
        )
        deliveries = []
        for event, settings in addressed:
            rendered = render(event, names.get((settings.user_id, event.strategy_id or "")))
            for channel, target in settings.targets(event.kind).items():
                deliveries.append(
                    Delivery(
                        dedupe_key=f"{event.event_id}#{settings.user_id}#{channel.value}",
                        user_id=settings.user_id,
                        channel=channel,
                        kind=event.kind,
                        target=target,
                        settings_version=settings.version,
                        subject=rendered.subject,
                        text=rendered.text,
                        event_at=event.at,
                    )
                )
        self._queue.send(deliveries)
        return NotifyReport(events=len(events), deliveries=len(deliveries))
