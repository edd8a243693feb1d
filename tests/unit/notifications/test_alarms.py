"""What an admin reads when a platform alarm changes state: the alarm topic's SNS message -> one
delivery per opted-in admin and channel, a short text, a dedupe key that SNS's copies share."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared_utils.clock import FixedClock
from shared_utils.notifications.models import (
    PLATFORM_ALARM,
    Channel,
    ChannelError,
    Delivery,
    EmailSettings,
    NotificationSettings,
    TelegramSettings,
)
from shared_utils.notifications.notifier import Notifier
from tests.events import alarm_event

NOW = datetime(2026, 11, 25, 4, 36, tzinfo=UTC)
PREFIX = "ql-algo-trading-test-"
HISTORY, ACCOUNTS = "history", "accounts"


class Audience:
    """The settings store's alarm audience (every stored admin it is handed, opted in or not)."""

    def __init__(self, *settings: NotificationSettings) -> None:
        self.settings = list(settings)

    def alarm_subscribers(self) -> list[NotificationSettings]:
        return self.settings


class Queue:
    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    def send(self, deliveries: Any) -> None:
        self.sent.extend(deliveries)


def admin(user: str, *, opted_in: bool = True, telegram_error: bool = False) -> NotificationSettings:
    return NotificationSettings(
        user_id=user,
        version=3,
        telegram=TelegramSettings(
            enabled=True,
            chat_id="512345678",
            bot_token_set=True,
            error=ChannelError(status=403, description="blocked", at=NOW) if telegram_error else None,
        ),
        email=EmailSettings(enabled=True, address=f"{user}@ql-trading-desk.in"),
        events=[],  # the traders' events have nothing to do with alarms
        platform_alarms=opted_in,
    )


def notify(event: dict[str, Any], *settings: NotificationSettings) -> list[Delivery]:
    queue = Queue()
    notifier = Notifier(Audience(*settings), queue, FixedClock(NOW), alarm_name_prefix=PREFIX)  # type: ignore[arg-type]
    notifier.records(event["Records"], HISTORY, ACCOUNTS)
    return queue.sent


def test_an_alarm_reaches_each_channel_of_an_opted_in_admin_in_one_short_line() -> None:
    deliveries = notify(alarm_event(), admin("admin-1"))

    assert {(d.user_id, d.channel, d.target) for d in deliveries} == {
        ("admin-1", Channel.TELEGRAM, "512345678"),
        ("admin-1", Channel.EMAIL, "admin-1@ql-trading-desk.in"),
    }
    for delivery in deliveries:
        assert delivery.kind == PLATFORM_ALARM and delivery.settings_version == 3
        assert delivery.subject == "ALARM calendar-coverage"
        assert delivery.text == (
            "ALARM calendar-coverage: Threshold Crossed: 1 datapoint [25.0 (25/11/26 04:30:00)] was less "
            "than the threshold (30.0). (since 10:05 IST)"
        )
        assert delivery.event_at == datetime(2026, 11, 25, 4, 35, 12, 345000, tzinfo=UTC)
    # The Delivery survives the queue's JSON.
    assert Delivery.model_validate_json(deliveries[0].model_dump_json()) == deliveries[0]


def test_the_same_message_delivered_twice_gives_the_same_dedupe_keys_and_a_new_state_new_ones() -> None:
    first = notify(alarm_event(), admin("admin-1"))
    again = notify(alarm_event(), admin("admin-1"))
    back_to_ok = notify(
        alarm_event(
            NewStateValue="OK",
            OldStateValue="ALARM",
            NewStateReason="Threshold Crossed: 1 datapoint [395.0] was not less than the threshold (30.0).",
            StateChangeTime="2026-12-01T04:50:00.000+0000",
        ),
        admin("admin-1"),
    )

    assert [d.dedupe_key for d in first] == [d.dedupe_key for d in again]
    assert all(d.dedupe_key.endswith(f"#admin-1#{d.channel.value}") for d in first)
    assert not {d.dedupe_key for d in first} & {d.dedupe_key for d in back_to_ok}
    assert back_to_ok[0].text == (
        "OK calendar-coverage: Threshold Crossed: 1 datapoint [395.0] was not less than the threshold "
        "(30.0). (since 10:20 IST)"
    )


def test_admins_who_did_not_opt_in_get_nothing_and_a_broken_channel_is_skipped() -> None:
    deliveries = notify(
        alarm_event(), admin("admin-1", opted_in=False), admin("admin-2", telegram_error=True)
    )

    assert [(d.user_id, d.channel) for d in deliveries] == [("admin-2", Channel.EMAIL)]


def test_insufficient_data_and_unreadable_messages_say_nothing() -> None:
    assert notify(alarm_event(NewStateValue="INSUFFICIENT_DATA"), admin("admin-1")) == []
    unreadable = alarm_event()
    unreadable["Records"][0]["Sns"]["Message"] = json.dumps({"Event": "autoscaling:TEST_NOTIFICATION"})
    assert notify(unreadable, admin("admin-1")) == []


def test_a_long_reason_is_cut_short() -> None:
    (delivery, _) = notify(alarm_event(NewStateReason="x" * 1000), admin("admin-1"))
    assert len(delivery.text) < 360 and delivery.text.endswith("… (since 10:05 IST)")
