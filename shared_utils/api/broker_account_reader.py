"""Reads a user's broker accounts from the broker-accounts table, keeping only public fields.

The table also holds credentials and tokens; they are dropped here, field by field, so no
secret can reach a response by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from shared_utils.models.broker_account import BrokerAccount

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

logger = Logger(service="options-api")

PUBLIC_FIELDS = ("user_id", "broker_account_id", "broker", "label", "paper", "created_at")


def to_account(item: Mapping[str, Any]) -> BrokerAccount | None:
    public = {name: item[name] for name in PUBLIC_FIELDS if item.get(name) is not None}
    try:
        return BrokerAccount.model_validate(public)
    except ValidationError as error:
        logger.warning(
            "skipping malformed broker account item",
            extra={"broker_account_id": public.get("broker_account_id"), "errors": error.error_count()},
        )
        return None


class BrokerAccountReader:
    def __init__(self, table: Table) -> None:
        self._table = table

    def list_for(self, user_id: str) -> list[BrokerAccount]:
        from boto3.dynamodb.conditions import Key

        accounts: list[BrokerAccount] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("user_id").eq(user_id)}
        while True:
            page = self._table.query(**kwargs)
            accounts += [account for item in page.get("Items", []) if (account := to_account(item))]
            if "LastEvaluatedKey" not in page:
                return accounts
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, user_id: str, broker_account_id: str) -> BrokerAccount | None:
        item = self._table.get_item(Key={"user_id": user_id, "broker_account_id": broker_account_id}).get(
            "Item"
        )
        return to_account(item) if item else None
