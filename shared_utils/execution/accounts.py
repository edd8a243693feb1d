"""Which broker serves an order: the user's own linked account, through the broker registry."""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared_utils.brokers.egress import StaticEgressDirectory, egress_for
from shared_utils.brokers.port import Broker, BrokerLoginNeededError
from shared_utils.brokers.registry import BrokerRegistry
from shared_utils.brokers.session_watch import SessionWatch
from shared_utils.clock import Clock
from shared_utils.errors import ConfigurationError
from shared_utils.models.broker_account import LOGIN_NEEDED_REASON, AccountState, BrokerAccount
from shared_utils.repository.ports import BrokerAccountsReader

# One page of the user's accounts: every account a run may use, in one request.
ACCOUNTS_PAGE = 100


class AccountBrokers:
    """`BrokerProvider` of one user for one run: an account must be the user's own; its broker
    comes from the registry (paper for paper accounts, the SDK adapter otherwise, never a silent
    fall-back). The user's accounts are read once, in one query, when the first is asked for; an
    account not in that page is read on its own (strongly consistent: one linked a moment ago)."""

    def __init__(
        self,
        registry: BrokerRegistry,
        accounts: BrokerAccountsReader,
        user_id: str,
        clock: Clock | None = None,
        on_refused: Callable[[str, str], None] | None = None,
        egress: StaticEgressDirectory | None = None,
    ) -> None:
        self._registry = registry
        self._accounts = accounts
        self._user_id = user_id
        self._clock = clock
        self._on_refused = on_refused
        self._egress = egress
        self._listed: dict[str, BrokerAccount] | None = None
        self._lock = threading.Lock()

    def _account(self, broker_account_id: str) -> BrokerAccount | None:
        with self._lock:
            if self._listed is None:
                page, _ = self._accounts.list_accounts(self._user_id, limit=ACCOUNTS_PAGE)
                self._listed = {account.broker_account_id: account for account in page}
            listed = self._listed.get(broker_account_id)
        return listed or self._accounts.get_account(self._user_id, broker_account_id)

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        account = self._account(broker_account_id)
        if account is None:
            raise ConfigurationError(message=f"broker account {broker_account_id} is not linked to this user")
        if not self._can_trade(account):
            raise BrokerLoginNeededError(
                message=f"{LOGIN_NEEDED_REASON}: account {broker_account_id} is {account.state.value}",
                broker=account.broker,
            )
        route = None
        if self._egress is not None and not account.paper:
            route = egress_for(self._egress, self._user_id, broker_account_id, required=self._egress.required)
        built = self._registry.broker_for(
            broker_account_id, account.broker, paper=account.paper, egress=route
        )
        if self._on_refused is None or account.paper:
            return built
        return SessionWatch(built, lambda: self._refused(broker_account_id))

    def _can_trade(self, account: BrokerAccount) -> bool:
        if self._clock is not None:
            return account.can_trade(self._clock.now())
        return account.paper or account.state is AccountState.ACTIVE

    def _refused(self, broker_account_id: str) -> None:
        if self._on_refused is not None:
            self._on_refused(self._user_id, broker_account_id)
