"""The sender: one delivery of the notification queue to its channel.

- A copy of a delivery already sent (or refused for good) is acknowledged without sending: the
  delivery mark (`marks.DeliveryMarks`) decides, by the delivery's dedupe key.
- The channel refused it for good (a 4xx: wrong chat id, blocked bot, rejected address): the
  error is recorded on the user's settings (that channel gets nothing more until the settings
  change or a test message gets through) and the message is done.
- The channel is out (5xx, 429, timeout, no connection): the claim is given back and the message
  is retried later: after Telegram's `retry_after` when it gave one, else 10 s, 20 s, 40 s ...
  (at most 15 minutes), until the queue's last receive sends it to the dead-letter queue.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from shared_utils.clock import Clock
from shared_utils.notifications.channels import (
    ChannelRefused,
    ChannelUnavailable,
    EmailSender,
    TelegramSender,
)
from shared_utils.notifications.marks import DeliveryMarks, MarkState
from shared_utils.notifications.models import Channel, ChannelError, Delivery
from shared_utils.notifications.queue import NotificationQueue
from shared_utils.notifications.secrets import NotificationSecrets
from shared_utils.notifications.settings_store import NotificationSettingsStore

RETRY_BASE_S = 10
RETRY_MAX_S = 900
# The queue's redrive: a delivery still failing after this many receives goes to the DLQ
# (10 + 20 + ... + 640 s: about 21 minutes of trying).
MAX_RECEIVES = 8


class SendOutcome(StrEnum):
    SENT = "SENT"
    DUPLICATE = "DUPLICATE"  # a copy of a delivery already sent or refused: nothing sent
    REFUSED = "REFUSED"  # the channel refused it for good: recorded on the settings


class RetryLater(Exception):
    def __init__(self, description: str, retry_after_s: int | None = None) -> None:
        super().__init__(description)
        self.retry_after_s = retry_after_s


def backoff_s(receive_count: int, retry_after_s: int | None = None) -> int:
    """When the next attempt may come: the channel's own `retry_after` if it gave one, else
    exponential from `RETRY_BASE_S`."""
    if retry_after_s is not None:
        return max(1, retry_after_s)
    return int(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, receive_count - 1)))


class DeliverySender:
    def __init__(
        self,
        marks: DeliveryMarks,
        settings: NotificationSettingsStore,
        secrets: NotificationSecrets,
        telegram: TelegramSender,
        email: EmailSender | None,
        clock: Clock,
    ) -> None:
        self._marks = marks
        self._settings = settings
        self._secrets = secrets
        self._telegram = telegram
        self._email = email
        self._clock = clock

    def deliver(self, delivery: Delivery) -> SendOutcome:
        key, token = delivery.dedupe_key, uuid.uuid4().hex
        claim = self._marks.claim(key, token)
        if not claim.won:
            if claim.held in (MarkState.SENT, MarkState.FAILED):
                return SendOutcome.DUPLICATE
            raise RetryLater("another sender holds this delivery", claim.retry_in_s)
        try:
            self._send(delivery)
        except ChannelRefused as refused:
            try:
                error = ChannelError(
                    status=refused.status, description=refused.description, at=self._clock.now()
                )
                self._settings.record_error(
                    delivery.user_id, delivery.channel, delivery.settings_version, error
                )
            except Exception:
                self._marks.release(key, token)
                raise
            self._marks.failed(key)
            return SendOutcome.REFUSED
        except ChannelUnavailable as unavailable:
            self._marks.release(key, token)
            raise RetryLater(unavailable.description, unavailable.retry_after_s) from None
        except Exception:
            self._marks.release(key, token)
            raise
        # From here to the SENT mark is the at-least-once window (docs/notifications.md).
        self._marks.sent(key)
        if delivery.kind is None:  # a test got through: the channel works again
            self._settings.clear_error(delivery.user_id, delivery.channel)
        return SendOutcome.SENT

    def _send(self, delivery: Delivery) -> None:
        if delivery.channel is Channel.TELEGRAM:
            bot_token = self._secrets.bot_token(delivery.user_id)
            if bot_token is None:
                raise ChannelRefused(401, "no bot token is stored: set one in the notification settings")
            self._telegram.send_message(bot_token, delivery.target, delivery.text)
        elif delivery.channel is Channel.EMAIL:
            if self._email is None:
                raise ChannelUnavailable("no e-mail sender is configured on this platform")
            self._email.send_email(delivery.target, delivery.subject, delivery.text)
        else:
            raise ChannelRefused(400, f"{delivery.channel.value} is not a channel the platform sends to")


def handle_message(
    sender: DeliverySender, queue: NotificationQueue, body: str, receipt_handle: str, receive_count: int
) -> SendOutcome:
    """One received message: delivered, or pushed back by the back-off before it fails (the
    batch reports it as failed, the queue keeps it invisible until its next attempt)."""
    delivery = Delivery.model_validate_json(body)
    try:
        return sender.deliver(delivery)
    except RetryLater as later:
        queue.retry_later(receipt_handle, backoff_s(receive_count, later.retry_after_s))
        raise
