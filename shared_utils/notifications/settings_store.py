"""Notification preferences in the trading-configurations table (`USER#{user}` /
`NOTIFICATION_SETTINGS`, versioned like every mutable item), and the strategies' names the
messages show.

The sender touches one attribute of the item only, `channel_errors` (its IAM policy says so):
recording an error is conditional on the version the delivery was addressed with, so an error
never lands on preferences the user has changed since.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.errors import ConflictError
from shared_utils.models.items import deserialize, serialize
from shared_utils.notifications.models import (
    Channel,
    ChannelError,
    NotificationSettings,
    NotificationSettingsItem,
)
from shared_utils.repository.dynamo import CHANGED, DynamoTable, condition_lost
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY, USER_EXECUTION_SCHEDULE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ERRORS_ATTRIBUTE = "channel_errors"


class NotificationSettingsStore(DynamoTable):
    def __init__(self, client: DynamoDBClient, table_name: str, clock: Clock) -> None:
        super().__init__(client, table_name)
        self._clock = clock

    def get(self, user_id: str) -> NotificationSettings:
        """The user's preferences; version 0 and the defaults when never set."""
        raw = self._get(keys.user_pk(user_id), keys.NOTIFICATION_SETTINGS_SK)
        return (
            NotificationSettingsItem.from_dynamo(raw).to_domain()
            if raw
            else NotificationSettings(user_id=user_id)
        )

    def many(self, user_ids: Iterable[str]) -> dict[str, NotificationSettings]:
        """Several users' preferences in batched reads of 100 keys (defaults for those without)."""
        users = list(dict.fromkeys(user_ids))
        found = {user: NotificationSettings(user_id=user) for user in users}
        item_keys = [self._key(keys.user_pk(user), keys.NOTIFICATION_SETTINGS_SK) for user in users]
        for raw in self._batch_get(item_keys) if item_keys else []:
            settings = NotificationSettingsItem.from_dynamo(raw).to_domain()
            found[settings.user_id] = settings
        return found

    def everyone(self) -> list[NotificationSettings]:
        """Every user's stored preferences (GSI1's one partition of them): the platform-wide kill
        switch's audience. Users who never set any have no channel to send to."""
        items = self._query_all(
            IndexName=ALLOCATIONS_BY_STRATEGY,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.NOTIFICATION_SETTINGS_GSI1PK}},
        )
        return [NotificationSettingsItem.from_dynamo(raw).to_domain() for raw in items]

    def alarm_subscribers(self) -> list[NotificationSettings]:
        """The admins who switched `platform_alarms` on (GSI2's sparse partition of them): the
        platform alarms' audience, without a scan."""
        items = self._query_all(
            IndexName=USER_EXECUTION_SCHEDULE,
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.PLATFORM_ALARMS_GSI2PK}},
        )
        return [NotificationSettingsItem.from_dynamo(raw).to_domain() for raw in items]

    def put(self, settings: NotificationSettings, expected_version: int) -> None:
        """Store `settings` if the stored version is `expected_version` (0: none stored yet)."""
        if expected_version == 0:
            condition: dict[str, object] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        self._put_if(
            NotificationSettingsItem.from_domain(settings).to_dynamo(),
            lambda: ConflictError(f"notification settings {CHANGED}"),
            **condition,
        )

    def record_error(self, user_id: str, channel: Channel, version: int, error: ChannelError) -> bool:
        """Mark `channel` broken on the preferences of `version`; False when they have changed
        since (the user may have fixed what broke it) or are gone."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.NOTIFICATION_SETTINGS_SK),
                UpdateExpression="SET #errors.#channel = :error",
                ConditionExpression="version = :version",
                ExpressionAttributeNames={"#errors": ERRORS_ATTRIBUTE, "#channel": channel.value},
                ExpressionAttributeValues={
                    ":error": serialize({"e": error})["e"],
                    ":version": {"N": str(version)},
                },
            )
        except ClientError as failure:
            if condition_lost(failure):
                return False
            raise
        return True

    def clear_error(self, user_id: str, channel: Channel) -> None:
        """A message got through: the channel works again (nothing written if it had no error)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.NOTIFICATION_SETTINGS_SK),
                UpdateExpression="REMOVE #errors.#channel",
                ConditionExpression="attribute_exists(#errors.#channel)",
                ExpressionAttributeNames={"#errors": ERRORS_ATTRIBUTE, "#channel": channel.value},
            )
        except ClientError as failure:
            if not condition_lost(failure):
                raise

    def strategy_names(self, strategies: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The names of (user, strategy) pairs, batched; a strategy not under that user (a
        marketplace subscriber's run of a published one) or gone is left out."""
        wanted = list(dict.fromkeys(strategies))
        item_keys = [self._key(keys.user_pk(user), keys.strategy_sk(strategy)) for user, strategy in wanted]
        names: dict[tuple[str, str], str] = {}
        for raw in self._batch_get(item_keys) if item_keys else []:
            data = deserialize(raw)
            names[(str(data["user_id"]), str(data["strategy_id"]))] = str(data.get("name", ""))
        return names
