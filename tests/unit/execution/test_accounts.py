"""A run's broker accounts: read in one request, the user's own only."""

from __future__ import annotations

import pytest

from shared_utils.errors import ConfigurationError
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.models.broker_account import BrokerAccount


class Accounts:
    def __init__(self, listed, linked_later=()):
        self.listed, self.linked_later = listed, list(linked_later)
        self.calls: list[str] = []

    def list_accounts(self, user_id, limit=50, next_token=None):
        self.calls.append("list")
        return [a for a in self.listed if a.user_id == user_id], None

    def get_account(self, user_id, broker_account_id):
        self.calls.append("get")
        found = [
            a for a in self.linked_later if (a.user_id, a.broker_account_id) == (user_id, broker_account_id)
        ]
        return found[0] if found else None


class Registry:
    def broker_for(self, account_id, broker, *, paper=False, egress=None):
        return (account_id, broker, paper)


def account(name, user="user-a"):
    return BrokerAccount(user_id=user, broker_account_id=name, broker="PAPER", paper=True)


def test_every_account_of_a_run_comes_from_one_read():
    accounts = Accounts([account("acct-1"), account("acct-2")])
    brokers = AccountBrokers(Registry(), accounts, "user-a")

    assert brokers.broker_for("acct-1", "PAPER") == ("acct-1", "PAPER", True)
    assert brokers.broker_for("acct-2", "PAPER") == ("acct-2", "PAPER", True)
    assert accounts.calls == ["list"]


def test_an_account_missing_from_the_list_is_read_on_its_own_and_another_users_is_refused():
    accounts = Accounts([account("acct-1"), account("acct-9", user="user-b")], [account("acct-new")])
    brokers = AccountBrokers(Registry(), accounts, "user-a")

    assert brokers.broker_for("acct-new", "PAPER")[0] == "acct-new"  # linked a moment ago
    with pytest.raises(ConfigurationError, match="acct-9 is not linked to this user"):
        brokers.broker_for("acct-9", "PAPER")
    assert accounts.calls == ["list", "get", "get"]
