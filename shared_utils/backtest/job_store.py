"""Backtest jobs in their table (keys in `shared_utils.keys`), on the DynamoDB toolkit.

Each user's partition holds their jobs and one `RUNNING` item: the ids of their unfinished jobs
with each one's deadline, under a version. Adding a job puts the job and rewrites `RUNNING`
(the entries past their deadline pruned, the new one added) in one transaction, conditional on
the version read, so two requests at once cannot both take the last place. Taking a job
(QUEUED -> RUNNING) and ending it (-> DONE or FAILED) are transactions too, each conditional on
the job's status: a redelivered event finds it taken and does nothing, and a job's place is
given back exactly when it ends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime

from shared_utils import keys
from shared_utils.backtest.job_models import BacktestJob, JobSpec, JobStatus, JobSummary
from shared_utils.errors import AlreadyExistsError, ConflictError, FieldIssue, LimitExceededError
from shared_utils.models.items import StoredItem, serialize
from shared_utils.repository.dynamo import DynamoTable, Item

RUNNING_LIMIT = "BACKTESTS_RUNNING"
# Rewrites of the RUNNING item that lost to another one are read again and retried this often.
ADD_ATTEMPTS = 3


class BacktestJobItem(StoredItem):
    entity: ClassVar[str] = "BACKTEST_JOB"
    backtest_id: str
    user_id: str
    status: JobStatus
    request: JobSpec
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    deadline: AwareDatetime
    summary: JobSummary | None = None
    error: str | None = None
    expires_at: int  # epoch seconds: the table's TTL, with the results' expiry

    @classmethod
    def from_domain(cls, job: BacktestJob, expires_at: datetime) -> BacktestJobItem:
        return cls(
            pk=keys.user_pk(job.user_id),
            sk=keys.backtest_job_sk(job.backtest_id),
            expires_at=int(expires_at.timestamp()),
            **dict(job),
        )

    def to_domain(self) -> BacktestJob:
        return BacktestJob(**{name: getattr(self, name) for name in BacktestJob.model_fields})


def _iso(instant: datetime) -> str:
    """The stored form of a time (`models.items.to_storable`): ISO in UTC, so strings compare
    in time order inside condition expressions."""
    return instant.astimezone(UTC).isoformat()


class DynamoJobStore(DynamoTable):
    def add(self, job: BacktestJob, *, max_running: int, expires_at: datetime) -> None:
        """Store a new QUEUED job and take its place among the user's running ones; a user with
        `max_running` unfinished jobs (past deadlines not counted) gets a 409."""
        pk = keys.user_pk(job.user_id)
        item = BacktestJobItem.from_domain(job, expires_at).to_dynamo()
        for _attempt in range(ADD_ATTEMPTS):
            raw = self._get(pk, keys.BACKTEST_RUNNING_SK)
            version = int(raw["version"]["N"]) if raw else 0
            running = {
                backtest_id: deadline
                for backtest_id, deadline in _deadlines(raw).items()
                if deadline > _iso(job.created_at)
            }
            if len(running) >= max_running:
                raise LimitExceededError(
                    f"{len(running)} of your backtests are still running; at most {max_running} may run "
                    "at once: wait for one to finish (GET /options/backtests/{backtest_id})",
                    details=[FieldIssue("running", ", ".join(sorted(running)))],
                    code=RUNNING_LIMIT,
                )
            running[job.backtest_id] = _iso(job.deadline)
            ops: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **self._key(pk, keys.BACKTEST_RUNNING_SK),
                            "jobs": {"M": {key: {"S": value} for key, value in running.items()}},
                            "version": {"N": str(version + 1)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR version = :version",
                        "ExpressionAttributeValues": {":version": {"N": str(version)}},
                    }
                },
            ]
            reasons = self._transact(ops, raise_on_cancel=False)
            if reasons is None:
                return
            if reasons[0].condition_failed:
                raise AlreadyExistsError("a backtest with this id already exists")
            # Another request changed the user's running jobs since they were read: read again.
        raise ConflictError(
            "your backtests kept changing while this one was added; retry", code="TRANSACTION_CONFLICT"
        )

    def get(self, user_id: str, backtest_id: str, now: datetime) -> BacktestJob | None:
        """The job, None when there is none (or its item has expired: TTL deletes late)."""
        raw = self._get(keys.user_pk(user_id), keys.backtest_job_sk(backtest_id))
        if raw is None:
            return None
        item = BacktestJobItem.from_dynamo(raw)
        return item.to_domain() if item.expires_at > now.timestamp() else None

    def page(
        self, user_id: str, now: datetime, *, limit: int, next_token: str | None
    ) -> tuple[list[BacktestJob], str | None]:
        """One page of the user's jobs, newest first (expired items left out)."""
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "expires_at > :now",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.BACKTEST_JOB_PREFIX},
                ":now": {"N": str(int(now.timestamp()))},
            },
            "ScanIndexForward": False,
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"backtests:{user_id}"
        )
        return [BacktestJobItem.from_dynamo(raw).to_domain() for raw in items], token

    def start(
        self, user_id: str, backtest_id: str, started_at: datetime, deadline: datetime
    ) -> BacktestJob | None:
        """QUEUED -> RUNNING with its new deadline, if the job is QUEUED and its start deadline
        has not passed; None otherwise (taken already, finished, or too late to start)."""
        ops = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(keys.user_pk(user_id), keys.backtest_job_sk(backtest_id)),
                    "UpdateExpression": "SET #status = :running, started_at = :started, deadline = :deadline",
                    "ConditionExpression": "#status = :queued AND deadline > :started",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": serialize(
                        {
                            ":running": JobStatus.RUNNING,
                            ":queued": JobStatus.QUEUED,
                            ":started": started_at,
                            ":deadline": deadline,
                        }
                    ),
                }
            },
            self._running_update(
                user_id, "SET jobs.#id = :deadline", {":deadline": {"S": _iso(deadline)}}, backtest_id
            ),
        ]
        reasons = self._transact(ops, raise_on_cancel=False)
        if reasons is not None:
            if reasons[0].condition_failed:
                return None
            raise ConflictError("the backtest's running jobs item is missing; submit it again")
        return self.get(user_id, backtest_id, started_at)

    def finish(
        self,
        user_id: str,
        backtest_id: str,
        finished_at: datetime,
        *,
        summary: JobSummary | None = None,
        error: str | None = None,
    ) -> bool:
        """DONE with `summary`, or FAILED with `error`, and the job's place given back; False when
        the job was not unfinished (nothing changed)."""
        failed = error is not None
        values = serialize(
            {
                ":status": JobStatus.FAILED if failed else JobStatus.DONE,
                ":finished": finished_at,
                ":queued": JobStatus.QUEUED,
                ":running": JobStatus.RUNNING,
            }
            | ({":error": error} if failed else {":summary": summary})
        )
        outcome = "#error = :error" if failed else "summary = :summary"
        ops = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(keys.user_pk(user_id), keys.backtest_job_sk(backtest_id)),
                    "UpdateExpression": f"SET #status = :status, finished_at = :finished, {outcome}",
                    "ConditionExpression": "#status IN (:queued, :running)",
                    "ExpressionAttributeNames": {"#status": "status"}
                    | ({"#error": "error"} if failed else {}),
                    "ExpressionAttributeValues": values,
                }
            },
            self._running_update(user_id, "REMOVE jobs.#id", {}, backtest_id),
        ]
        reasons = self._transact(ops, raise_on_cancel=False)
        if reasons is None:
            return True
        if reasons[0].condition_failed:
            return False
        raise ConflictError("the backtest's running jobs item is missing")

    def _running_update(
        self, user_id: str, expression: str, values: dict[str, Any], backtest_id: str
    ) -> dict[str, Any]:
        """An update of the user's RUNNING item that moves its version (a concurrent `add`,
        which read the version before, then writes nothing and reads again)."""
        separator = ", " if expression.startswith("SET") else " SET "
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(keys.user_pk(user_id), keys.BACKTEST_RUNNING_SK),
                "UpdateExpression": f"{expression}{separator}version = version + :one",
                "ConditionExpression": "attribute_exists(jobs)",
                "ExpressionAttributeNames": {"#id": backtest_id},
                "ExpressionAttributeValues": {**values, ":one": {"N": "1"}},
            }
        }


def _deadlines(raw: Item | None) -> dict[str, str]:
    """The RUNNING item's job ids -> deadlines (stored ISO strings)."""
    if raw is None:
        return {}
    return {backtest_id: value["S"] for backtest_id, value in raw.get("jobs", {}).get("M", {}).items()}
