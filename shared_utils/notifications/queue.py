"""The notification queue: deliveries in, and a failed delivery's next attempt pushed back
(SQS: `ChangeMessageVisibility` on the received message; the queue's redrive policy moves it to
the dead-letter queue after its last receive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger

from shared_utils.notifications.models import Delivery

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

logger = Logger(child=True)

SEND_BATCH_LIMIT = 10  # SendMessageBatch's maximum entries
SEND_ATTEMPTS = 3
MAX_VISIBILITY_S = 43_200  # SQS's visibility timeout limit (12 hours)


class NotificationsNotQueued(Exception):
    """Some deliveries could not be queued: the stream batch is retried (its copies dedupe)."""


class NotificationQueue(Protocol):
    def send(self, deliveries: Sequence[Delivery]) -> None: ...

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """The received message comes back in `delay_s` seconds (not before)."""
        ...


class SqsNotificationQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, deliveries: Sequence[Delivery]) -> None:
        for start in range(0, len(deliveries), SEND_BATCH_LIMIT):
            self._send_batch(deliveries[start : start + SEND_BATCH_LIMIT])

    def _send_batch(self, chunk: Sequence[Delivery]) -> None:
        pending: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": delivery.model_dump_json()}
            for index, delivery in enumerate(chunk)
        ]
        for _attempt in range(SEND_ATTEMPTS):
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=pending)
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            if not failed:
                return
            pending = [entry for entry in pending if entry["Id"] in failed]
        logger.error("Notifications not queued", extra={"failed": len(pending)})
        raise NotificationsNotQueued(f"{len(pending)} notifications not queued")

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=self._url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY_S, delay_s)),
        )
