"""Webhooks, their token lookups and their signals in the trading-configurations table (keys in
`shared_utils.keys`), on the DynamoDB toolkit.

- A webhook and its token lookup (a copy of it, keyed by the token's hash) are written in one
  transaction; rotation updates the webhook (conditional on its version), deletes the old lookup
  and puts the new one in one transaction, so exactly one token answers at any time.
- The public endpoint writes only in the webhook's own partition: the minute's request count (one
  atomic ADD), the replay mark (a conditional put: absent, or expired, since TTL deletes late)
  and the signal's record. Reads leave out what has expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, Field

from shared_utils import keys
from shared_utils.errors import NotFoundError
from shared_utils.models.items import StoredItem, serialize
from shared_utils.models.signals import SignalAction
from shared_utils.repository.dynamo import DynamoTable, condition_lost
from shared_utils.signals.models import SignalRecord, Webhook, WebhookFormat

# A minute's counter outlives its minute a little (TTL deletes late anyway; reads never need it).
RATE_ITEM_TTL = timedelta(minutes=2)


@dataclass(frozen=True)
class Endpoint:
    """What a request's token finds: the webhook, and the hash its shared secret must match."""

    webhook: Webhook
    secret_hash: str | None


class WebhookItem(StoredItem):
    entity: ClassVar[str] = "WEBHOOK"
    webhook_id: str
    user_id: str
    strategy_id: str
    action: SignalAction
    leg_no: int | None = None
    format: WebhookFormat
    label: str | None = None
    secret_hash: str | None = None
    secret_field: str | None = None
    signal_id_field: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    rate_limit_per_minute: int
    token_hash: str
    token_hint: str
    version: int
    created_at: AwareDatetime
    rotated_at: AwareDatetime | None = None

    @classmethod
    def of(cls, webhook: Webhook, *, secret_hash: str | None, token_hash: str) -> WebhookItem:
        return cls(
            pk=keys.user_pk(webhook.user_id),
            sk=keys.webhook_sk(webhook.webhook_id),
            secret_hash=secret_hash,
            token_hash=token_hash,
            **{name: getattr(webhook, name) for name in Webhook.model_fields if name != "secret_set"},
        )

    def lookup(self) -> WebhookTokenItem:
        """The copy a request's token finds."""
        return WebhookTokenItem(
            **{**self.model_dump(), "pk": keys.webhook_token_pk(self.token_hash), "sk": keys.WEBHOOK_TOKEN_SK}
        )

    def to_view(self) -> Webhook:
        fields = {name: getattr(self, name) for name in Webhook.model_fields if name != "secret_set"}
        return Webhook(**fields, secret_set=self.secret_hash is not None)

    def to_endpoint(self) -> Endpoint:
        return Endpoint(webhook=self.to_view(), secret_hash=self.secret_hash)


class WebhookTokenItem(WebhookItem):
    entity: ClassVar[str] = "WEBHOOK_TOKEN"


class SignalItem(StoredItem):
    entity: ClassVar[str] = "WEBHOOK_SIGNAL"
    record: SignalRecord
    expires_at: int  # epoch seconds: the table's TTL


class WebhookStore(Protocol):
    """The port the webhook service and the public endpoint use (`DynamoWebhookStore`)."""

    def create(self, webhook: Webhook, *, secret_hash: str | None, token_hash: str) -> None: ...
    def get(self, user_id: str, webhook_id: str) -> Webhook | None: ...
    def page(
        self, user_id: str, *, limit: int, next_token: str | None
    ) -> tuple[list[Webhook], str | None]: ...
    def rotate(
        self, user_id: str, webhook_id: str, *, token_hash: str, token_hint: str, now: datetime
    ) -> Webhook: ...
    def delete(self, user_id: str, webhook_id: str) -> None: ...
    def by_token(self, token_hash: str) -> Endpoint | None: ...
    def count_request(self, webhook_id: str, now: datetime) -> int: ...
    def claim_signal(self, webhook_id: str, signal_key: str, now: datetime, window: timedelta) -> bool: ...
    def release_signal(self, webhook_id: str, signal_key: str) -> None: ...
    def record(self, record: SignalRecord, expires_at: datetime) -> None: ...
    def signals(
        self, webhook_id: str, now: datetime, *, limit: int, next_token: str | None
    ) -> tuple[list[SignalRecord], str | None]: ...


