"""Every broker with an adapter, through its whole account lifecycle, against its stub server on
127.0.0.1: the real `AccountLinking` (accounts table and Secrets Manager in moto), the broker's
real login module, and the real order path (`AccountBrokers` over `BrokerRegistry`, sessions read
back from Secrets Manager).

1. a wrong secret is refused (`BROKER_LOGIN_REFUSED`, a 4xx) and nothing is kept;
2. the right one makes the account ACTIVE until the broker's documented session end;
3. an order reaches the broker with the algo id where it takes one, a MARKET order protected;
4. a token refused mid-session fails the order, books nothing, and stops the account's orders;
5. the evening logs the session out at the broker and the account needs a login.

Sessions (each `shared_utils/brokers/*_login.py` module's docstring):

| broker    | login; a wrong secret is refused at   | session ends                 | evening logout         |
|-----------|---------------------------------------|------------------------------|------------------------|
| ZERODHA   | redirect; the request_token exchange  | 06:00 IST the next day       | DELETE /session/token  |
| ANGEL_ONE | by itself (PIN + TOTP); the link      | JWT `exp`, else login + 24 h | POST .../v1/logout     |
| FINVASIA  | redirect (OAuth); GenAcsTok           | the next 05:00 IST           | POST /Logout           |
| UPSTOX    | redirect (OAuth); the token exchange  | the next 03:30 IST           | DELETE /v2/logout      |
| DHAN      | redirect (consent); generate-consent  | `expiryTime`, <= login + 24 h| none documented: none  |

Orders (`docs/brokers.md` "Algo id", `protection.needs_protection`, each adapter's docstring):

| broker    | algo id sent as                  | a MARKET order reaches it as   | token refusal injected     |
|-----------|----------------------------------|--------------------------------|----------------------------|
| ZERODHA   | `algo_id`, an order form field   | MARKET, `market_protection=-1` | 403 `TokenException`       |
| ANGEL_ONE | nothing (no confirmed field)     | LIMIT at the protected price   | `AG8002` Token Expired     |
| FINVASIA  | nothing (no confirmed field)     | LMT at the protected price     | `Session Expired` (Not_Ok) |
| UPSTOX    | the `X-Algo-Name` header         | LIMIT at the protected price   | 401 `UDAPI100050`          |
| DHAN      | nothing (Dhan documents no field)| LIMIT at the protected price   | 401 `DH-901`               |

"Nothing" is asserted: the id appears nowhere in the placement (body, headers, query). The
protected price here: the fake quote 120.50, a BUY, +2% = 122.91, up to the 0.05 tick = 122.95.

Dhan checks the app secret already when its login page is prepared (generate-consent): the
link is refused there and nothing is kept. Its redirect's `tokenId` is posted as `code`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities import parameters
from pydantic import SecretStr

from shared_utils.accounts.linking import AccountLinking, LinkRequest, LoginStep, SessionAnswer
from shared_utils.accounts.secrets import SecretsManagerAccountSecrets
from shared_utils.api.errors import status_of
from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_login import AngelOneLogin
from shared_utils.brokers.credentials import SecretsManagerCredentialsProvider
from shared_utils.brokers.dhan_login import DhanBrokerLogin
from shared_utils.brokers.finvasia_login import FinvasiaLogin
from shared_utils.brokers.kite_login import KiteLogin
from shared_utils.brokers.login import AppCredentials, BrokerLogin
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderRequest
from shared_utils.brokers.port import BrokerAuthError, BrokerLoginNeededError
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.brokers.symbols import angel_one as angel_symbols
from shared_utils.brokers.symbols import dhan as dhan_symbols
from shared_utils.brokers.symbols import finvasia as noren_symbols
from shared_utils.brokers.symbols import upstox as upstox_symbols
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.brokers.totp import totp
from shared_utils.brokers.upstox_login import UpstoxBrokerLogin
from shared_utils.clock import IST, Clock, FixedClock
from shared_utils.errors import InvalidInputError
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.models.broker_account import AccountState
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from tests.conftest import TEST_REGION
from tests.integration.brokers import stub_angel, stub_dhan, stub_kite, stub_noren, stub_upstox
from tests.integration.brokers.stub_server import BrokerStub, Fault, Request, StubHttpServer

MORNING = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 08:30 IST, a Tuesday
APP_PREFIX, SESSION_PREFIX = "test/broker-app/", "test/broker/"
USER, ACCOUNT = "user-a", "acct-1"
ALGO_ID = "NSEALGO4711"
CE = OptionInstrument(
    underlying=Underlying.NIFTY, expiry=MORNING.date(), strike=Decimal(24000), option_type=OptionType.CE
)
TOKEN = "43650"  # the contract's token in every stub's master (Kite's stub needs none)
LAST_PRICE = Decimal("120.50")
PROTECTED_BUY = 122.95  # 120.50 x 1.02 = 122.91, up to the 0.05 tick


# --- each broker's way --------------------------------------------------------------------------


def _algo_form_field(request: Request) -> str | None:
    return request.form().get("algo_id")


def _algo_header(request: Request) -> str | None:
    return request.headers.get("x-algo-name")


def _algo_anywhere(request: Request) -> str | None:
    """For a broker without an algo field: the id, should it appear anywhere in the request."""
    sent = [request.body.decode(), *request.headers.values(), json.dumps(request.query)]
    return ALGO_ID if any(ALGO_ID in text for text in sent) else None


def _kite_redirect(stub: BrokerStub, step: LoginStep) -> SessionAnswer:
    """Kite's login page sends back our state (in `redirect_params`) and a request token."""
    assert step.login_url is not None
    query = parse_qs(urlsplit(step.login_url).query)
    state = parse_qs(query["redirect_params"][0])["state"][0]
    return SessionAnswer(state=state, request_token=stub_kite.REQUEST_TOKEN, status="success")


