"""Linking a broker account and keeping its daily session.

- **Link**: a broker the platform logs in by itself (Angel One: PIN + TOTP) is logged in at
  once; a refusal answers 4xx and nothing is stored. A broker whose user passes a login page
  (Kite, Upstox ...) cannot check the secret before that page: its account is stored LINKED with
  a one-time login state, and if the broker then refuses the exchange (a wrong app secret fails
  Kite's checksum) an account that never traded is deleted with its secrets: nothing is kept.
- **Morning** (the timer's start): every self-login account logs in; every other one stays
  ACTIVE only while its session lasts, else NEEDS_LOGIN. An account that cannot trade gets no
  order (`execution/accounts.AccountBrokers`: "broker login needed").
- **Mid-session refusal** (Kite's `TokenException`, a 401/403): NEEDS_LOGIN, nothing resent.
- **Evening**: every ACTIVE session is logged out at the broker (the exchange asks for it).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from shared_utils.accounts.secrets import AccountSecrets
from shared_utils.brokers.login import AppCredentials, BrokerLogin
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError, BrokerError
from shared_utils.clock import Clock
from shared_utils.errors import FieldIssue, InvalidInputError, NotFoundError
from shared_utils.models.broker_account import AccountState, BrokerAccount
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

logger = Logger(child=True)

LOGIN_STATE_VALIDITY = timedelta(minutes=10)


class LinkRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: BrokerName
    label: str = Field(default="", max_length=100)
    credentials: AppCredentials


class LoginStep(BaseModel):
    """What the caller does next: nothing (the account is ACTIVE), or open `login_url`."""

    model_config = ConfigDict(frozen=True)

    account: BrokerAccount
    login_url: str | None = None
    # The one-time state to post back with the redirect's code: Kite echoes it; Shoonya and Dhan
    # redirect without it, so the front end keeps it from here.
    login_state: str | None = None


class SessionAnswer(BaseModel):
    """The broker's redirect back, passed on by the front end: `state` and the one-time code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str = Field(min_length=10, max_length=200)
    request_token: str | None = Field(default=None, max_length=200)
    code: str | None = Field(default=None, max_length=2000)
    status: str | None = Field(default=None, max_length=20)


class SessionsReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    logged_in: NonNegativeInt = 0
    active: NonNegativeInt = 0
    needs_login: NonNegativeInt = 0
    logged_out: NonNegativeInt = 0
    failed: list[str] = []


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _invalid(message: str, code: str, field: str) -> InvalidInputError:
    return InvalidInputError(message, details=[FieldIssue(field=field, issue=message)], code=code)


def _refused(error: BrokerError, field: str = "credentials") -> InvalidInputError:
    return _invalid(f"the broker refused the login: {error.message}", "BROKER_LOGIN_REFUSED", field)


