"""Where an account's secrets live: the app's credentials (`{app prefix}{account}`: API key and
secret, PIN, TOTP secret) and the day's session (`{session prefix}{account}`, the shape the
order adapters read through `brokers.credentials`). Two prefixes, so the functions that place
orders may read sessions and never the app secrets. Values are written, read by the login code,
and never returned by the API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from shared_utils.brokers.login import AppCredentials, Session
from shared_utils.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class AccountSecrets(Protocol):
    def put_app(self, account_id: str, app: AppCredentials) -> None: ...
    def app(self, account_id: str) -> AppCredentials | None: ...
    def put_session(self, account_id: str, session: Session) -> None: ...
    def session(self, account_id: str) -> Session | None: ...
    def delete(self, account_id: str) -> None: ...


def _reveal(app: AppCredentials) -> str:
    return json.dumps(
        {
            name: value.get_secret_value() if hasattr(value, "get_secret_value") else value
            for name, value in app
            if value is not None
        }
    )


class SecretsManagerAccountSecrets:
    def __init__(
        self,
        client: SecretsManagerClient,
        app_prefix: str,
        session_prefix: str,
        kms_key_id: str | None = None,
    ) -> None:
        if not app_prefix or not session_prefix or app_prefix == session_prefix:
            raise ConfigurationError("broker app and session secret prefixes must be set and differ")
        self._client = client
        self._app_prefix = app_prefix
        self._session_prefix = session_prefix
        self._kms_key_id = kms_key_id

    def _put(self, name: str, value: str) -> None:
        try:
            self._client.put_secret_value(SecretId=name, SecretString=value)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            if self._kms_key_id:
                self._client.create_secret(Name=name, SecretString=value, KmsKeyId=self._kms_key_id)
            else:
                self._client.create_secret(Name=name, SecretString=value)

    def _get(self, name: str) -> str | None:
        try:
            return self._client.get_secret_value(SecretId=name)["SecretString"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def put_app(self, account_id: str, app: AppCredentials) -> None:
        self._put(f"{self._app_prefix}{account_id}", _reveal(app))

    def app(self, account_id: str) -> AppCredentials | None:
        raw = self._get(f"{self._app_prefix}{account_id}")
        return None if raw is None else AppCredentials.model_validate_json(raw)

    def put_session(self, account_id: str, session: Session) -> None:
        # The order adapters' shape (`BrokerCredentials`): api_key, access_token, user_id.
        app = self.app(account_id)
        value = {
            "api_key": app.api_key.get_secret_value() if app else "",
            "access_token": session.access_token.get_secret_value(),
            "user_id": session.user_id,
            "expires_at": session.expires_at.isoformat(),
        }
        self._put(f"{self._session_prefix}{account_id}", json.dumps(value))

    def session(self, account_id: str) -> Session | None:
        raw = self._get(f"{self._session_prefix}{account_id}")
        if raw is None:
            return None
        value = json.loads(raw)
        if "expires_at" not in value:
            return None
        return Session.model_validate(value)

    def delete(self, account_id: str) -> None:
        for name in (f"{self._app_prefix}{account_id}", f"{self._session_prefix}{account_id}"):
            try:
                self._client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise


class MemoryAccountSecrets:
    """The local platform's and tests' secrets: in memory."""

    def __init__(self) -> None:
        self.apps: dict[str, AppCredentials] = {}
        self.sessions: dict[str, Session] = {}

    def put_app(self, account_id: str, app: AppCredentials) -> None:
        self.apps[account_id] = app

    def app(self, account_id: str) -> AppCredentials | None:
        return self.apps.get(account_id)

    def put_session(self, account_id: str, session: Session) -> None:
        self.sessions[account_id] = session

    def session(self, account_id: str) -> Session | None:
        return self.sessions.get(account_id)

    def delete(self, account_id: str) -> None:
        self.apps.pop(account_id, None)
        self.sessions.pop(account_id, None)