def _shoonya_redirect(stub: BrokerStub, step: LoginStep) -> SessionAnswer:
    """Shoonya redirects with `code` only: the front end posts back the state it kept."""
    assert step.login_state is not None
    return SessionAnswer(state=step.login_state, code=stub_noren.AUTH_CODE)


def _upstox_redirect(stub: BrokerStub, step: LoginStep) -> SessionAnswer:
    """The user passes Upstox's dialog: Upstox hands out a code and echoes our state."""
    assert isinstance(stub, stub_upstox.UpstoxStub) and step.login_url is not None
    stub.codes.add("upstox-code-1")
    state = parse_qs(urlsplit(step.login_url).query)["state"][0]
    return SessionAnswer(state=state, code="upstox-code-1")


def _dhan_redirect(stub: BrokerStub, step: LoginStep) -> SessionAnswer:
    """The user passes Dhan's consent page: Dhan redirects with `tokenId` only (no state)."""
    assert isinstance(stub, stub_dhan.DhanStub) and step.login_url is not None
    assert step.login_state is not None
    consent = parse_qs(urlsplit(step.login_url).query)["consentAppId"][0]
    return SessionAnswer(state=step.login_state, code=stub.user_logs_in(consent))


Redirect = Callable[[BrokerStub, LoginStep], SessionAnswer]


@dataclass(frozen=True)
class Case:
    broker: BrokerName
    stub: Callable[[], BrokerStub]
    login: Callable[[Clock, BrokerEndpoint], BrokerLogin]
    good: AppCredentials
    bad: AppCredentials  # the same app with a wrong secret (Angel One: a wrong PIN)
    refused_says: str  # what the broker's refusal of `bad` says (its code or message)
    redirect: Redirect | None  # how the broker's page answers; None: it logs in by itself
    # Whether linking already meets the broker's check of the secret (Angel One's login, Dhan's
    # consent generation); else not before the code exchange, after the broker's page.
    secret_checked_at_link: bool
    session_ends: datetime
    place: tuple[str, str]  # (method, path) of an order placement
    algo_field: str | None  # where the algo id goes; None: the broker takes none
    algo_sent: Callable[[Request], str | None]
    booked_as: tuple[str, float]  # (order type, price) the broker books a MARKET order at
    natively_protected: bool  # Kite: `market_protection`; the rest: a LIMIT priced here
    refusal: Fault  # the broker's documented answer to a token it no longer accepts
    logout: tuple[str, str] | None  # (method, path) the evening sends; None: nothing
    logged_out: Callable[[Any], int] = field(default=lambda stub: 0)


KITE_APP = AppCredentials(
    client_id="ZR1234", api_key=SecretStr(stub_kite.API_KEY), api_secret=SecretStr(stub_kite.API_SECRET)
)
ANGEL_APP = AppCredentials(
    client_id=stub_angel.CLIENT_CODE,
    api_key=SecretStr(stub_angel.API_KEY),
    pin=SecretStr(stub_angel.PIN),
    totp_secret=SecretStr(stub_angel.TOTP_SECRET),
)
SHOONYA_APP = AppCredentials(
    client_id=stub_noren.USER,
    api_key=SecretStr(stub_noren.CLIENT_ID),
    api_secret=SecretStr(stub_noren.SECRET_CODE),
)
UPSTOX_APP = AppCredentials(
    client_id=stub_upstox.USER_ID,
    api_key=SecretStr(stub_upstox.API_KEY),
    api_secret=SecretStr(stub_upstox.API_SECRET),
    redirect_url=stub_upstox.REDIRECT_URL,
)
DHAN_APP = AppCredentials(
    client_id=stub_dhan.CLIENT_ID,
    api_key=SecretStr(stub_dhan.APP_ID),
    api_secret=SecretStr(stub_dhan.APP_SECRET),
)
WRONG_SECRET = {"api_secret": SecretStr("not-the-secret")}


