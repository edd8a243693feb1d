"""Platform alarms for admins: the alarm topic's SNS message through the notifier (its audience
read from GSI2's partition of the opted-in admins, on moto) and the real sender, to the stub
Telegram Bot API and the e-mail outbox: once per admin and channel, however often SNS delivers it."""

from __future__ import annotations

import pytest

from shared_utils.errors import ForbiddenError
from shared_utils.notifications.models import NotificationSettingsUpdate
from tests.events import alarm_event
from tests.integration.notifications.conftest import ADDRESS, CHAT_ID, Notifications
from tests.integration.notifications.telegram_stub import TelegramStub

TEXT = (
    "ALARM calendar-coverage: Threshold Crossed: 1 datapoint [25.0 (25/11/26 04:30:00)] was less than "
    "the threshold (30.0). (since 10:05 IST)"
)


def test_an_alarm_reaches_the_opted_in_admin_once_and_nobody_else(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe("admin-1", admin=True, platform_alarms=True)
    notifications.subscribe("admin-2", admin=True)  # an admin who did not opt in
    notifications.subscribe("user-a")  # a trader

    first = notifications.root.notify_records(alarm_event()["Records"])
    again = notifications.root.notify_records(alarm_event()["Records"])  # SNS delivered it twice
    notifications.deliver()

    assert first.deliveries == again.deliveries == 2
    assert [(call.chat_id, call.text) for call in telegram.delivered] == [(CHAT_ID, TEXT)]
    assert [(m.target, m.subject, m.text) for m in notifications.emails()] == [
        (ADDRESS, "ALARM calendar-coverage", TEXT)
    ]


def test_an_admin_who_switches_alarms_off_leaves_the_audience(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe("admin-1", admin=True, platform_alarms=True)
    notifications.subscribe("admin-1", admin=True, platform_alarms=False)

    assert notifications.root.notify_records(alarm_event()["Records"]).deliveries == 0
    assert notifications.root.notification_settings_store.alarm_subscribers() == []


def test_a_trader_cannot_switch_platform_alarms_on(notifications: Notifications) -> None:
    update = NotificationSettingsUpdate(version=0, platform_alarms=True)
    with pytest.raises(ForbiddenError) as refused:
        notifications.root.notification_settings.put("user-a", update)
    assert [issue.field for issue in refused.value.details] == ["platform_alarms"]
    assert notifications.root.notification_settings_store.alarm_subscribers() == []
