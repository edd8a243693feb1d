"""StrategyExecutor: runs the strategy-run messages of the run queue (SQS event source mapping).

Partial batch responses (Powertools batch utilities): a message that fails goes back to the queue
alone; the queue's redrive policy moves it to the dead-letter queue (alarmed) after a few
receives. Each invocation has its own metric set, so invocations sharing a process (the local
platform's workers) never flush each other's metrics; what the process-wide services (the broker
registry's credentials provider) counted is flushed after it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.execution.runs import StrategyRun
from shared_utils.tracing import tracer

logger = Logger()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics = Metrics(provider=AmazonCloudWatchEMFProvider())
    executor = platform().run_executor(metrics)

    def run_one(record: SQSRecord) -> str:
        run = StrategyRun.model_validate_json(record.body)
        # Thread-local keys: the local platform runs several executors in one process.
        logger.thread_safe_append_keys(
            run=run.dedup_id(), receive_count=record.attributes.approximate_receive_count
        )
        try:
            return executor.execute(run)
        finally:
            logger.thread_safe_remove_keys(["run", "receive_count"])

    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        response = process_partial_response(
            event=event, record_handler=run_one, processor=processor, context=context
        )
        failed = len(response.get("batchItemFailures", []))
        metrics.add_metric(
            name="StrategyRunsExecuted", unit=MetricUnit.Count, value=len(event["Records"]) - failed
        )
        if failed:
            metrics.add_metric(name="StrategyRunsFailed", unit=MetricUnit.Count, value=failed)
        return dict(response)
    finally:
        metrics.flush_metrics()
        _flush_process_metrics()


def _flush_process_metrics() -> None:
    """What the platform's process-wide services counted during the invocation (the broker
    credentials provider's `BrokerCredentialsUnavailable`) goes out with it; Lambda runs one
    invocation at a time per container, so nothing of another invocation is in the set."""
    shared = Metrics()
    if shared.metric_set:
        shared.flush_metrics()
