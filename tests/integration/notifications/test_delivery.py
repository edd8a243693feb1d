"""The issue's acceptance: real stream records through the notifier and the sender to a stub
Telegram Bot API on loopback: one message per event and channel however often the notifier reads
the same records, an outage retried with back-off (Telegram's `retry_after` honoured), a refusal
recorded on the user's settings and not retried, preferences deciding what goes where, and the
trading path never waiting for any of it."""

from __future__ import annotations

import re

from shared_utils import keys
from shared_utils.execution.models import ExecutionStatus, KillSwitchState, KillSwitchView
from shared_utils.models.broker_account import AccountState, BrokerAccount
from shared_utils.models.items import serialize
from shared_utils.notifications.marks import CLAIM_LEASE, DeliveryMarks
from shared_utils.notifications.models import Channel
from shared_utils.notifications.sender import MAX_RECEIVES
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from tests.integration.notifications.conftest import BOT_TOKEN, CHAT_ID, Notifications
from tests.integration.notifications.telegram_stub import TelegramStub, failure

LEG_LINE = re.compile(r"^L[1-4] (BUY|SELL) 65 NIFTY 1 Dec \d+ (CE|PE) @ \d+\.\d\d$")


def test_a_fill_reaches_each_channel_once_even_when_the_notifier_reads_its_records_twice(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe()
    notifications.name_strategy("NIFTY condor")
    assert notifications.enter().status is ExecutionStatus.COMPLETE
    history, accounts = notifications.records()

    first = notifications.notify(history, accounts)
    again = notifications.notify(history, accounts)  # the stream's retry of the same batch

    assert (first.events, first.deliveries) == (again.events, again.deliveries) == (1, 2)
    assert notifications.deliver() == 4  # two copies for each channel
    (message,) = telegram.delivered
    assert (message.token, message.chat_id) == (BOT_TOKEN, CHAT_ID)
    lines = message.text.splitlines()
    assert lines[0] == "NIFTY condor: entry filled at 09:30 IST"
    assert len(lines) == 5 and all(LEG_LINE.match(line) for line in lines[1:]), lines
    (email,) = notifications.emails()
    assert (email.subject, email.text) == ("NIFTY condor: entry filled", message.text)
    assert notifications.queue.waiting == 0 and notifications.queue.dead_letters == []


def test_a_telegram_outage_is_retried_with_back_off_and_delivered_once(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(email=None)
    notifications.enter()
    notifications.notify(*notifications.records())
    telegram.script = [failure(500, "Internal Server Error"), failure(502, "Bad Gateway")]

    notifications.deliver()
    assert notifications.queue.delays == [10] and telegram.delivered == []
    notifications.advance(9)
    assert notifications.deliver() == 0  # not before its back-off
    notifications.advance(1)
    notifications.deliver()
    assert notifications.queue.delays == [10, 20]  # exponential
    notifications.advance(20)
    notifications.deliver()

    assert [call.status for call in telegram.calls] == [500, 502, 200]
    assert len(telegram.delivered) == 1 and notifications.queue.waiting == 0


def test_telegrams_retry_after_is_honoured(notifications: Notifications, telegram: TelegramStub) -> None:
    notifications.subscribe(email=None)
    notifications.enter()
    notifications.notify(*notifications.records())
    telegram.script = [failure(429, "Too Many Requests: retry after 37", retry_after=37)]

    notifications.deliver()
    assert notifications.queue.delays == [37]
    notifications.advance(36)
    assert notifications.deliver() == 0
    notifications.advance(1)
    notifications.deliver()

    assert [call.status for call in telegram.calls] == [429, 200]


def test_a_delivery_failing_past_its_last_receive_is_dead_lettered_not_resent_forever(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(email=None)
    notifications.enter()
    notifications.notify(*notifications.records())
    telegram.script = [failure(503, "Service Unavailable")] * MAX_RECEIVES

    for _receive in range(MAX_RECEIVES):
        notifications.deliver()
        notifications.advance(900)

    assert len(telegram.calls) == MAX_RECEIVES and telegram.delivered == []
    (dead,) = notifications.queue.dead_letters
    assert dead.channel is Channel.TELEGRAM and notifications.queue.waiting == 0
    # Doubling from 10 s, at most 15 minutes: about 36 minutes of trying in all.
    assert notifications.queue.delays == [10, 20, 40, 80, 160, 320, 640, 900]


def test_a_blocked_bot_is_recorded_as_the_channels_error_and_gets_nothing_more_until_a_test_passes(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe()
    notifications.enter()
    notifications.notify(*notifications.records())
    telegram.script = [failure(403, "Forbidden: bot was blocked by the user")]

    notifications.deliver()

    assert notifications.queue.waiting == 0 and notifications.queue.delays == []  # never retried
    error = notifications.root.notification_settings.get("user-a").telegram.error  # type: ignore[union-attr]
    assert error is not None and (error.status, error.description) == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    # The next event goes by e-mail only.
    switch = KillSwitchView(
        scope="USER", state=KillSwitchState.TRIGGERED, triggered_at=notifications.clock.now()
    )
    _put(notifications, keys.user_pk("user-a"), keys.KILL_SWITCH_SK, "KILL_SWITCH", switch.model_dump())
    report = notifications.notify(*notifications.records())
    assert report.deliveries == 1
    # A test message reaches the unblocked bot: the error is gone and Telegram is back.
    queued = notifications.root.notification_settings.test("user-a")
    assert queued.queued == [Channel.TELEGRAM, Channel.EMAIL]
    notifications.deliver()
    assert notifications.root.notification_settings.get("user-a").telegram.error is None  # type: ignore[union-attr]
    assert [call.status for call in telegram.calls] == [403, 200]
    assert telegram.delivered[0].text.startswith("Options platform: test message sent at 09:30 IST")


def test_preferences_decide_the_events_and_channels(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(
        events=["EXITS", "KILL_SWITCH"], email={"address": "a@ql-trading-desk.in", "enabled": False}
    )
    notifications.enter()
    assert notifications.notify(*notifications.records()).deliveries == 0  # fills: not asked for
    switch = KillSwitchView(
        scope="USER", state=KillSwitchState.TRIGGERED, triggered_at=notifications.clock.now()
    )
    _put(notifications, keys.user_pk("user-a"), keys.KILL_SWITCH_SK, "KILL_SWITCH", switch.model_dump())
    assert notifications.notify(*notifications.records()).deliveries == 1  # Telegram only: e-mail is off
    notifications.deliver()
    (message,) = telegram.delivered
    assert message.text == (
        "Kill switch pressed at 09:30 IST: no new entries; every open position is being squared off."
    )
    assert notifications.emails() == []


def test_the_platform_wide_kill_switch_reaches_every_user_who_asked_for_it(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe("user-a", email=None)
    notifications.subscribe("user-b", email=None, events=["FILLS"])
    notifications.subscribe("user-c", email=None)
    switch = KillSwitchView(
        scope="GLOBAL", state=KillSwitchState.TRIGGERED, triggered_at=notifications.clock.now()
    )
    _put(notifications, keys.GLOBAL_KILL_SWITCH_PK, keys.KILL_SWITCH_SK, "KILL_SWITCH", switch.model_dump())

    report = notifications.notify(*notifications.records())
    notifications.deliver()

    assert report.deliveries == 2  # user-b chose fills only
    assert {call.text.partition(" at ")[0] for call in telegram.delivered} == {
        "Platform-wide kill switch pressed"
    }


def test_an_account_needing_a_login_is_told_once_per_state_change(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(email=None)
    accounts = DynamoBrokerAccounts(
        notifications.dynamodb, notifications.root.settings.broker_accounts_table_name
    )
    account = BrokerAccount(user_id="user-a", broker_account_id="zerodha-main", broker="ZERODHA")
    accounts.put_account(account)
    accounts.set_state("user-a", "zerodha-main", AccountState.NEEDS_LOGIN)  # the morning's login failed
    history, changes = notifications.records()

    assert notifications.notify(history, changes).deliveries == 1
    assert notifications.notify(history, changes).deliveries == 1  # the same records again
    notifications.deliver()

    (message,) = telegram.delivered
    assert message.text == (
        "Broker login needed: zerodha-main (ZERODHA). No order goes to this account until you log in again."
    )


def test_a_copy_met_while_another_sender_holds_the_delivery_waits_for_its_lease(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(email=None)
    notifications.enter()
    report = notifications.notify(*notifications.records())
    assert report.deliveries == 1
    key = _only_key(notifications)
    # A sender that claimed it and died before answering (its lease runs on).
    DeliveryMarks(
        notifications.dynamodb, notifications.root.settings.idempotency_table_name, notifications.clock
    ).claim(key, "dead-sender")

    notifications.deliver()
    assert notifications.queue.delays == [int(CLAIM_LEASE.total_seconds()) + 1] and telegram.calls == []
    notifications.advance(CLAIM_LEASE.total_seconds() + 1)
    notifications.deliver()

    assert len(telegram.delivered) == 1  # sent once the dead sender's lease ran out


def test_the_trading_path_never_waits_for_a_telegram_outage(
    notifications: Notifications, telegram: TelegramStub
) -> None:
    notifications.subscribe(email=None)
    telegram.script = [failure(500, "Internal Server Error")] * 3

    record = notifications.enter()

    # The entry completed with nothing sent or queued: notifications start from what it stored.
    assert record.status is ExecutionStatus.COMPLETE
    assert telegram.calls == [] and notifications.queue.waiting == 0
    notifications.notify(*notifications.records())
    notifications.deliver()
    assert notifications.queue.delays == [10]


def _put(notifications: Notifications, pk: str, sk: str, entity: str, data: dict) -> None:  # type: ignore[type-arg]
    notifications.dynamodb.put_item(
        TableName=notifications.root.settings.history_table_name,
        Item=serialize({"pk": pk, "sk": sk, "entity": entity, **data}),
    )


def _only_key(notifications: Notifications) -> str:
    (delivery,) = notifications.queue.queued()
    return delivery.dedupe_key
