"""Linking broker accounts and their daily sessions, against stub Kite and Angel One servers on
loopback, with the accounts table and Secrets Manager in moto: a login state is good once and for
ten minutes, the morning logs in who can and marks the rest, and the evening logs every session
out in one pass. Each broker's own lifecycle (a wrong secret, the session's end, an order, a
refused token, the logout) is test_broker_sessions.py's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from pydantic import SecretStr

from shared_utils.accounts.linking import AccountLinking, LinkRequest, SessionAnswer
from shared_utils.accounts.secrets import SecretsManagerAccountSecrets
from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_login import AngelOneLogin
from shared_utils.brokers.credentials import SecretsManagerCredentialsProvider
from shared_utils.brokers.kite_login import KiteLogin
from shared_utils.brokers.login import AppCredentials
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerLoginNeededError
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.brokers.totp import totp
from shared_utils.clock import FixedClock
from shared_utils.errors import InvalidInputError
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.models.broker_account import AccountState
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from tests.conftest import TEST_REGION
from tests.integration.brokers import stub_angel, stub_kite
from tests.integration.brokers.stub_server import StubHttpServer

MORNING = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 08:30 IST
APP_PREFIX, SESSION_PREFIX = "test/broker-app/", "test/broker/"
USER = "user-a"
KITE_APP = AppCredentials(
    client_id="ZR1234", api_key=SecretStr(stub_kite.API_KEY), api_secret=SecretStr(stub_kite.API_SECRET)
)
ANGEL_APP = AppCredentials(
    client_id=stub_angel.CLIENT_CODE,
    api_key=SecretStr(stub_angel.API_KEY),
    pin=SecretStr(stub_angel.PIN),
    totp_secret=SecretStr(stub_angel.TOTP_SECRET),
)


@dataclass
class Desk:
    clock: FixedClock
    accounts: DynamoBrokerAccounts
    linking: AccountLinking
    kite: stub_kite.KiteStub
    angel: stub_angel.AngelStub
    urls: dict[BrokerName, str]

    def angel_totp(self) -> None:
        self.angel.expected_totp = totp(stub_angel.TOTP_SECRET, self.clock.now())


@pytest.fixture
def desk(aws: dict[str, Any]) -> Iterator[Desk]:
    clock = FixedClock(MORNING)
    accounts = DynamoBrokerAccounts(aws["dynamodb"], aws["settings"].broker_accounts_table_name)
    secrets = SecretsManagerAccountSecrets(
        boto3.client("secretsmanager", region_name=TEST_REGION), APP_PREFIX, SESSION_PREFIX
    )
    with StubHttpServer(stub_kite.KiteStub()) as kite, StubHttpServer(stub_angel.AngelStub()) as angel:
        logins = {
            BrokerName.ZERODHA: KiteLogin(clock, BrokerEndpoint(base_url=kite.url, timeout_s=2)),
            BrokerName.ANGEL_ONE: AngelOneLogin(clock, BrokerEndpoint(base_url=angel.url, timeout_s=2)),
        }
        ids = iter(f"acct-{n}" for n in range(1, 100))
        linking = AccountLinking(accounts, secrets, logins, clock, new_id=lambda: next(ids))
        yield Desk(
            clock,
            accounts,
            linking,
            kite.stub,
            angel.stub,
            {BrokerName.ZERODHA: kite.url, BrokerName.ANGEL_ONE: angel.url},
        )


def kite_redirect(login_url: str) -> SessionAnswer:
    """What Kite's login page sends back: our state, and its request token."""
    query = parse_qs(urlsplit(login_url).query)
    state = parse_qs(query["redirect_params"][0])["state"][0]
    assert query["api_key"] == [stub_kite.API_KEY]
    return SessionAnswer(state=state, request_token=stub_kite.REQUEST_TOKEN, status="success")


