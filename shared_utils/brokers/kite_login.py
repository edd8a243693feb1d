"""Kite Connect's daily login: the user passes Zerodha's login page once a day; Kite redirects to
the app's registered URL with a `request_token` (and our `state`, sent as `redirect_params`),
which is exchanged with the app secret for the day's access token (`POST /session/token`,
checksum SHA-256 of api_key + request_token + api_secret). A wrong secret fails the checksum:
Kite answers `TokenException`, read here as `BrokerAuthError`.

The access token lasts until 06:00 IST the next morning unless logged out (Kite Connect docs,
"User": "it'll expire at 6 AM on the next day (regulatory requirement)").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.login import AppCredentials, Session
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError, BrokerError
from shared_utils.brokers.zerodha import _map_kite_error
from shared_utils.clock import IST, Clock, to_ist

BROKER = BrokerName.ZERODHA
LOGIN_PAGE = "https://kite.zerodha.com/connect/login"
SESSION_ENDS = time(6, 0)


def next_cutoff(now: datetime, cutoff: time) -> datetime:
    """The next `cutoff` (IST wall clock) after `now`."""
    local = to_ist(now)
    end = datetime.combine(local.date(), cutoff, tzinfo=IST)
    return end if end > local else end + timedelta(days=1)


class KiteLogin:
    def __init__(self, clock: Clock, endpoint: BrokerEndpoint | None = None) -> None:
        self._clock = clock
        self._endpoint = endpoint or BrokerEndpoint()

    @property
    def name(self) -> BrokerName:
        return BROKER

    @property
    def logs_in_by_itself(self) -> bool:
        return False

    def _kite(self, app: AppCredentials, access_token: str | None = None) -> Any:
        from kiteconnect import KiteConnect

        kite = KiteConnect(
            api_key=app.api_key.get_secret_value(),
            access_token=access_token,
            root=self._endpoint.base_url,
            timeout=self._endpoint.timeout_s,
        )
        kite.reqsession = self._endpoint.http_session(BROKER.value)
        return kite

    def login_url(self, app: AppCredentials, state: str) -> str:
        query = {
            "v": "3",
            "api_key": app.api_key.get_secret_value(),
            "redirect_params": urlencode({"state": state}),
        }
        return f"{LOGIN_PAGE}?{urlencode(query)}"

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        request_token = answer.get("request_token", "")
        if answer.get("status", "success") != "success" or not request_token:
            raise BrokerAuthError(
                message="kite: the login redirect carries no request_token", broker=BROKER.value
            )
        session = self._call(
            lambda: self._kite(app).generate_session(request_token, app.api_secret.get_secret_value())
        )
        return Session(
            access_token=SecretStr(str(session["access_token"])),
            expires_at=next_cutoff(self._clock.now(), SESSION_ENDS),
            user_id=str(session.get("user_id") or app.client_id),
        )

    def login(self, app: AppCredentials, now: datetime) -> Session:
        raise BrokerAuthError(message="kite: the user must pass Zerodha's login page", broker=BROKER.value)

    def logout(self, app: AppCredentials, session: Session) -> None:
        token = session.access_token.get_secret_value()
        self._call(lambda: self._kite(app, token).invalidate_access_token(token))

    @staticmethod
    def _call(operation: Any) -> Any:
        from kiteconnect.exceptions import KiteException

        try:
            return operation()
        except KiteException as error:
            mapped: BrokerError = _map_kite_error(error, placing=False)
            if isinstance(mapped, BrokerAuthError) or getattr(error, "code", 500) < 500:
                raise BrokerAuthError(message=mapped.message, broker=BROKER.value) from None
            raise mapped from None
