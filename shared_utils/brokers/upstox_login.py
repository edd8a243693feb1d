"""Upstox login: OAuth 2 authorization code, on the official SDK's `LoginApi` (Upstox API v2).

- `login_url`: Upstox's authorization dialog,
  `https://api.upstox.com/v2/login/authorization/dialog?response_type=code&client_id=<api key>
  &redirect_uri=<the app's redirect URL>&state=<state>`; after the user's login Upstox redirects
  to `redirect_uri?code=...&state=...` (https://upstox.com/developer/api-documentation/authorize).
  The URL is built here: the SDK's `authorize` performs the GET itself (a 302 meant for a browser).
- `complete`: `LoginApi.token`, POST /v2/login/authorization/token, form-encoded `code`,
  `client_id` (the app's API key), `client_secret`, `redirect_uri`, `grant_type=authorization_code`;
  the answer carries `access_token` and `user_id` (https://upstox.com/developer/api-documentation/get-token).
  The code is good for one attempt, successful or not (Upstox's note on the same page).
- the session ends at 03:30 IST: "The access_token ... has a specific validity period that lasts
  until 3:30 AM the following day, regardless of the time it was generated" and a token made at
  02:30 expires at 03:30 the same day (same page): `expires_at` is the first 03:30 IST after now.
- a refusal of what was sent (any 4xx: wrong secret, used or wrong code, mismatched redirect URI,
  UDAPI100016 "Invalid Credentials", UDAPI100068 client id / redirect URI) is `BrokerAuthError`,
  carrying Upstox's code and message, never the secret; 429 and 5xx are the session's errors.
- `logout`: `LoginApi.logout`, DELETE /v2/logout with the session's token
  (https://upstox.com/developer/api-documentation/logout); a token Upstox already refuses (401)
  means the session is over, which is what logout wants.
- the user passes Upstox's login page every day: `logs_in_by_itself` is False.
The secret and the tokens are `SecretStr` and are never logged; the SDK client is the adapter's
(`upstox.api_client`: no `Configuration`, no urllib3 pool, requests through `BrokerHttpSession`).
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
from shared_utils.brokers.port import BrokerAuthError, BrokerUnavailableError
from shared_utils.brokers.upstox import API_VERSION, Answer, ClientSettings, api_client, error_of
from shared_utils.clock import IST, Clock, to_ist

BROKER = BrokerName.UPSTOX
AUTHORIZATION_PATH = "/v2/login/authorization/dialog"
SESSION_END_IST = time(3, 30)  # Upstox: tokens last until 03:30 the following day


def session_end(now: datetime) -> datetime:
    """The first 03:30 IST after `now` (a token made at 02:30 ends an hour later)."""
    local = to_ist(now)
    end = datetime.combine(local.date(), SESSION_END_IST, tzinfo=IST)
    return end if local < end else end + timedelta(days=1)


def _required(value: str | None, what: str) -> str:
    if not value:
        raise BrokerAuthError(message=f"upstox: the app's {what} is not set", broker=BROKER.value)
    return value


class UpstoxBrokerLogin:
    def __init__(self, clock: Clock, endpoint: BrokerEndpoint | None = None) -> None:
        self._clock = clock
        self._endpoint = endpoint or BrokerEndpoint()

    @property
    def name(self) -> BrokerName:
        return BROKER

    @property
    def logs_in_by_itself(self) -> bool:
        return False

    def _api(self, access_token: str = "") -> Any:
        from upstox_client import LoginApi

        session = self._endpoint.http_session(BROKER.value)
        return LoginApi(api_client(ClientSettings.for_endpoint(self._endpoint, access_token), session))

    def login_url(self, app: AppCredentials, state: str) -> str:
        host = ClientSettings.for_endpoint(self._endpoint).host
        query = urlencode(
            {
                "response_type": "code",
                "client_id": _required(app.api_key.get_secret_value(), "API key"),
                "redirect_uri": _required(app.redirect_url, "redirect URL"),
                "state": state,
            }
        )
        return f"{host}{AUTHORIZATION_PATH}?{query}"

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        code = answer.get("code")
        if not code:
            raise BrokerAuthError(message="upstox: the redirect carries no code", broker=BROKER.value)
        reply: Answer = self._api().token(
            API_VERSION,
            code=code,
            client_id=_required(app.api_key.get_secret_value(), "API key"),
            client_secret=_required(app.api_secret.get_secret_value(), "API secret"),
            redirect_uri=_required(app.redirect_url, "redirect URL"),
            grant_type="authorization_code",
            _preload_content=False,
        )
        payload = reply.payload()
        if 400 <= reply.status < 500:
            code_, message = error_of(payload)
            text = f"{code_} {message}".strip() or f"HTTP {reply.status}"
            raise BrokerAuthError(message=f"upstox: token refused: {text}", broker=BROKER.value)
        # Documented flat ({"access_token": ..., "user_id": ...}); a `data` envelope is read too.
        body = payload.get("data") if isinstance(payload, Mapping) and "data" in payload else payload
        if not isinstance(body, Mapping) or reply.status >= 300:
            body = {}
        token, user_id = body.get("access_token"), body.get("user_id")
        if not isinstance(token, str) or not token:
            raise BrokerUnavailableError(
                message=f"upstox: token answer without an access token (HTTP {reply.status})",
                broker=BROKER.value,
            )
        return Session(
            access_token=SecretStr(token),
            expires_at=session_end(self._clock.now()),
            user_id=str(user_id) if user_id else None,
        )

    def login(self, app: AppCredentials, now: datetime) -> Session:
        raise BrokerAuthError(
            message="upstox: the user logs in on Upstox's page (no unattended login)", broker=BROKER.value
        )

    def logout(self, app: AppCredentials, session: Session) -> None:
        try:
            reply: Answer = self._api(session.access_token.get_secret_value()).logout(
                API_VERSION, _preload_content=False
            )
        except BrokerAuthError:
            return  # the token is refused already: the session is over
        if not 200 <= reply.status < 300:
            code, message = error_of(reply.payload())
            text = f"{code} {message}".strip() or f"HTTP {reply.status}"
            raise BrokerAuthError(message=f"upstox: logout refused: {text}", broker=BROKER.value)
