"""The login port: how an account's daily session is had, kept and given back.

Broker sessions last a day at most (Kite's until 06:00 the next morning, Upstox's until 03:30,
Angel One's and Shoonya's until the broker's nightly cut-off), so every trading morning each
account either logs itself in (Angel One: client code + PIN + TOTP, all stored) or waits for its
user to pass the broker's login page once (Kite, Upstox, Shoonya OAuth: the broker redirects
back with a one-time code that the platform exchanges, with the app secret, for the session).

An adapter raises `BrokerAuthError` when the broker refuses what it was given (a wrong secret, a
wrong PIN, an expired request token): the caller answers 4xx and stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared_utils.brokers.models import BrokerName


class AppCredentials(BaseModel):
    """What the user links: the broker app's key and secret and, for a broker the platform logs
    in by itself, the client's login factors. Stored in Secrets Manager, never returned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(min_length=1, max_length=64, description="the client code at the broker")
    api_key: SecretStr = Field(default=SecretStr(""))
    api_secret: SecretStr = Field(default=SecretStr(""))
    pin: SecretStr | None = None
    totp_secret: SecretStr | None = Field(default=None, description="base32, as the broker shows it")
    redirect_url: str | None = Field(default=None, max_length=512)


class Session(BaseModel):
    """One day's session: what the order adapters need, and when the broker ends it."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    expires_at: datetime
    user_id: str | None = None
    refresh_token: SecretStr | None = None
    feed_token: SecretStr | None = None


@runtime_checkable
class BrokerLogin(Protocol):
    @property
    def name(self) -> BrokerName: ...

    @property
    def logs_in_by_itself(self) -> bool:
        """True when `login` needs nobody (stored TOTP); False when the user passes a login page."""
        ...

    def login_url(self, app: AppCredentials, state: str) -> str:
        """The broker's login page for this app; it redirects back with a code and `state`."""
        ...

    def complete(self, app: AppCredentials, answer: Mapping[str, str]) -> Session:
        """Exchange the redirect's one-time code (Kite `request_token`, Upstox / Shoonya `code`)."""
        ...

    def login(self, app: AppCredentials, now: datetime) -> Session:
        """Log in without the user (only when `logs_in_by_itself`)."""
        ...

    def logout(self, app: AppCredentials, session: Session) -> None:
        """End the session at the broker (after the close, as the exchange asks)."""
        ...
