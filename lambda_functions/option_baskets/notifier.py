"""Notifier: the history and broker-accounts tables' streams -> one delivery per (event, user,
channel) on the notification queue. Nothing on the trading path calls it or waits for it. It also
reads the stack's alarm topic: each CloudWatch alarm going into ALARM or back to OK -> one
delivery per opted-in admin and channel (SNS retries a failed invocation; the copies dedupe).

A batch that fails (its preferences or the queue unreachable) is retried by the event source
(bisected, then to its on-failure queue); the deliveries a retry queues again carry the same
dedupe keys, so the sender sends each once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.tracing import tracer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = platform().notify_records(event.get("Records", []))
    metrics.add_metric(name="NotificationEvents", unit=MetricUnit.Count, value=report.events)
    metrics.add_metric(name="NotificationsQueued", unit=MetricUnit.Count, value=report.deliveries)
    logger.info("Stream records read for notifications", extra=report.model_dump())
    return {"batchItemFailures": []}