def _upstox_error(status: int, code: str, message: str) -> Fault:
    entry = {"error_code": code, "message": message, "property_path": None, "invalid_value": None}
    return Fault("/v3/order/place", status=status, body={"status": "error", "errors": [entry]})


CASES = [
    Case(
        broker=BrokerName.ZERODHA,
        stub=stub_kite.KiteStub,
        login=KiteLogin,
        good=KITE_APP,
        bad=KITE_APP.model_copy(update=WRONG_SECRET),
        refused_says="Invalid `checksum`",
        redirect=_kite_redirect,
        secret_checked_at_link=False,
        session_ends=datetime(2026, 11, 25, 6, 0, tzinfo=IST),
        place=("POST", "/orders/regular"),
        algo_field="algo_id (order form field)",
        algo_sent=_algo_form_field,
        booked_as=("MARKET", 0.0),
        natively_protected=True,
        refusal=Fault(
            "/orders/regular",
            status=403,
            body={
                "status": "error",
                "message": "Incorrect `api_key` or `access_token`.",
                "data": None,
                "error_type": "TokenException",
            },
        ),
        logout=("DELETE", "/session/token"),
        logged_out=lambda stub: stub.logged_out,
    ),
    Case(
        broker=BrokerName.ANGEL_ONE,
        stub=lambda: stub_angel.AngelStub(
            tokens={TOKEN: angel_symbols.tradingsymbol(CE)},
            expected_totp=totp(stub_angel.TOTP_SECRET, MORNING),
        ),
        login=AngelOneLogin,
        good=ANGEL_APP,
        bad=ANGEL_APP.model_copy(update={"pin": SecretStr("0000")}),
        refused_says="AB1007",
        redirect=None,
        secret_checked_at_link=True,
        session_ends=MORNING + timedelta(hours=24),  # the stub's JWT carries no `exp`
        place=("POST", f"{stub_angel.BASE}/order/v1/placeOrder"),
        algo_field=None,
        algo_sent=_algo_anywhere,
        booked_as=("LIMIT", PROTECTED_BUY),
        natively_protected=False,
        refusal=Fault(
            "/order/v1/placeOrder",
            status=200,
            body={"status": False, "message": "Token Expired", "errorcode": "AG8002", "data": None},
        ),
        logout=("POST", f"{stub_angel.BASE}/user/v1/logout"),
        logged_out=lambda stub: stub.logged_out,
    ),
    Case(
        broker=BrokerName.FINVASIA,
        stub=lambda: stub_noren.NorenStub(tokens={TOKEN: noren_symbols.tradingsymbol(CE)}),
        login=FinvasiaLogin,
        good=SHOONYA_APP,
        bad=SHOONYA_APP.model_copy(update=WRONG_SECRET),
        refused_says="INVALID_VERIFIER",
        redirect=_shoonya_redirect,
        secret_checked_at_link=False,
        session_ends=datetime(2026, 11, 25, 5, 0, tzinfo=IST),
        place=("POST", "/PlaceOrder"),
        algo_field=None,
        algo_sent=_algo_anywhere,
        booked_as=("LMT", PROTECTED_BUY),
        natively_protected=False,
        refusal=Fault("/PlaceOrder", status=200, body=stub_noren.EXPIRED),
        logout=("POST", "/Logout"),
        logged_out=lambda stub: stub.logged_out,
    ),
    Case(
        broker=BrokerName.UPSTOX,
        stub=lambda: stub_upstox.UpstoxStub(
            tokens={TOKEN: upstox_symbols.tradingsymbol(CE)},
            exchange_symbols={TOKEN: kite_symbols.tradingsymbol(CE)},
        ),
        login=UpstoxBrokerLogin,
        good=UPSTOX_APP,
        bad=UPSTOX_APP.model_copy(update=WRONG_SECRET),
        refused_says="UDAPI100016",
        redirect=_upstox_redirect,
        secret_checked_at_link=False,
        session_ends=datetime(2026, 11, 25, 3, 30, tzinfo=IST),
        place=("POST", "/v3/order/place"),
        algo_field="X-Algo-Name (header)",
        algo_sent=_algo_header,
        booked_as=("LIMIT", PROTECTED_BUY),
        natively_protected=False,
        refusal=_upstox_error(401, "UDAPI100050", "Invalid token used to access API"),
        logout=("DELETE", "/v2/logout"),
        logged_out=lambda stub: len(stub.logged_out),
    ),
    Case(
        broker=BrokerName.DHAN,
        stub=lambda: stub_dhan.DhanStub(
            contracts={
                TOKEN: stub_dhan.Contract("NIFTY", CE.expiry, CE.strike, CE.option_type.value, "NSE_FNO")
            }
        ),
        login=DhanBrokerLogin,
        good=DHAN_APP,
        bad=DHAN_APP.model_copy(update=WRONG_SECRET),
        refused_says="Invalid app_id or app_secret",
        redirect=_dhan_redirect,
        secret_checked_at_link=True,
        session_ends=datetime(2026, 11, 25, 8, 0, tzinfo=IST),  # the stub's expiryTime (IST)
        place=("POST", "/v2/orders"),
        algo_field=None,
        algo_sent=_algo_anywhere,
        booked_as=("LIMIT", PROTECTED_BUY),
        natively_protected=False,
        refusal=Fault(
            "/v2/orders",
            status=401,
            body={
                "errorType": "Invalid_Authentication",
                "errorCode": "DH-901",
                "errorMessage": "Client ID or user generated access token is invalid or expired.",
            },
        ),
        logout=None,
    ),
]