class AccountLinking:
    def __init__(
        self,
        accounts: DynamoBrokerAccounts,
        secrets_store: AccountSecrets,
        logins: Mapping[BrokerName, BrokerLogin],
        clock: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._accounts = accounts
        self._secrets = secrets_store
        self._logins = logins
        self._clock = clock
        self._new_id = new_id

    def _login_for(self, broker: str) -> BrokerLogin | None:
        return self._logins.get(BrokerName(broker)) if broker in BrokerName.__members__ else None

    def _login_of(self, broker: str) -> BrokerLogin:
        login = self._login_for(broker)
        if login is None:
            raise _invalid(f"{broker} accounts cannot be linked here", "UNSUPPORTED_BROKER", "broker")
        return login

    def link(self, user_id: str, request: LinkRequest) -> LoginStep:
        login = self._login_of(request.broker.value)
        now = self._clock.now()
        account = BrokerAccount(
            user_id=user_id,
            broker_account_id=self._new_id(),
            broker=request.broker.value,
            label=request.label,
            created_at=now,
            state=AccountState.LINKED,
            client_id=request.credentials.client_id,
        )
        if login.logs_in_by_itself:
            try:
                session = login.login(request.credentials, now)
            except BrokerAuthError as error:
                raise _refused(error) from None
            self._secrets.put_app(account.broker_account_id, request.credentials)
            self._secrets.put_session(account.broker_account_id, session)
            active = account.model_copy(
                update={"state": AccountState.ACTIVE, "session_expires_at": session.expires_at}
            )
            self._accounts.put_account(active)
            return LoginStep(account=active)
        self._secrets.put_app(account.broker_account_id, request.credentials)
        self._accounts.put_account(account)
        try:
            # Some brokers check the app already when their login page is prepared (Dhan's consent).
            return self._browser_step(account, login, request.credentials)
        except BrokerAuthError as error:
            self._secrets.delete(account.broker_account_id)
            self._accounts.delete_account(user_id, account.broker_account_id)
            raise _refused(error) from None

    def start_login(self, user_id: str, broker_account_id: str) -> LoginStep:
        account, login, app = self._owned(user_id, broker_account_id)
        if not login.logs_in_by_itself:
            return self._browser_step(account, login, app)
        try:
            session = login.login(app, self._clock.now())
        except BrokerAuthError as error:
            self._accounts.set_state(user_id, broker_account_id, AccountState.NEEDS_LOGIN)
            raise _refused(error) from None
        self._secrets.put_session(broker_account_id, session)
        self._accounts.set_state(user_id, broker_account_id, AccountState.ACTIVE, session.expires_at)
        return LoginStep(account=self._reread(user_id, broker_account_id))

    def complete_login(self, user_id: str, broker_account_id: str, answer: SessionAnswer) -> LoginStep:
        account, login, app = self._owned(user_id, broker_account_id)
        if not self._accounts.take_login_nonce(
            user_id, broker_account_id, _digest(answer.state), self._clock.now()
        ):
            raise _invalid(
                "the login state is unknown, used or expired: start the login again",
                "LOGIN_STATE_INVALID",
                "state",
            )
        raw = answer.model_dump(exclude_none=True)
        try:
            session = login.complete(app, raw)
        except BrokerAuthError as error:
            if account.state is AccountState.LINKED:
                # Never logged in: the app credentials were wrong; keep nothing of them.
                self._secrets.delete(broker_account_id)
                self._accounts.delete_account(user_id, broker_account_id)
            else:
                self._accounts.set_state(user_id, broker_account_id, AccountState.NEEDS_LOGIN)
            raise _refused(error, field="request_token") from None
        self._secrets.put_session(broker_account_id, session)
        self._accounts.set_state(user_id, broker_account_id, AccountState.ACTIVE, session.expires_at)
        return LoginStep(account=self._reread(user_id, broker_account_id))

    def needs_login(self, user_id: str, broker_account_id: str) -> None:
        """The broker refused the session mid-day: no order goes until a new login."""
        logger.warning(
            "Broker session refused: the account needs a login",
            extra={"broker_account_id": broker_account_id},
        )
        self._accounts.set_state(user_id, broker_account_id, AccountState.NEEDS_LOGIN)

    def morning(self, accounts: Iterable[BrokerAccount] | None = None) -> SessionsReport:
        now = self._clock.now()
        report = SessionsReport()
        for account in accounts if accounts is not None else self._accounts.all_accounts():
            if account.paper or account.state is AccountState.DISABLED:
                continue
            login = self._login_for(account.broker)
            app = self._secrets.app(account.broker_account_id)
            if login is not None and app is not None and login.logs_in_by_itself:
                try:
                    session = login.login(app, now)
                except BrokerError as error:
                    logger.error(
                        "Morning login failed",
                        extra={"broker_account_id": account.broker_account_id, "error": error.code},
                    )
                    self._accounts.set_state(
                        account.user_id, account.broker_account_id, AccountState.NEEDS_LOGIN
                    )
                    report = _add(report, needs_login=1, failed=[account.broker_account_id])
                    continue
                self._secrets.put_session(account.broker_account_id, session)
                self._accounts.set_state(
                    account.user_id, account.broker_account_id, AccountState.ACTIVE, session.expires_at
                )
                report = _add(report, logged_in=1)
            elif account.can_trade(now) and account.session_expires_at is not None:
                report = _add(report, active=1)
            else:
                if account.state is not AccountState.NEEDS_LOGIN:
                    self._accounts.set_state(
                        account.user_id, account.broker_account_id, AccountState.NEEDS_LOGIN
                    )
                report = _add(report, needs_login=1)
        return report

    def evening(self) -> SessionsReport:
        report = SessionsReport()
        for account in self._accounts.all_accounts():
            if account.paper or account.state is not AccountState.ACTIVE:
                continue
            login = self._login_for(account.broker)
            app = self._secrets.app(account.broker_account_id)
            session = self._secrets.session(account.broker_account_id)
            if login is None or app is None or session is None:
                continue
            try:
                login.logout(app, session)
            except BrokerError as error:
                logger.error(
                    "Logout failed",
                    extra={"broker_account_id": account.broker_account_id, "error": error.code},
                )
                report = _add(report, failed=[account.broker_account_id])
                continue
            self._accounts.set_state(account.user_id, account.broker_account_id, AccountState.NEEDS_LOGIN)
            report = _add(report, logged_out=1)
        return report

    def _owned(
        self, user_id: str, broker_account_id: str
    ) -> tuple[BrokerAccount, BrokerLogin, AppCredentials]:
        account = self._accounts.get_account(user_id, broker_account_id)
        if account is None or account.paper:
            raise NotFoundError("broker account not found")
        login = self._login_of(account.broker)
        app = self._secrets.app(broker_account_id)
        if app is None:
            raise _invalid(
                "the account has no stored credentials: link it again", "NOT_LINKED", "broker_account_id"
            )
        return account, login, app

    def _browser_step(self, account: BrokerAccount, login: BrokerLogin, app: AppCredentials) -> LoginStep:
        state = secrets.token_urlsafe(24)
        self._accounts.set_login_nonce(
            account.user_id,
            account.broker_account_id,
            _digest(state),
            self._clock.now() + LOGIN_STATE_VALIDITY,
        )
        return LoginStep(account=account, login_url=login.login_url(app, state), login_state=state)

    def _reread(self, user_id: str, broker_account_id: str) -> BrokerAccount:
        account = self._accounts.get_account(user_id, broker_account_id)
        if account is None:
            raise NotFoundError("broker account not found")
        return account


def _add(report: SessionsReport, failed: list[str] | None = None, **counts: int) -> SessionsReport:
    update: dict[str, object] = {name: getattr(report, name) + value for name, value in counts.items()}
    if failed:
        update["failed"] = [*report.failed, *failed]
    return report.model_copy(update=update)
