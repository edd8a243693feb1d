"""Broker credentials: a port, and its Secrets Manager implementation (Powertools parameters).

Secrets live in Secrets Manager as JSON under `{broker_secret_prefix}{account_id}`:
`{"api_key": "...", "access_token": "...", "user_id": "..."}` (Zerodha: api key + access token;
Angel One: api key + JWT + client code; Finvasia: user id + session token `susertoken`).
Values are `SecretStr`, so they never show in reprs or logs. If a secret cannot be read (and no
unexpired cached copy exists) the provider fails closed with `BrokerAuthError` and emits the
`BrokerCredentialsUnavailable` metric; no adapter is built, so no order is sent.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from shared_utils.brokers.port import BrokerAuthError
from shared_utils.errors import ConfigurationError

logger = Logger(child=True)

CREDENTIALS_UNAVAILABLE_METRIC = "BrokerCredentialsUnavailable"
DEFAULT_MAX_AGE_S = 300


class BrokerCredentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    api_key: SecretStr = Field(default=SecretStr(""))
    access_token: SecretStr
    user_id: str | None = Field(default=None, max_length=64)

    def fingerprint(self) -> str:
        """A hash that changes when any value changes (to rebuild clients after a token rotation)."""
        material = "\x1f".join(
            [self.api_key.get_secret_value(), self.access_token.get_secret_value(), self.user_id or ""]
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


class CredentialsProvider(Protocol):
    def get(self, account_id: str, *, refresh: bool = False) -> BrokerCredentials:
        """Raises `BrokerAuthError` when the credentials cannot be had."""
        ...


class StaticCredentialsProvider:
    """Credentials held in memory: tests and the local platform."""

    def __init__(self, credentials: dict[str, BrokerCredentials]) -> None:
        self._credentials = dict(credentials)

    def put(self, account_id: str, credentials: BrokerCredentials) -> None:
        self._credentials[account_id] = credentials

    def get(self, account_id: str, *, refresh: bool = False) -> BrokerCredentials:
        found = self._credentials.get(account_id)
        if found is None:
            raise BrokerAuthError(message=f"no credentials for broker account {account_id}")
        return found


class SecretsManagerCredentialsProvider:
    def __init__(
        self,
        secret_prefix: str,
        secrets: parameters.SecretsProvider,
        metrics: Metrics,
        max_age_s: int = DEFAULT_MAX_AGE_S,
    ) -> None:
        if not secret_prefix:
            raise ConfigurationError(message="broker_secret_prefix is not configured")
        self._prefix = secret_prefix
        self._secrets = secrets
        self._metrics = metrics
        self._max_age_s = max_age_s

    def secret_name(self, account_id: str) -> str:
        return f"{self._prefix}{account_id}"

    def get(self, account_id: str, *, refresh: bool = False) -> BrokerCredentials:
        name = self.secret_name(account_id)
        try:
            raw: Any = self._secrets.get(name, max_age=self._max_age_s, transform="json", force_fetch=refresh)
            return BrokerCredentials.model_validate(raw)
        except (
            parameters.exceptions.GetParameterError,
            parameters.exceptions.TransformParameterError,
            ValidationError,
        ) as error:
            # Only the secret's name and the error's type: messages may quote content.
            logger.error("broker credentials unavailable", secret_name=name, error_type=type(error).__name__)
            self._metrics.add_metric(name=CREDENTIALS_UNAVAILABLE_METRIC, unit=MetricUnit.Count, value=1)
            raise BrokerAuthError(
                message=f"credentials for broker account {account_id} unavailable"
            ) from None
