"""Paper broker accounts for a local user: one per supported broker, flagged `paper`, so the
registry gives them the paper broker while allocations name the real broker."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared_utils.errors import AlreadyExistsError
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Broker -> account label; the account id is `paper-<broker>-<user>` (stable across runs).
PAPER_BROKERS: dict[str, str] = {
    "ZERODHA": "Zerodha (paper)",
    "ANGEL_ONE": "Angel One (paper)",
    "FINVASIA": "Finvasia (paper)",
}


def paper_account_id(broker: str, user_id: str) -> str:
    return f"paper-{broker.lower().replace('_', '-')}-{user_id}"[:64]


def ensure_paper_accounts(
    client: DynamoDBClient, table_name: str, user_id: str, now: datetime
) -> tuple[list[BrokerAccount], list[str]]:
    """Every paper account of the user (created when missing) and the ids created now."""
    repository = DynamoBrokerAccounts(client, table_name)
    accounts: list[BrokerAccount] = []
    created: list[str] = []
    for broker, label in PAPER_BROKERS.items():
        account = BrokerAccount(
            user_id=user_id,
            broker_account_id=paper_account_id(broker, user_id),
            broker=broker,
            label=label,
            paper=True,
            created_at=now,
        )
        try:
            repository.put_account(account)
            created.append(account.broker_account_id)
        except AlreadyExistsError:
            existing = repository.get_account(user_id, account.broker_account_id)
            account = existing or account
        accounts.append(account)
    return accounts, created
