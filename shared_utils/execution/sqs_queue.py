"""`RunQueue` on SQS: SendMessageBatch, 10 messages per call, up to `SENDERS` calls at once (the
trigger of a busy minute queues thousands of runs), the entries SQS did not take sent again, and
an error when some still fail, so the caller gives back what it claimed."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from shared_utils.errors import RunsNotQueuedError
from shared_utils.execution.runs import SEND_BATCH_LIMIT, StrategyRun

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

logger = Logger(child=True)

SEND_ATTEMPTS = 3
MAX_DELAY_S = 900  # SQS's DelaySeconds limit
SENDERS = 8  # concurrent SendMessageBatch calls (boto3 clients are thread-safe)


class SqsRunQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_S, delay_s))
        chunks = [runs[start : start + SEND_BATCH_LIMIT] for start in range(0, len(runs), SEND_BATCH_LIMIT)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._send_batch(chunk, delay)
            return
        failures: list[RunsNotQueuedError] = []
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(chunks)), thread_name_prefix="sqs-send") as pool:
            for future in [pool.submit(self._send_batch, chunk, delay) for chunk in chunks]:
                try:
                    future.result()
                except RunsNotQueuedError as error:
                    failures.append(error)
        if failures:
            detail = "; ".join(str(error.message) for error in failures[:3])
            raise RunsNotQueuedError(sum(error.failed for error in failures), detail)

    def _send_batch(self, chunk: Sequence[StrategyRun], delay: int) -> None:
        pending: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": run.model_dump_json(), "DelaySeconds": delay}
            for index, run in enumerate(chunk)
        ]
        detail = ""
        for _attempt in range(SEND_ATTEMPTS):
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=pending)
            failed = {entry["Id"]: entry for entry in response.get("Failed", [])}
            if not failed:
                return
            detail = "; ".join(f"{f.get('Code')}: {f.get('Message', '')}" for f in failed.values())
            # A sender fault (a malformed entry) will not succeed on a retry.
            if any(f.get("SenderFault") for f in failed.values()):
                raise RunsNotQueuedError(len(failed), detail)
            pending = [entry for entry in pending if entry["Id"] in failed]
        logger.error("Strategy runs not queued", extra={"failed": len(pending), "detail": detail})
        raise RunsNotQueuedError(len(pending), detail)
