"""Angel One SmartAPI's daily login, done by the platform itself: client code, PIN and the TOTP
of the stored secret (`POST /rest/auth/angelbroking/user/v1/loginByPassword`). A wrong PIN, TOTP
secret or API key is refused (`status` false, an `AB...` error code): `BrokerAuthError`.

Angel's JWT is valid 24 to 28 hours since its change from "until 5 AM" (SmartAPI forum, "Changes
in JWT Token Validity"); the session ends at the token's own `exp` when it can be read, else 24 h
after the login. Logout: `POST /rest/secure/angelbroking/user/v1/logout`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_one import _SDK_DEFAULT_PUBLIC_IP, BROKER, _client_class
from shared_utils.brokers.login import AppCredentials, Session
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError
from shared_utils.brokers.totp import totp
from shared_utils.clock import Clock

DEFAULT_VALIDITY = timedelta(hours=24)


def token_expiry(jwt: str) -> datetime | None:
    """The `exp` claim of a JWT (read, not verified: it only tells when to log in again)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return None


class AngelOneLogin:
    def __init__(self, clock: Clock, endpoint: BrokerEndpoint | None = None) -> None:
        self._clock = clock
        self._endpoint = endpoint or BrokerEndpoint()

    @property
    def name(self) -> BrokerName:
        return BROKER

    @property
    def logs_in_by_itself(self) -> bool:
        return True

    def _api(self, app: AppCredentials, access_token: str = "") -> Any:
        session = self._endpoint.http_session(BROKER.value)
        return _client_class()(
            app.api_key.get_secret_value(),
            access_token,
            self._endpoint.base_url,
            session,
            self._endpoint.client_public_ip or _SDK_DEFAULT_PUBLIC_IP,
        )

    def login_url(self, app: AppCredentials, state: str) -> str:
        raise BrokerAuthError(
            message="angel one: the platform logs in with the stored TOTP", broker=BROKER.value
        )

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        return self.login(app, self._clock.now())

    def login(self, app: AppCredentials, now: datetime) -> Session:
        if app.pin is None or app.totp_secret is None:
            raise BrokerAuthError(
                message="angel one: the PIN and the TOTP secret are needed", broker=BROKER.value
            )
        try:
            code = totp(app.totp_secret.get_secret_value(), now)
        except ValueError as error:
            raise BrokerAuthError(message=f"angel one: {error}", broker=BROKER.value) from None
        answer = self._api(app)._request(
            "api.login",
            "POST",
            {"clientcode": app.client_id, "password": app.pin.get_secret_value(), "totp": code},
        )
        data = self._data(answer)
        jwt = str(data.get("jwtToken") or "")
        if not jwt:
            raise BrokerAuthError(message="angel one: the login answer carries no token", broker=BROKER.value)
        feed = data.get("feedToken")
        refresh = data.get("refreshToken")
        return Session(
            access_token=SecretStr(jwt),
            expires_at=token_expiry(jwt) or now + DEFAULT_VALIDITY,
            user_id=app.client_id,
            feed_token=SecretStr(str(feed)) if feed else None,
            refresh_token=SecretStr(str(refresh)) if refresh else None,
        )

    def logout(self, app: AppCredentials, session: Session) -> None:
        answer = self._api(app, session.access_token.get_secret_value())._request(
            "api.logout", "POST", {"clientcode": app.client_id}
        )
        self._data(answer)

    @staticmethod
    def _data(answer: Any) -> dict[str, Any]:
        if isinstance(answer, dict) and answer.get("status") is True:
            data = answer.get("data")
            return data if isinstance(data, dict) else {}
        code = str(answer.get("errorcode") or "") if isinstance(answer, dict) else ""
        message = (
            str(answer.get("message") or "login refused") if isinstance(answer, dict) else "unexpected answer"
        )
        raise BrokerAuthError(message=f"angel one: {code} {message}".strip(), broker=BROKER.value)
