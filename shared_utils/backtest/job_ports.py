"""The two ports of backtest jobs, and their AWS adapters.

- `ResultStore`: where a job's `result.json` and `report.html` go, and the link a caller gets to
  each. Deployed: the results bucket, links presigned for 15 minutes (`S3ResultStore`); the
  local platform keeps them in its data directory and serves them itself.
- `JobStarter`: hands a job to whatever runs it. Deployed: an asynchronous invocation of the job
  function (`LambdaJobStarter`); the local platform runs it in a thread of its own process.

Both adapters take their client lazily (a GET builds no Lambda client) and an unset setting
fails only the call that needs it, with a `ConfigurationError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from shared_utils import keys
from shared_utils.backtest.job_models import CONTENT_TYPES, LINK_LIFETIME, JobRef
from shared_utils.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

# Lambda's answer to an accepted asynchronous invocation.
ACCEPTED = 202


class ResultStore(Protocol):
    def put(self, user_id: str, backtest_id: str, name: str, body: bytes) -> None:
        """Write one of the job's files (`job_models.CONTENT_TYPES` names them)."""
        ...

    def url(self, user_id: str, backtest_id: str, name: str) -> str:
        """Where the job's owner reads that file."""
        ...


class JobStarter(Protocol):
    def start(self, job: JobRef) -> None:
        """Hand the job over to be run (returns at once); raises when it could not be."""
        ...


class S3ResultStore:
    """`backtests/{user_id}/{backtest_id}/{name}` in the results bucket; links presigned GETs."""

    def __init__(self, client: Callable[[], S3Client], bucket: str | None) -> None:
        self._client = client
        self._bucket = bucket

    def _bucket_name(self) -> str:
        if not self._bucket:
            raise ConfigurationError(
                "BACKTEST_RESULTS_BUCKET is not set: backtest results have nowhere to go"
            )
        return self._bucket

    def put(self, user_id: str, backtest_id: str, name: str, body: bytes) -> None:
        self._client().put_object(
            Bucket=self._bucket_name(),
            Key=keys.backtest_object_key(user_id, backtest_id, name),
            Body=body,
            ContentType=CONTENT_TYPES[name],
        )

    def url(self, user_id: str, backtest_id: str, name: str) -> str:
        return self._client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket_name(),
                "Key": keys.backtest_object_key(user_id, backtest_id, name),
            },
            ExpiresIn=int(LINK_LIFETIME.total_seconds()),
        )


class LambdaJobStarter:
    """An asynchronous (`Event`) invocation of the job function with the job's reference; Lambda
    queues it and answers 202 at once."""

    def __init__(self, client: Callable[[], LambdaClient], function_name: str | None) -> None:
        self._client = client
        self._function = function_name

    def start(self, job: JobRef) -> None:
        if not self._function:
            raise ConfigurationError("BACKTEST_RUNNER_FUNCTION is not set: backtests cannot be started")
        response = self._client().invoke(
            FunctionName=self._function, InvocationType="Event", Payload=job.model_dump_json().encode()
        )
        if response.get("StatusCode") != ACCEPTED:
            raise ConfigurationError(
                f"{self._function} did not accept the backtest (status {response.get('StatusCode')})"
            )