def test_kite_logs_in_through_the_redirect_once_and_the_session_ends_at_six(desk: Desk) -> None:
    step = desk.linking.link(USER, LinkRequest(broker=BrokerName.ZERODHA, credentials=KITE_APP))
    assert step.login_url is not None
    answer = kite_redirect(step.login_url)
    assert step.login_state == answer.state  # kept by the front end for brokers that drop it
    done = desk.linking.complete_login(USER, step.account.broker_account_id, answer)
    assert done.account.state is AccountState.ACTIVE
    assert done.account.session_expires_at == datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 06:00 IST
    with pytest.raises(InvalidInputError) as replayed:
        desk.linking.complete_login(USER, step.account.broker_account_id, answer)
    assert replayed.value.code == "LOGIN_STATE_INVALID"
    session = SecretsManagerCredentialsProvider(SESSION_PREFIX, _secrets(), _metrics()).get("acct-1")
    assert session.access_token.get_secret_value() == stub_kite.ACCESS_TOKEN


def test_a_login_state_expires(desk: Desk) -> None:
    step = desk.linking.link(USER, LinkRequest(broker=BrokerName.ZERODHA, credentials=KITE_APP))
    assert step.login_url is not None
    desk.clock.advance(timedelta(minutes=11))
    with pytest.raises(InvalidInputError) as late:
        desk.linking.complete_login(USER, step.account.broker_account_id, kite_redirect(step.login_url))
    assert late.value.code == "LOGIN_STATE_INVALID"


def link_both(desk: Desk) -> None:
    desk.angel_totp()
    desk.linking.link(USER, LinkRequest(broker=BrokerName.ANGEL_ONE, credentials=ANGEL_APP))  # acct-1
    step = desk.linking.link(USER, LinkRequest(broker=BrokerName.ZERODHA, credentials=KITE_APP))  # acct-2
    assert step.login_url is not None
    desk.linking.complete_login(USER, "acct-2", kite_redirect(step.login_url))


def test_the_morning_logs_in_who_can_and_the_rest_need_a_login_with_no_order_sent(desk: Desk) -> None:
    link_both(desk)
    desk.clock.set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # next morning: Kite's session ended
    desk.angel_totp()
    report = desk.linking.morning()
    assert (report.logged_in, report.needs_login, report.failed) == (1, 1, [])
    states = {a.broker_account_id: a.state for a in desk.accounts.list_accounts(USER)[0]}
    assert states == {"acct-1": AccountState.ACTIVE, "acct-2": AccountState.NEEDS_LOGIN}
    brokers = AccountBrokers(registry(desk), desk.accounts, USER, clock=desk.clock)
    with pytest.raises(BrokerLoginNeededError) as refused:
        brokers.broker_for("acct-2", "ZERODHA")
    assert "broker login needed" in refused.value.message
    assert desk.kite.orders == []


def test_the_evening_logs_every_session_out(desk: Desk) -> None:
    link_both(desk)
    report = desk.linking.evening()
    assert (report.logged_out, report.failed) == (2, [])
    assert (desk.kite.logged_out, desk.angel.logged_out) == (1, 1)
    assert {a.state for a in desk.accounts.list_accounts(USER)[0]} == {AccountState.NEEDS_LOGIN}


def test_totp_matches_rfc_6238() -> None:
    """RFC 6238 appendix B, SHA-1, truncated to 6 digits (secret "12345678901234567890")."""
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp(secret, datetime.fromtimestamp(59, tz=UTC), digits=8) == "94287082"
    assert totp(secret, datetime.fromtimestamp(1111111109, tz=UTC), digits=8) == "07081804"
    assert totp(secret, datetime.fromtimestamp(1234567890, tz=UTC)) == "005924"


def _secrets() -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager", region_name=TEST_REGION))


def _metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace="OptionsPlatformTest")


def registry(desk: Desk) -> BrokerRegistry:
    credentials = SecretsManagerCredentialsProvider(SESSION_PREFIX, _secrets(), _metrics())
    endpoints = {name: BrokerEndpoint(base_url=url, timeout_s=2) for name, url in desk.urls.items()}
    return BrokerRegistry(credentials, desk.clock, config=RegistryConfig(endpoints=endpoints))
