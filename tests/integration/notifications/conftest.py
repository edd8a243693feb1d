"""Notifications against moto with the tables' streams on: the real engine's writes (or the
stores') become stream records, read by the local platform's stream tap, handed to the notifier;
its deliveries wait in the local notification queue (on the test's clock) for the real
`notification_sender` handler, which sends Telegram messages to a stub Bot API on loopback and
keeps e-mail in an outbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from local_platform.feed import StreamTap
from local_platform.inprocess_dynamodb import SerializedClient
from local_platform.notifications import LocalNotificationQueue, MemoryOutbox
from shared_utils import keys
from shared_utils.clock import FixedClock
from shared_utils.composition import Platform, install
from shared_utils.execution.engine import ExecutionEngine
from shared_utils.execution.models import ExecutionRecord
from shared_utils.execution.planning import plan_entry
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.items import serialize
from shared_utils.notifications.models import NotificationSettingsUpdate
from shared_utils.notifications.notifier import NotifyReport
from shared_utils.tables import BROKER_ACCOUNTS, EXECUTION_HISTORY
from tests.conftest import TEST_REGION
from tests.integration.execution.conftest import Brokers
from tests.integration.notifications.telegram_stub import TelegramStub
from tests.unit.execution.builders import NOW, allocation, iron_condor

BOT_TOKEN = "7012345678:AAF3xQ9v2Lr8TnW5cYk1ZbH0dJgE4sUoPqM"
CHAT_ID = "512345678"
ADDRESS = "trader@ql-trading-desk.in"


@pytest.fixture
def telegram() -> Iterator[TelegramStub]:
    stub = TelegramStub()
    yield stub
    stub.close()


@dataclass
class Notifications:
    root: Platform
    clock: FixedClock
    queue: LocalNotificationQueue
    outbox: MemoryOutbox
    history: StreamTap
    accounts: StreamTap
    dynamodb: Any

    def subscribe(self, user: str = "user-a", *, admin: bool = False, **changes: Any) -> None:
        """Telegram and e-mail on, the default events (or `changes`); `admin`: in the Admins group."""
        body: dict[str, Any] = {
            "version": self.root.notification_settings.get(user).version,
            "telegram": {"chat_id": CHAT_ID, "bot_token": BOT_TOKEN},
            "email": {"address": ADDRESS},
            **changes,
        }
        self.root.notification_settings.put(
            user, NotificationSettingsUpdate.model_validate(body), is_admin=admin
        )

    def records(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The stream records written since the last read (both tables)."""
        return self.history.read(), self.accounts.read()

    def notify(
        self, history: list[dict[str, Any]], accounts: list[dict[str, Any]] | None = None
    ) -> NotifyReport:
        return self.root.notifier.changes(history, accounts or [])

    def deliver(self) -> int:
        return self.queue.deliver_due()

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def name_strategy(self, name: str, user: str = "user-a", strategy_id: str = "strat-1") -> None:
        self.dynamodb.put_item(
            TableName=self.root.settings.trading_table_name,
            Item=serialize(
                {
                    "pk": keys.user_pk(user),
                    "sk": keys.strategy_sk(strategy_id),
                    "entity": "STRATEGY",
                    "user_id": user,
                    "strategy_id": strategy_id,
                    "name": name,
                }
            ),
        )

    def enter(self, lots: int = 1) -> ExecutionRecord:
        """An iron condor's entry (`strat-1` of `user-a`) through the real engine on a paper broker."""
        from tests.unit.execution.builders import market

        sim = market(self.clock)
        brokers = Brokers(self.clock, sim.price)
        brokers.paper("acct-1")
        store = ExecutionStore(SerializedClient(self.dynamodb), self.root.settings.history_table_name)
        plan = plan_entry(
            iron_condor(), [allocation("acct-1", lots)], NOW.date(), sim, TradingCalendar.default()
        )
        return ExecutionEngine(store, brokers, self.clock).run(plan)

    def emails(self) -> list[Any]:
        return [message for message in self.outbox.messages if message.channel == "EMAIL"]


@pytest.fixture
def notifications(aws: dict[str, Any], telegram: TelegramStub) -> Iterator[Notifications]:
    client = aws["dynamodb"]
    settings = aws["settings"].model_copy(update={"telegram_api_url": telegram.url})
    for definition, name in (
        (EXECUTION_HISTORY, settings.history_table_name),
        (BROKER_ACCOUNTS, settings.broker_accounts_table_name),
    ):
        client.update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": definition.stream_view_type},
        )
    clock = FixedClock(NOW)
    queue = LocalNotificationQueue(now=lambda: clock.now().timestamp())
    outbox = MemoryOutbox(clock)
    root = Platform(
        settings,
        clock,
        dynamodb=client,
        one_process=True,
        notification_queue=queue,
        notification_outbox=outbox,
    )
    previous = install(root)
    yield Notifications(
        root,
        clock,
        queue,
        outbox,
        StreamTap(settings.history_table_name, TEST_REGION),
        StreamTap(settings.broker_accounts_table_name, TEST_REGION),
        client,
    )
    install(previous)
