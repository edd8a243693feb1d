"""Dhan login: the API-key consent flow of https://dhanhq.co/docs/v2/authentication/.

Dhan documents two ways for an individual trader to get an access token: generate one by hand
on web.dhan.co ("Access Token" with "a validity of 24 hours"), or the OAuth-style flow on the
user's own API key and secret (made on web.dhan.co together with the redirect URL, valid for 12
months). The platform runs the second, a redirect flow the user passes once a day
(`logs_in_by_itself` is False):

1. `POST {auth}/app/generate-consent?client_id={dhanClientId}`, headers `app_id` (the API key)
   and `app_secret` -> `{"consentAppId": ..., "consentAppStatus": "GENERATED", "status": "success"}`
2. the user opens `{auth}/login/consentApp-login?consentAppId={consentAppId}`, logs in with
   Dhan's 2FA, and Dhan redirects to the key's redirect URL with `?tokenId=...`
3. `GET {auth}/app/consumeApp-consent?tokenId={tokenId}`, the same headers ->
   `{"dhanClientId", "dhanClientName", "dhanClientUcc", "givenPowerOfAttorney", "accessToken",
   "expiryTime"}` (`{auth}` is https://auth.dhan.co)

- `login_url` runs step 1 (it needs the secret, so it runs here, server side) and returns step 2's
  page. Dhan echoes no `state`: its redirect carries only `tokenId`, to the redirect URL fixed on
  the key, so the caller has to tie the callback to its pending login by its own means.
- `complete` runs step 3 with `answer["tokenId"]`. The session's `user_id` is Dhan's
  `dhanClientId`, and it must be the linked client's own.
- `expires_at` is Dhan's `expiryTime` (an ISO date-time without zone, read as IST, which can
  only make it earlier if Dhan meant UTC), capped at 24 hours after the login, the documented
  validity of an access token.
- a wrong key or secret, an unknown or spent tokenId: Dhan answers 4xx, or an answer without
  the expected field -> `BrokerAuthError`, and nothing is stored. Transport failures are the
  session's broker errors (timeout, 429, 5xx), not auth errors.
- logout: Dhan documents no call that ends an access token (its authentication API is generate
  and consume consent, the partner variants, `generateAccessToken` (PIN + TOTP, not used here),
  `RenewToken`, `profile` and the static-IP calls), so `logout` sends nothing and the token
  lapses at its expiry.

The SDK's `DhanLogin` runs steps 1 and 3 with `requests` calls without a timeout, prints the URL
and opens a browser; the calls here go through `BrokerHttpSession`. Secrets and tokens never
appear in messages or logs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.login import AppCredentials, Session
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError
from shared_utils.clock import IST, Clock

BROKER = BrokerName.DHAN
AUTH_ROOT = "https://auth.dhan.co"  # the SDK's `DhanLogin.AUTH_BASE_URL`
GENERATE_CONSENT = "/app/generate-consent"
CONSENT_LOGIN = "/login/consentApp-login"
CONSUME_CONSENT = "/app/consumeApp-consent"
TOKEN_VALIDITY = timedelta(hours=24)


def _refused(step: str, response: requests.Response | None = None, detail: str = "") -> BrokerAuthError:
    """What Dhan said, without anything that was sent."""
    if response is not None:
        body = _json(response)
        said = body if isinstance(body, dict) else {}
        code = said.get("errorCode") or said.get("status") or ""
        text = said.get("errorMessage") or said.get("message") or ""
        detail = f"HTTP {response.status_code} {code} {text}".strip()
    return BrokerAuthError(message=f"dhan login: {step} refused: {detail}".rstrip(": "), broker=BROKER.value)


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class DhanBrokerLogin:
    def __init__(self, clock: Clock, endpoint: BrokerEndpoint | None = None) -> None:
        self._clock = clock
        endpoint = endpoint or BrokerEndpoint()
        self._root = (endpoint.base_url or AUTH_ROOT).rstrip("/")
        self._session = endpoint.http_session(BROKER.value)

    @property
    def name(self) -> BrokerName:
        return BROKER

    @property
    def logs_in_by_itself(self) -> bool:
        return False

    def _app_headers(self, app: AppCredentials) -> dict[str, str]:
        key, secret = app.api_key.get_secret_value(), app.api_secret.get_secret_value()
        if not key or not secret:
            raise BrokerAuthError(message="dhan login: API key and secret needed", broker=BROKER.value)
        return {"app_id": key, "app_secret": secret, "Accept": "application/json"}

    def login_url(self, app: AppCredentials, state: str) -> str:
        """Generate a consent for the app and return Dhan's login page for it (`state` cannot
        travel: Dhan's redirect carries only `tokenId`)."""
        response = self._session.request(
            "POST",
            f"{self._root}{GENERATE_CONSENT}",
            params={"client_id": app.client_id},
            headers=self._app_headers(app),
        )
        body = _json(response)
        consent = body.get("consentAppId") if isinstance(body, dict) else None
        if response.status_code != 200 or not consent or body.get("status", "success") != "success":
            raise _refused("generate consent", response)
        return f"{self._root}{CONSENT_LOGIN}?{urlencode({'consentAppId': consent})}"

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        """Exchange the redirect's `tokenId` for the day's access token."""
        # The front end passes the redirect's one-time value as `code` (SessionAnswer's field).
        token_id = answer.get("tokenId") or answer.get("tokenid") or answer.get("code")
        if not token_id:
            raise BrokerAuthError(message="dhan login: the redirect carries no tokenId", broker=BROKER.value)
        now = self._clock.now()
        response = self._session.request(
            "GET",
            f"{self._root}{CONSUME_CONSENT}",
            params={"tokenId": token_id},
            headers=self._app_headers(app),
        )
        body = _json(response)
        access_token = body.get("accessToken") if isinstance(body, dict) else None
        if response.status_code != 200 or not access_token:
            raise _refused("consume consent", response)
        client_id = str(body.get("dhanClientId") or app.client_id)
        if client_id != app.client_id:
            raise _refused("consume consent", detail="the login was for another Dhan client")
        return Session(
            access_token=access_token,
            expires_at=self._expiry(body.get("expiryTime"), now),
            user_id=client_id,
        )

    @staticmethod
    def _expiry(value: object, now: datetime) -> datetime:
        latest = now + TOKEN_VALIDITY
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return latest
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=IST)
        return min(parsed, latest)

    def login(self, app: AppCredentials, now: datetime) -> Session:
        raise BrokerAuthError(
            message="dhan login: the user passes Dhan's login page (logs_in_by_itself is False)",
            broker=BROKER.value,
        )

    def logout(self, app: AppCredentials, session: Session) -> None:
        """Nothing to call: Dhan documents no logout; the token lapses at `session.expires_at`."""
        return None
