"""Finvasia (Shoonya, Noren OMS) login: Shoonya's OAuth code exchange, and the classic QuickAuth.

**The morning uses the OAuth flow** (`logs_in_by_itself` is False): the user passes Shoonya's
login page once a day, as with Kite and Upstox. Shoonya's current API documentation
(https://shoonya.com/api-documentation, "Authentication", read through an unofficial Markdown
rendering of it) documents one Login, `GenAcsTok`; Shoonya's OAuth SDK (`NorenRestApiOAuth`,
https://github.com/Shoonya-API-OAuth-Python/Shoonya_API_OAuth) keeps QuickAuth only as a
commented-out block; a draft of Shoonya's new documentation pages says OAuth is the only
supported login and lists "Auto Login (TOTP)" as coming soon. The password + TOTP login is no
longer documented for API apps, so it is not what the morning relies on. It stays here as `login`
for an account (or a deployment) where Shoonya still accepts it: `FinvasiaLogin(...,
quick_auth=True)` makes the platform log such accounts in by itself, like Angel One.

OAuth (`login_url`, `complete`):
- the login page: `https://api.shoonya.com/OAuthlogin/authorize/oauth?client_id=<client id>`
  (`oauth_url` in the OAuth SDK's `cred.yml`, the SDK's `getOAuthURL` adds `?client_id=`). The
  client id is the app's `api_key` (of the form `<uid>_U`). After the login (user id, password,
  OTP/TOTP on Shoonya's page) Shoonya redirects to the redirect URL registered with the key,
  with `?code=...`. Nothing documents a `state` parameter, so none is sent and none is expected
  back: the caller ties the callback to its pending login by its own means (as for Dhan).
- the exchange: POST `/NorenWClientAPI/GenAcsTok`, `jData={"code", "checksum", "uid"}`, checksum
  = SHA-256 hex of client id + secret code + code, concatenated without separators (the docs'
  "ABC" + "123" + "x1y2z3" example; the SDK's `getAccessToken`). `uid` is not in the docs' field
  list; the SDK sends it. A wrong secret or a spent code: `{"stat": "Not_Ok", "emsg": "Invalid
  Input : INVALID_VERIFIER"}` (the docs' failure sample) -> `BrokerAuthError`. The answer carries
  `susertoken` ("to be sent in subsequent requests in jKey field"), `access_token`,
  `refresh_token`, `expires_in` ("Access Token Expire date", an epoch in the samples), `uid` /
  `USERID`, `actid`. The session's `access_token` is the `susertoken`, which the order adapter
  sends as `jKey` (the OAuth `access_token` only when an answer has no `susertoken`); its
  `user_id` is the Noren uid, which must be the linked client's own; `refresh_token` is kept.
  The OAuth SDK sends its later calls to `NorenWClientAPI` with `Authorization: Bearer
  <access_token>` instead of `jKey`: that token is not kept (the session has no field for it).

QuickAuth (`login`), as NorenRestApiPy's `login` and the ShoonyaApi-py README document it
(https://github.com/Shoonya-Dev/ShoonyaApi-py): POST `/QuickAuth`, `jData={"source": "API",
"apkversion": "1.0.0", "uid", "pwd": SHA-256 hex of the password, "factor2": the TOTP, "vc": the
vendor code, "appkey": SHA-256 hex of "<uid>|<API key>", "imei"}`. Here `client_id` is the uid,
`pin` the Shoonya password, `totp_secret` the base32 TOTP secret, `api_key` the vendor code
(`<uid>_U`, the same value as the OAuth client id) and `api_secret` the API key hashed with the
uid. A wrong password, TOTP or key: `{"stat": "Not_Ok", "emsg": ...}` (the README's sample:
"Invalid Input : Wrong Password") -> `BrokerAuthError`.

The session's end: Shoonya documents no clock time. The draft documentation says a session lasts
the trading day and is flushed by the daily Beginning of Day process, whose time it does not
state. A session here ends at the next 05:00 IST (so never after the start of a trading morning),
or at the GenAcsTok answer's `expires_in` when that is earlier and still ahead.

Logout: POST `/Logout`, `jData={"ordersource": "API", "uid"}&jKey=<susertoken>` (NorenRestApiPy's
`logout`; documented field: `uid`). A session Noren no longer knows ("Session Expired", or a 4xx:
the docs' 403 is an expired session) is over, which is what a logout wants; another `Not_Ok`
("Server Timeout") is `BrokerUnavailableError`.

Every request is built as NorenRestApiPy builds it (`jData=<json>` unencoded, `&jKey=<token>`)
and goes through the endpoint's `BrokerHttpSession` (its timeout, its static-IP egress when it
has one, 429/5xx/transport mapping), to the endpoint's `base_url` when one is set (a stub), else
to `https://api.shoonya.com/NorenWClientAPI/` for GenAcsTok (the OAuth SDK's host) and to the
order adapter's host for QuickAuth and Logout. The SDK itself is not used: version 0.0.22 has no
GenAcsTok, and its login and logout parse an answer before its HTTP status can be seen. The
password, secrets and tokens never appear in messages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.finvasia import DEFAULT_BASE_URL as CLASSIC_BASE_URL
from shared_utils.brokers.login import AppCredentials, Session
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError, BrokerUnavailableError
from shared_utils.brokers.totp import totp
from shared_utils.clock import IST, Clock, to_ist

BROKER = BrokerName.FINVASIA
AUTHORIZE_URL = "https://api.shoonya.com/OAuthlogin/authorize/oauth"
OAUTH_BASE_URL = "https://api.shoonya.com/NorenWClientAPI/"
QUICK_AUTH, GEN_ACCESS_TOKEN, LOGOUT = "/QuickAuth", "/GenAcsTok", "/Logout"
SESSION_ENDS = time(5, 0)  # no documented cut-off: before the next trading day's BOD
APK_VERSION = "1.0.0"  # what NorenRestApiPy sends
IMEI = "options-platform"  # a device identifier Noren records ("mac for desktop, imei for mobile")
_EPOCH_FLOOR = 1_000_000_000  # an `expires_in` above this is a date (epoch seconds), not a duration


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def session_end(now: datetime) -> datetime:
    """The first 05:00 IST after `now`."""
    local = to_ist(now)
    end = datetime.combine(local.date(), SESSION_ENDS, tzinfo=IST)
    return end if local < end else end + timedelta(days=1)


def _expires(value: object, now: datetime) -> datetime:
    """The earlier of the next 05:00 IST and the answer's `expires_in`, when that is ahead."""
    latest = session_end(now)
    try:
        seconds = int(str(value).strip())
        stated = (
            datetime.fromtimestamp(seconds, tz=UTC)
            if seconds >= _EPOCH_FLOOR
            else now + timedelta(seconds=seconds)
        )
    except (ValueError, OverflowError, OSError):
        return latest
    return stated if now < stated < latest else latest


