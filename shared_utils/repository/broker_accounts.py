"""Broker accounts table adapter: lists a user's accounts without ever reading their secrets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import ValidationError

from shared_utils.errors import AlreadyExistsError
from shared_utils.models.broker_account import AccountState, BrokerAccount
from shared_utils.models.items import deserialize, serialize
from shared_utils.repository.dynamo import DynamoTable, condition_lost

logger = Logger(child=True)

# Only these attributes are ever read: credentials stored next to them never leave the table.
PUBLIC_ATTRIBUTES = (
    "user_id",
    "broker_account_id",
    "broker",
    "label",
    "paper",
    "created_at",
    "state",
    "session_expires_at",
    "client_id",
)


class DynamoBrokerAccounts(DynamoTable):
    """The broker-accounts table (keyed by user_id + broker_account_id, not pk/sk): the order
    path and the API read only the public attributes, never a secret's name."""

    def _projection(self) -> dict[str, Any]:
        return {
            "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(PUBLIC_ATTRIBUTES))),
            "ExpressionAttributeNames": {f"#p{i}": name for i, name in enumerate(PUBLIC_ATTRIBUTES)},
        }

    def get_account(self, user_id: str, broker_account_id: str) -> BrokerAccount | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"user_id": {"S": user_id}, "broker_account_id": {"S": broker_account_id}},
            ConsistentRead=True,
            **self._projection(),
        )
        item = response.get("Item")
        return self._account(item) if item else None

    def list_accounts(
        self, user_id: str, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[BrokerAccount], str | None]:
        query = {
            "KeyConditionExpression": "#p0 = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            **self._projection(),
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"broker-accounts:{user_id}"
        )
        found = (self._account(item) for item in items)
        return [account for account in found if account is not None], token

    @staticmethod
    def _account(item: dict[str, Any]) -> BrokerAccount | None:
        """The account, or None for an item this build cannot read (a broker it does not know,
        a missing field): such an account is not usable for trading, and one bad item must not
        make the user's whole list fail. Logged without its attributes."""
        try:
            return BrokerAccount.model_validate(deserialize(item))
        except ValidationError as error:
            logger.warning(
                "Unreadable broker account skipped",
                extra={
                    "broker_account_id": item.get("broker_account_id", {}).get("S"),
                    "problems": [".".join(map(str, e["loc"])) for e in error.errors()],
                },
            )
            return None

    def put_account(self, account: BrokerAccount, secret_ref: str | None = None) -> None:
        """Create an account (used to seed paper accounts); an existing one is never overwritten."""
        item = account.model_dump(exclude_none=True) | ({"secret_ref": secret_ref} if secret_ref else {})
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(broker_account_id)",
            )
        except ClientError as error:
            if condition_lost(error):
                raise AlreadyExistsError("broker account already exists") from error
            raise

    def set_state(
        self,
        user_id: str,
        broker_account_id: str,
        state: AccountState,
        session_expires_at: datetime | None = None,
    ) -> None:
        """The account's state (and its session's end); the account must exist."""
        names = {"#state": "state", "#ends": "session_expires_at"}
        values: dict[str, Any] = {":state": {"S": state.value}}
        if session_expires_at is None:
            update = "SET #state = :state REMOVE #ends"
        else:
            update = "SET #state = :state, #ends = :ends"
            values[":ends"] = {"S": session_expires_at.isoformat()}
        self._client.update_item(
            TableName=self._table,
            Key=self._key(user_id, broker_account_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(broker_account_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def set_login_nonce(
        self, user_id: str, broker_account_id: str, digest: str, expires_at: datetime
    ) -> None:
        """The pending browser login's state (its hash), valid until `expires_at`."""
        self._client.update_item(
            TableName=self._table,
            Key=self._key(user_id, broker_account_id),
            UpdateExpression="SET login_nonce = :digest, login_nonce_expires_at = :ends",
            ConditionExpression="attribute_exists(broker_account_id)",
            ExpressionAttributeValues={":digest": {"S": digest}, ":ends": {"S": expires_at.isoformat()}},
        )

    def take_login_nonce(self, user_id: str, broker_account_id: str, digest: str, now: datetime) -> bool:
        """Use the pending login's state once: True when it matched and had not expired."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(user_id, broker_account_id),
                UpdateExpression="REMOVE login_nonce, login_nonce_expires_at",
                ConditionExpression="login_nonce = :digest AND login_nonce_expires_at > :now",
                ExpressionAttributeValues={":digest": {"S": digest}, ":now": {"S": now.isoformat()}},
            )
        except ClientError as error:
            if condition_lost(error):
                return False
            raise
        return True

    def delete_account(self, user_id: str, broker_account_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(user_id, broker_account_id))

    def all_accounts(self) -> Iterator[BrokerAccount]:
        """Every readable account of every user (the morning's logins, the evening's logouts)."""
        kwargs: dict[str, Any] = {"TableName": self._table, **self._projection()}
        while True:
            page = self._client.scan(**kwargs)
            for item in page.get("Items", []):
                account = self._account(item)
                if account is not None:
                    yield account
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _key(user_id: str, broker_account_id: str) -> dict[str, Any]:
        return {"user_id": {"S": user_id}, "broker_account_id": {"S": broker_account_id}}