class DynamoWebhookStore(DynamoTable):
    # ------------------------------------------------------------------ the owner's webhooks

    def create(self, webhook: Webhook, *, secret_hash: str | None, token_hash: str) -> None:
        item = WebhookItem.of(webhook, secret_hash=secret_hash, token_hash=token_hash)
        self._transact([self._put_op(item, new=True), self._put_op(item.lookup(), new=True)])

    def get(self, user_id: str, webhook_id: str) -> Webhook | None:
        item = self._item(user_id, webhook_id)
        return item.to_view() if item is not None else None

    def page(self, user_id: str, *, limit: int, next_token: str | None) -> tuple[list[Webhook], str | None]:
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.WEBHOOK_PREFIX},
            },
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"webhooks:{user_id}"
        )
        return [WebhookItem.from_dynamo(raw).to_view() for raw in items], token

    def rotate(
        self, user_id: str, webhook_id: str, *, token_hash: str, token_hint: str, now: datetime
    ) -> Webhook:
        """The webhook with its new token: the old one's lookup is gone in the same transaction."""
        current = self._existing(user_id, webhook_id)
        rotated = current.model_copy(
            update={
                "token_hash": token_hash,
                "token_hint": token_hint,
                "rotated_at": now,
                "version": current.version + 1,
            }
        )
        self._transact(
            [
                self._replace_op(rotated, current.version),
                self._delete_op(current.lookup()),
                self._put_op(rotated.lookup(), new=True),
            ]
        )
        return rotated.to_view()

    def delete(self, user_id: str, webhook_id: str) -> None:
        """The webhook and its token lookup, together (its signals expire with their TTL)."""
        current = self._existing(user_id, webhook_id)
        self._transact([self._delete_op(current, version=current.version), self._delete_op(current.lookup())])

    # ------------------------------------------------------------------ the public endpoint

    def by_token(self, token_hash: str) -> Endpoint | None:
        raw = self._get(keys.webhook_token_pk(token_hash), keys.WEBHOOK_TOKEN_SK)
        return WebhookTokenItem.from_dynamo(raw).to_endpoint() if raw is not None else None

    def count_request(self, webhook_id: str, now: datetime) -> int:
        """This minute's requests on the webhook, this one included (one atomic ADD)."""
        minute = now.replace(second=0, microsecond=0)
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.webhook_pk(webhook_id), keys.webhook_rate_sk(minute)),
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":expires": {"N": str(int((minute + RATE_ITEM_TTL).timestamp()))},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"])

    def claim_signal(self, webhook_id: str, signal_key: str, now: datetime, window: timedelta) -> bool:
        """Mark the signal seen for `window`; False when it was seen within it (a replay)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(keys.webhook_pk(webhook_id), keys.webhook_replay_sk(signal_key)),
                    "expires_at": {"N": str(int((now + window).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            )
        except ClientError as error:
            if condition_lost(error):
                return False
            raise
        return True

    def release_signal(self, webhook_id: str, signal_key: str) -> None:
        """Forget a claimed signal that did not go through, so a resend can act."""
        self._client.delete_item(
            TableName=self._table,
            Key=self._key(keys.webhook_pk(webhook_id), keys.webhook_replay_sk(signal_key)),
        )

    def record(self, record: SignalRecord, expires_at: datetime) -> None:
        item = SignalItem(
            pk=keys.webhook_pk(record.webhook_id),
            sk=keys.webhook_signal_sk(record.signal_id),
            record=record,
            expires_at=int(expires_at.timestamp()),
        )
        self._client.put_item(TableName=self._table, Item=item.to_dynamo())

    def signals(
        self, webhook_id: str, now: datetime, *, limit: int, next_token: str | None
    ) -> tuple[list[SignalRecord], str | None]:
        """One page of the webhook's signals, newest first (expired ones left out)."""
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "expires_at > :now",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.webhook_pk(webhook_id)},
                ":prefix": {"S": keys.WEBHOOK_SIGNAL_PREFIX},
                ":now": {"N": str(int(now.timestamp()))},
            },
            "ScanIndexForward": False,
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"signals:{webhook_id}"
        )
        return [SignalItem.from_dynamo(raw).record for raw in items], token

    # ------------------------------------------------------------------ plumbing

    def _item(self, user_id: str, webhook_id: str) -> WebhookItem | None:
        raw = self._get(keys.user_pk(user_id), keys.webhook_sk(webhook_id))
        return WebhookItem.from_dynamo(raw) if raw is not None else None

    def _existing(self, user_id: str, webhook_id: str) -> WebhookItem:
        item = self._item(user_id, webhook_id)
        if item is None:
            raise NotFoundError("webhook not found")
        return item

    def _replace_op(self, item: WebhookItem, expected_version: int) -> dict[str, Any]:
        op = self._put_op(item)
        op["Put"]["ConditionExpression"] = "version = :expected"
        op["Put"]["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        return op

    def _delete_op(self, item: StoredItem, version: int | None = None) -> dict[str, Any]:
        delete: dict[str, Any] = {"TableName": self._table, "Key": self._key(item.pk, item.sk)}
        if version is not None:
            delete["ConditionExpression"] = "version = :expected"
            delete["ExpressionAttributeValues"] = serialize({":expected": version})
        return {"Delete": delete}
