"""NotificationSender: the notification queue (SQS event source, partial batch responses) ->
Telegram and e-mail. A delivery already sent is acknowledged without sending; one a channel could
not take now is pushed back by its back-off and reported failed (the queue dead-letters it after
its last receive); one a channel refuses for good is recorded on the user's settings."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.notifications.sender import SendOutcome, handle_message
from shared_utils.tracing import tracer

logger = Logger()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics = Metrics()
    root = platform()
    outcomes: dict[SendOutcome, int] = {}

    def send_one(record: SQSRecord) -> str:
        outcome = handle_message(
            root.notification_sender,
            root.notification_queue,
            record.body,
            record.receipt_handle,
            int(record.attributes.approximate_receive_count or 1),
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcome.value

    # A batch that all failed (Telegram down) is no error of the function: each message comes back
    # after its own back-off, and the DLQ's alarm tells when retrying did not help.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        response = process_partial_response(
            event=event, record_handler=send_one, processor=processor, context=context
        )
        metrics.add_metric(
            name="NotificationsSent", unit=MetricUnit.Count, value=outcomes.get(SendOutcome.SENT, 0)
        )
        metrics.add_metric(
            name="NotificationsRefused", unit=MetricUnit.Count, value=outcomes.get(SendOutcome.REFUSED, 0)
        )
        metrics.add_metric(
            name="NotificationsRetried",
            unit=MetricUnit.Count,
            value=len(response.get("batchItemFailures", [])),
        )
        return dict(response)
    finally:
        metrics.flush_metrics()
