"""Which broker serves an order: the user's own linked account, through the broker registry."""

from __future__ import annotations

from shared_utils.brokers.port import Broker
from shared_utils.brokers.registry import BrokerRegistry
from shared_utils.errors import ConfigurationError
from shared_utils.repository.ports import BrokerAccountsReader


class AccountBrokers:
    """`BrokerProvider` of one user: an account must be the user's own; its broker comes from
    the registry (paper for paper accounts, the SDK adapter otherwise, never a silent fall-back)."""

    def __init__(self, registry: BrokerRegistry, accounts: BrokerAccountsReader, user_id: str) -> None:
        self._registry = registry
        self._accounts = accounts
        self._user_id = user_id

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        account = self._accounts.get_account(self._user_id, broker_account_id)
        if account is None:
            raise ConfigurationError(message=f"broker account {broker_account_id} is not linked to this user")
        return self._registry.broker_for(broker_account_id, account.broker, paper=account.paper)
