"""Broker accounts table adapter: lists a user's accounts without ever reading their secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils.errors import AlreadyExistsError, InvalidInputError
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.items import deserialize, serialize
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.transactions import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Only these attributes are ever read: credentials stored next to them never leave the table.
PUBLIC_ATTRIBUTES = ("user_id", "broker_account_id", "broker", "label", "paper", "created_at")
MAX_PAGE_SIZE = 100


class DynamoBrokerAccounts:
    def __init__(
        self, client: DynamoDBClient, table_name: str, cursor_codec: CursorCodec = DEFAULT_CODEC
    ) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursor_codec

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
        return BrokerAccount.model_validate(deserialize(item)) if item else None

    def list_accounts(
        self, user_id: str, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[BrokerAccount], str | None]:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        scope = f"broker-accounts:{user_id}"
        projection = self._projection()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#p0 = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "Limit": limit,
            **projection,
        }
        start = self._cursors.decode(next_token, scope)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = self._client.query(**kwargs)
        accounts = [BrokerAccount.model_validate(deserialize(item)) for item in response.get("Items", [])]
        return accounts, self._cursors.encode(response.get("LastEvaluatedKey"), scope)

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
            if error_code(error) == "ConditionalCheckFailedException":
                raise AlreadyExistsError("broker account already exists") from error
            raise