def each_broker() -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", [pytest.param(case, id=case.broker.value) for case in CASES])


# --- the desk: one broker's stub, the service, the order path -----------------------------------


class FixedPrices:
    """The protection price source: one last price for every contract, the calls kept."""

    def __init__(self) -> None:
        self.asked: list[OptionInstrument] = []

    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        self.asked.append(instrument)
        return LAST_PRICE


def _lookup(symbol: Callable[[OptionInstrument], str]) -> Callable[[str, str], str | None]:
    table = {(CE.exchange.value, symbol(CE)): TOKEN}
    return lambda exchange, tradingsymbol: table.get((exchange, tradingsymbol))


@dataclass
class Desk:
    case: Case
    clock: FixedClock
    accounts: DynamoBrokerAccounts
    linking: AccountLinking
    stub: BrokerStub
    url: str
    prices: FixedPrices
    secretsmanager: Any  # one client for the test: building a boto3 client is slow

    def secret_names(self) -> set[str]:
        return {s["Name"] for s in self.secretsmanager.list_secrets()["SecretList"]}

    def listed(self) -> dict[str, AccountState]:
        return {a.broker_account_id: a.state for a in self.accounts.list_accounts(USER)[0]}

    def link(self, app: AppCredentials) -> LoginStep:
        return self.linking.link(USER, LinkRequest(broker=self.case.broker, credentials=app))

    def log_in(self) -> LoginStep:
        """Link the right app and pass the broker's page where it has one."""
        step = self.link(self.case.good)
        if self.case.redirect is None:
            return step
        answer = self.case.redirect(self.stub, step)
        return self.linking.complete_login(USER, step.account.broker_account_id, answer)

    def registry(self) -> BrokerRegistry:
        secrets = parameters.SecretsProvider(boto3_client=self.secretsmanager)
        credentials = SecretsManagerCredentialsProvider(
            SESSION_PREFIX, secrets, Metrics(namespace="OptionsPlatformTest")
        )
        endpoint = BrokerEndpoint(base_url=self.url, timeout_s=2, algo_id=ALGO_ID)
        config = RegistryConfig(
            endpoints={self.case.broker: endpoint},
            protection_prices=self.prices,
            angel_one_tokens=_lookup(angel_symbols.tradingsymbol),
            finvasia_tokens=_lookup(noren_symbols.tradingsymbol),
            upstox_tokens=_lookup(upstox_symbols.tradingsymbol),
            dhan_tokens=_lookup(dhan_symbols.tradingsymbol),
        )
        return BrokerRegistry(credentials, self.clock, config=config)

    def brokers(self) -> AccountBrokers:
        """The order path of one run, as the executor builds it."""
        return AccountBrokers(
            self.registry(), self.accounts, USER, clock=self.clock, on_refused=self.linking.needs_login
        )

    def order(self) -> OrderRequest:
        key = order_key(MORNING.date(), "strat-1", "ENTRY", ACCOUNT, 1, 0)
        return OrderRequest(
            order_key=key, tag=broker_tag(key, self.case.broker), instrument=CE, side=Action.BUY, quantity=75
        )

    def placements(self) -> list[Request]:
        method, path = self.case.place
        return [r for r in self.stub.requests if (r.method, r.path) == (method, path)]


