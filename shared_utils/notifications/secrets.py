"""Where a user's Telegram bot token lives: a Secrets Manager secret `{prefix}{user_id}` (JSON
`{"telegram_bot_token": ...}`), encrypted with the platform's secrets key, like a broker
account's credentials; in memory on the local platform and in tests. The API writes and deletes
it and says only whether one is set; the sender reads it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from shared_utils.clock import Clock
from shared_utils.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NOT_FOUND = "ResourceNotFoundException"
# A warm sender reads a token again after this long (a replaced token reaches it within a minute).
TOKEN_CACHE = timedelta(seconds=60)


class NotificationSecrets(Protocol):
    def put_bot_token(self, user_id: str, token: str) -> None: ...
    def bot_token(self, user_id: str) -> str | None: ...
    def delete(self, user_id: str) -> None: ...


class SecretsManagerNotificationSecrets:
    def __init__(
        self, client: SecretsManagerClient, prefix: str, clock: Clock, kms_key_id: str | None = None
    ) -> None:
        if not prefix:
            raise ConfigurationError("NOTIFICATION_SECRET_PREFIX is not set: bot tokens have nowhere to go")
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._kms_key_id = kms_key_id
        self._cache: dict[str, tuple[datetime, str | None]] = {}

    def _name(self, user_id: str) -> str:
        return f"{self._prefix}{user_id}"

    def put_bot_token(self, user_id: str, token: str) -> None:
        value = json.dumps({"telegram_bot_token": token})
        try:
            self._client.put_secret_value(SecretId=self._name(user_id), SecretString=value)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != NOT_FOUND:
                raise
            if self._kms_key_id:
                self._client.create_secret(
                    Name=self._name(user_id), SecretString=value, KmsKeyId=self._kms_key_id
                )
            else:
                self._client.create_secret(Name=self._name(user_id), SecretString=value)
        self._cache.pop(user_id, None)

    def bot_token(self, user_id: str) -> str | None:
        now = self._clock.now()
        cached = self._cache.get(user_id)
        if cached is not None and now - cached[0] < TOKEN_CACHE:
            return cached[1]
        try:
            raw = self._client.get_secret_value(SecretId=self._name(user_id))["SecretString"]
            token = json.loads(raw).get("telegram_bot_token")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != NOT_FOUND:
                raise
            token = None
        self._cache[user_id] = (now, token)
        return token if isinstance(token, str) else None

    def delete(self, user_id: str) -> None:
        self._cache.pop(user_id, None)
        try:
            self._client.delete_secret(SecretId=self._name(user_id), ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != NOT_FOUND:
                raise


class MemoryNotificationSecrets:
    """The local platform's and the tests' bot tokens."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def put_bot_token(self, user_id: str, token: str) -> None:
        self.tokens[user_id] = token

    def bot_token(self, user_id: str) -> str | None:
        return self.tokens.get(user_id)

    def delete(self, user_id: str) -> None:
        self.tokens.pop(user_id, None)
