"""The channels a notification leaves by: Telegram's Bot API and SES, behind two small ports.

A channel's answer is one of three: accepted (the call returns), refused for good
(`ChannelRefused`: a wrong chat id, a blocked bot, a bad token, an address SES rejects; the
sender records it on the user's settings and never retries), or not now (`ChannelUnavailable`:
a 5xx, a 429 with Telegram's `retry_after`, a timeout, no connection; the sender retries with
back-off). Nothing here logs a URL or a request: Telegram's URL carries the bot token.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests
from botocore.exceptions import BotoCoreError, ClientError

TELEGRAM_API_URL = "https://api.telegram.org"
TELEGRAM_TEXT_LIMIT = 4096
# Connect, read: a notification is never worth holding a sender longer (its claim lasts 60 s).
TELEGRAM_TIMEOUT_S = (3.05, 7.0)
# SES errors that are about the message or its address (the user's to fix), not the service.
SES_REFUSALS = frozenset({"MessageRejected", "InvalidParameterValue"})


class ChannelRefused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


class ChannelUnavailable(Exception):
    def __init__(self, description: str, retry_after_s: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after_s = retry_after_s


class TelegramSender(Protocol):
    def send_message(self, bot_token: str, chat_id: str, text: str) -> None: ...


class EmailSender(Protocol):
    def send_email(self, address: str, subject: str, text: str) -> None: ...


class TelegramBotApi:
    """`POST {base}/bot{token}/sendMessage` with a JSON body; answers are
    `{"ok": true, "result": {...}}` or `{"ok": false, "error_code", "description",
    "parameters": {"retry_after"}}`."""

    def __init__(self, base_url: str = TELEGRAM_API_URL, session: requests.Session | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()

    def send_message(self, bot_token: str, chat_id: str, text: str) -> None:
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text[:TELEGRAM_TEXT_LIMIT],
            "disable_web_page_preview": True,
        }
        try:
            response = self._session.post(
                f"{self._base}/bot{bot_token}/sendMessage", json=body, timeout=TELEGRAM_TIMEOUT_S
            )
        except requests.Timeout:
            raise ChannelUnavailable("Telegram did not answer in time") from None
        except requests.RequestException:
            raise ChannelUnavailable("Telegram could not be reached") from None
        answer = _json(response)
        if response.status_code == 200 and answer.get("ok") is True:
            return
        status = int(answer.get("error_code") or response.status_code)
        description = str(answer.get("description") or response.reason or "no description")[:500]
        if status == 429 or response.status_code == 429:
            retry_after = (answer.get("parameters") or {}).get("retry_after")
            raise ChannelUnavailable(description, int(retry_after) if isinstance(retry_after, int) else None)
        if response.status_code >= 500 or status >= 500:
            raise ChannelUnavailable(description)
        raise ChannelRefused(status, description)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


class SesEmail:
    """SES `SendEmail` (plain text) from the platform's verified sender, through its
    configuration set when it has one."""

    def __init__(self, client: Any, sender: str, configuration_set: str | None = None) -> None:
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def send_email(self, address: str, subject: str, text: str) -> None:
        options = {"ConfigurationSetName": self._configuration_set} if self._configuration_set else {}
        try:
            self._client.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [address]},
                Message={
                    "Subject": {"Data": subject[:200], "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
                **options,
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            message = str(error.response.get("Error", {}).get("Message", code))[:500]
            if code in SES_REFUSALS:
                raise ChannelRefused(400, message) from None
            raise ChannelUnavailable(f"SES: {code or message}") from None
        except BotoCoreError:
            raise ChannelUnavailable("SES could not be reached") from None


class Outbox(TelegramSender, EmailSender, Protocol):
    """Both channels kept on this machine instead of sent (the local platform, tests)."""