@pytest.fixture
def desk(aws: dict[str, Any], case: Case) -> Iterator[Desk]:
    clock = FixedClock(MORNING)
    accounts = DynamoBrokerAccounts(aws["dynamodb"], aws["settings"].broker_accounts_table_name)
    secretsmanager = boto3.client("secretsmanager", region_name=TEST_REGION)
    secrets = SecretsManagerAccountSecrets(secretsmanager, APP_PREFIX, SESSION_PREFIX)
    with StubHttpServer(case.stub()) as server:
        login = case.login(clock, BrokerEndpoint(base_url=server.url, timeout_s=2))
        ids = iter(f"acct-{n}" for n in range(1, 100))
        linking = AccountLinking(accounts, secrets, {case.broker: login}, clock, new_id=lambda: next(ids))
        yield Desk(case, clock, accounts, linking, server.stub, server.url, FixedPrices(), secretsmanager)


# --- the lifecycle ------------------------------------------------------------------------------


@each_broker()
def test_a_wrong_secret_is_refused_and_nothing_is_kept(desk: Desk, case: Case) -> None:
    if case.secret_checked_at_link or case.redirect is None:
        with pytest.raises(InvalidInputError) as refused:
            desk.link(case.bad)
    else:
        step = desk.link(case.bad)  # the secret cannot be checked before the broker's page
        assert step.account.state is AccountState.LINKED and step.login_url is not None
        assert desk.listed() == {ACCOUNT: AccountState.LINKED}
        answer = case.redirect(desk.stub, step)
        with pytest.raises(InvalidInputError) as refused:
            desk.linking.complete_login(USER, ACCOUNT, answer)
    assert refused.value.code == "BROKER_LOGIN_REFUSED" and 400 <= status_of(refused.value) < 500
    [issue] = refused.value.details
    assert issue.field == ("credentials" if case.secret_checked_at_link else "request_token")
    assert case.refused_says in refused.value.message and "not-the-secret" not in refused.value.message
    assert desk.listed() == {} and desk.secret_names() == set()


@each_broker()
def test_a_day_logs_in_until_the_session_end_orders_and_logs_out_in_the_evening(
    desk: Desk, case: Case
) -> None:
    done = desk.log_in()
    assert done.account.state is AccountState.ACTIVE and done.login_url is None
    [account] = desk.accounts.list_accounts(USER)[0]
    assert (account.state, account.client_id) == (AccountState.ACTIVE, case.good.client_id)
    assert account.session_expires_at == done.account.session_expires_at == case.session_ends
    assert desk.secret_names() == {f"{APP_PREFIX}{ACCOUNT}", f"{SESSION_PREFIX}{ACCOUNT}"}

    order = desk.order()
    placed = desk.brokers().broker_for(ACCOUNT, case.broker.value).place(order)
    [sent] = desk.placements()
    [booked] = desk.stub.orders
    assert placed.broker_order_id == booked.order_id
    assert (booked.tag, booked.quantity, booked.side) == (order.tag, 75, "BUY")
    assert (booked.order_type, booked.price) == case.booked_as
    assert case.algo_sent(sent) == (ALGO_ID if case.algo_field else None)
    if case.natively_protected:
        assert sent.form().get("market_protection") == "-1" and desk.prices.asked == []
    else:
        assert desk.prices.asked == [CE]

    sent_before_evening = len(desk.stub.requests)
    report = desk.linking.evening()
    assert (report.logged_out, report.failed) == (1, [])
    logout = [(r.method, r.path) for r in desk.stub.requests[sent_before_evening:]]
    assert logout == ([case.logout] if case.logout else [])
    assert case.logged_out(desk.stub) == (1 if case.logout else 0)
    assert desk.listed() == {ACCOUNT: AccountState.NEEDS_LOGIN}


@each_broker()
def test_a_token_refused_mid_session_stops_the_accounts_orders(desk: Desk, case: Case) -> None:
    desk.log_in()
    broker = desk.brokers().broker_for(ACCOUNT, case.broker.value)
    desk.stub.faults.append(case.refusal)
    with pytest.raises(BrokerAuthError):
        broker.place(desk.order())
    assert desk.listed() == {ACCOUNT: AccountState.NEEDS_LOGIN}
    assert desk.stub.orders == [] and len(desk.placements()) == 1  # refused once, not resent
    sent = len(desk.stub.requests)
    with pytest.raises(BrokerLoginNeededError, match="broker login needed"):
        desk.brokers().broker_for(ACCOUNT, case.broker.value)
    assert len(desk.stub.requests) == sent
