"""The notifier: the events of a batch of stream records -> one delivery per (event, user,
channel) the user wants, on the notification queue. It only reads and queues: sending, and
waiting on a channel, is the sender's (so an outage of Telegram delays nobody's stream).

Per invocation: one batched read of the users' preferences (plus, for the platform-wide kill
switch, every user's), one batched read of the strategies' names the messages show.

The same function reads the stack's alarm topic (SNS records): each CloudWatch alarm going into
ALARM or back to OK -> one delivery per admin who switched `platform_alarms` on and channel
(`alarms`; one query of GSI2's partition of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from shared_utils.clock import Clock
from shared_utils.notifications.alarms import AlarmEvent, alarm_event, is_alarm_record, render_alarm
from shared_utils.notifications.events import NotificationEvent, account_events, history_events
from shared_utils.notifications.models import PLATFORM_ALARM, Channel, Delivery, NotificationSettings
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
    def __init__(
        self,
        settings: NotificationSettingsStore,
        queue: NotificationQueue,
        clock: Clock,
        *,
        alarm_name_prefix: str = "",
    ) -> None:
        """`alarm_name_prefix`: left out of an alarm's name in its message (`{prefix}-`)."""
        self._settings = settings
        self._queue = queue
        self._clock = clock
        self._alarm_name_prefix = alarm_name_prefix

    def records(
        self, records: Iterable[dict[str, Any]], history_table: str, accounts_table: str
    ) -> NotifyReport:
        """Stream records of either table (a Lambda event source's batch), or the alarm topic's
        SNS records."""
        history, accounts, alarms = [], [], []
        for record in records:
            if is_alarm_record(record):
                alarms.append(record)
                continue
            table = table_of(record)
            if table == history_table:
                history.append(record)
            elif table == accounts_table:
                accounts.append(record)
            else:
                logger.warning("Stream record of an unknown table skipped", extra={"table": table})
        if alarms:  # an SNS invocation carries SNS records only
            return self.alarms(alarms)
        return self.changes(history, accounts)

    def alarms(self, records: Iterable[dict[str, Any]]) -> NotifyReport:
        """SNS records of the alarm topic -> one delivery per (transition, opted-in admin, channel);
        the dedupe key is the alarm's name, state and change time, so a message SNS delivers
        twice is sent once."""
        events = [event for record in records if (event := alarm_event(record, self._alarm_name_prefix))]
        if not events:
            return NotifyReport()
        admins = self._settings.alarm_subscribers()
        deliveries = [
            self._alarm_delivery(event, settings, channel, target)
            for event in events
            for settings in admins
            for channel, target in settings.alarm_targets().items()
        ]
        self._queue.send(deliveries)
        return NotifyReport(events=len(events), deliveries=len(deliveries))

    @staticmethod
    def _alarm_delivery(
        event: AlarmEvent, settings: NotificationSettings, channel: Channel, target: str
    ) -> Delivery:
        rendered = render_alarm(event)
        return Delivery(
            dedupe_key=f"{event.event_id}#{settings.user_id}#{channel.value}",
            user_id=settings.user_id,
            channel=channel,
            kind=PLATFORM_ALARM,
            target=target,
            settings_version=settings.version,
            subject=rendered.subject,
            text=rendered.text,
            event_at=event.at,
        )

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