def _refused(message: str) -> BrokerAuthError:
    return BrokerAuthError(message=f"finvasia: {message}", broker=BROKER.value)


def _required(value: str | None, what: str) -> str:
    if not value:
        raise _refused(f"the {what} is not set")
    return value


class FinvasiaLogin:
    def __init__(
        self, clock: Clock, endpoint: BrokerEndpoint | None = None, *, quick_auth: bool = False
    ) -> None:
        self._clock = clock
        self._endpoint = endpoint or BrokerEndpoint()
        self._quick_auth = quick_auth
        self._session = self._endpoint.http_session(BROKER.value)

    @property
    def name(self) -> BrokerName:
        return BROKER

    @property
    def logs_in_by_itself(self) -> bool:
        """False by default: the OAuth page is Shoonya's documented login (see the module)."""
        return self._quick_auth

    # --- OAuth ---

    def login_url(self, app: AppCredentials, state: str) -> str:
        """Shoonya's login page for the app (`state` cannot travel: see the module)."""
        client_id = _required(app.api_key.get_secret_value(), "app's client id (api_key)")
        return f"{AUTHORIZE_URL}?{urlencode({'client_id': client_id})}"

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        """Exchange the redirect's one-time `code` for the day's session (GenAcsTok)."""
        code = answer.get("code")
        if not code:
            raise _refused("the login redirect carries no code")
        client_id = _required(app.api_key.get_secret_value(), "app's client id (api_key)")
        secret = _required(app.api_secret.get_secret_value(), "app's secret code (api_secret)")
        now = self._clock.now()
        body = self._ok(
            "token exchange",
            self._post(
                OAUTH_BASE_URL,
                GEN_ACCESS_TOKEN,
                {"code": code, "checksum": sha256_hex(client_id + secret + code), "uid": app.client_id},
            ),
        )
        token = body.get("susertoken") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise BrokerUnavailableError(
                message="finvasia: token exchange answered without a session token", broker=BROKER.value
            )
        user_id = str(body.get("uid") or body.get("USERID") or app.client_id)
        if user_id.upper() != app.client_id.upper():
            raise _refused("the login was for another Shoonya client")
        refresh = body.get("refresh_token")
        return Session(
            access_token=SecretStr(token),
            expires_at=_expires(body.get("expires_in"), now),
            user_id=user_id,
            refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
        )

    # --- QuickAuth ---

    def login(self, app: AppCredentials, now: datetime) -> Session:
        """QuickAuth with the stored password and the TOTP of the stored secret at `now`."""
        if app.pin is None or app.totp_secret is None:
            raise _refused("the password (pin) and the TOTP secret are needed")
        password = _required(app.pin.get_secret_value(), "password (pin)")
        vendor_code = _required(app.api_key.get_secret_value(), "vendor code (api_key)")
        api_secret = _required(app.api_secret.get_secret_value(), "API key (api_secret)")
        try:
            code = totp(app.totp_secret.get_secret_value(), now)
        except ValueError as error:
            raise _refused(str(error)) from None
        fields = {
            "source": "API",
            "apkversion": APK_VERSION,
            "uid": app.client_id,
            "pwd": sha256_hex(password),
            "factor2": code,
            "vc": vendor_code,
            "appkey": sha256_hex(f"{app.client_id}|{api_secret}"),
            "imei": IMEI,
        }
        body = self._ok("login", self._post(CLASSIC_BASE_URL, QUICK_AUTH, fields))
        token = body.get("susertoken")
        if not isinstance(token, str) or not token:
            raise BrokerUnavailableError(
                message="finvasia: login answered without a session token", broker=BROKER.value
            )
        return Session(access_token=SecretStr(token), expires_at=session_end(now), user_id=app.client_id)

    # --- both ---

    def logout(self, app: AppCredentials, session: Session) -> None:
        uid = session.user_id or app.client_id
        try:
            body = self._post(
                CLASSIC_BASE_URL,
                LOGOUT,
                {"ordersource": "API", "uid": uid},
                token=session.access_token.get_secret_value(),
            )
        except BrokerAuthError:
            return  # a 4xx (the docs: 403 is an expired session): the session is over already
        if body.get("stat") == "Ok":
            return
        message = str(body.get("emsg") or "logout refused")
        if "session" in message.lower():
            return  # Noren no longer knows the session: it is over already
        raise BrokerUnavailableError(message=f"finvasia: logout: {message}", broker=BROKER.value)

    def _post(
        self, default_base: str, route: str, values: Mapping[str, Any], token: str | None = None
    ) -> dict[str, Any]:
        base = (self._endpoint.base_url or default_base).rstrip("/")
        data = "jData=" + json.dumps(values) + (f"&jKey={token}" if token is not None else "")
        response = self._session.post(base + route, data=data)
        try:
            payload = json.loads(response.content)
        except ValueError:
            payload = None
        if 400 <= response.status_code < 500:
            said = str(payload.get("emsg") or "") if isinstance(payload, dict) else ""
            raise _refused(f"{route[1:]} refused: HTTP {response.status_code} {said}".rstrip())
        if not isinstance(payload, dict):
            raise BrokerUnavailableError(
                message=f"finvasia: unreadable {route[1:]} answer (HTTP {response.status_code})",
                broker=BROKER.value,
            )
        return payload

    @staticmethod
    def _ok(step: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("stat") == "Ok":
            return body
        raise _refused(f"{step} refused: {body.get('emsg') or body.get('stat') or 'no status'}")
