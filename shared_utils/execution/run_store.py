"""Runs and their history records: the plan a run's first attempt stored (a retry places the same
orders), the retry list (sparse GSI1 `RETRY#{date}`), and the records the executions route shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.execution.armed import ArmedEntry
from shared_utils.execution.history_table import HistoryTable, utc
from shared_utils.execution.models import ExecutionPlan, ExecutionRecord
from shared_utils.models.items import deserialize, serialize
from shared_utils.repository.dynamo import condition_lost
from shared_utils.tables import EXECUTIONS_BY_STRATEGY


def record_key(plan: ExecutionPlan, started_at: datetime) -> str:
    """The sort key of the history record a run's first attempt starts."""
    return keys.execution_record_sk(utc(started_at), plan.strategy_id, plan.action.value)


def run_item(plan: ExecutionPlan, record_sk: str, *, retry: bool = False) -> dict[str, Any]:
    """A run's first attempt as stored; `retry`: already on the retry sweep's list."""
    item: dict[str, Any] = {
        "pk": keys.user_pk(plan.user_id),
        "sk": keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name),
        "entity": "RUN",
        "plan": plan.model_dump_json(),
        "record_sk": record_sk,
        "attempts": 1,
    }
    if retry:
        item["gsi1pk"] = keys.retry_gsi1pk(plan.trade_date)
        item["gsi1sk"] = keys.retry_gsi1sk(plan.user_id, plan.strategy_id, plan.run_name)
    return serialize(item)


def record_item(record: ExecutionRecord, record_sk: str) -> dict[str, Any]:
    started = record_sk.split(keys.SEPARATOR)[0]
    return serialize(
        {
            "pk": keys.user_pk(record.user_id),
            "sk": record_sk,
            "gsi1pk": keys.strategy_gsi1pk(record.strategy_id),
            "gsi1sk": keys.execution_record_gsi1sk(started, record.run_name),
            "entity": "EXECUTION",
            "record": record.model_dump_json(),
        }
    )


class RunStore(HistoryTable):
    def start_run(self, plan: ExecutionPlan, started_at: datetime) -> tuple[ExecutionPlan, str, int]:
        """The run's stored plan and record key: the given plan on the first attempt, the plan
        stored by the first attempt on every retry (so a retry places the same orders)."""
        record_sk = record_key(plan, started_at)
        item = run_item(plan, record_sk)
        sk = item["sk"]["S"]
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return plan, record_sk, 1
        except ClientError as error:
            if not condition_lost(error):
                raise
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(plan.user_id), sk),
            UpdateExpression="ADD attempts :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        stored = deserialize(response["Attributes"])
        return ExecutionPlan.model_validate_json(stored["plan"]), stored["record_sk"], int(stored["attempts"])

    def mark_retry(self, plan: ExecutionPlan, pending: bool) -> None:
        """List the run for the retry sweep (or take it off the list)."""
        key = self._key(
            keys.user_pk(plan.user_id), keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name)
        )
        if pending:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET gsi1pk = :pk, gsi1sk = :sk",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.retry_gsi1pk(plan.trade_date)},
                    ":sk": {"S": keys.retry_gsi1sk(plan.user_id, plan.strategy_id, plan.run_name)},
                },
            )
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="REMOVE gsi1pk, gsi1sk",
                ConditionExpression="attribute_exists(gsi1pk)",
            )
        except ClientError as error:
            if not condition_lost(error):
                raise

    def runs_to_retry(self, trade_date: date) -> list[tuple[str, str, str]]:
        """(user_id, strategy_id, run_name) of every run of the day waiting for a retry."""
        found: list[tuple[str, str, str]] = []
        for raw in self._query_all(
            IndexName=EXECUTIONS_BY_STRATEGY,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.retry_gsi1pk(trade_date)}},
        ):
            user_id, strategy_id, run_name = raw["gsi1sk"]["S"].split(keys.SEPARATOR)
            found.append((user_id, strategy_id, run_name))
        return found

    def arm(self, armed: ArmedEntry) -> bool:
        item = {
            "pk": keys.user_pk(armed.user_id),
            "sk": keys.armed_sk(armed.trade_date, armed.strategy_id, armed.run_name),
            "gsi1pk": keys.armed_gsi1pk(armed.trade_date),
            "gsi1sk": keys.SEPARATOR.join((armed.user_id, armed.strategy_id, armed.run_name)),
            "entity": "ARMED",
            "armed": armed.model_dump_json(),
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )
            return True
        except ClientError as error:
            if not condition_lost(error):
                raise
            return False

    def armed_entries(self, trade_date: date) -> list[ArmedEntry]:
        """The day's armed entries (GSI1 `ARMED#{date}`: one query a minute, for the tick)."""
        return [
            ArmedEntry.model_validate_json(raw["armed"]["S"])
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.armed_gsi1pk(trade_date)}},
            )
        ]

    def get_armed(self, user_id: str, trade_date: date, strategy_id: str, run_name: str) -> ArmedEntry | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.armed_sk(trade_date, strategy_id, run_name)),
            ConsistentRead=True,
        ).get("Item")
        return ArmedEntry.model_validate_json(item["armed"]["S"]) if item else None

    def disarm(self, user_id: str, trade_date: date, strategy_id: str, run_name: str) -> None:
        self._client.delete_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.armed_sk(trade_date, strategy_id, run_name)),
        )

    def next_signal_number(self, user_id: str, strategy_id: str, trade_date: date) -> int:
        """Number a signal as it is received (1, 2 ... per strategy and day): its run's name."""
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.signals_sk(trade_date, strategy_id)),
            UpdateExpression="ADD issued :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["issued"]["N"])

    def signal_ran(self, user_id: str, strategy_id: str, trade_date: date, number: int) -> bool:
        """Record that signal `number` runs now; False if a later one already ran (this one came
        out of order: it must not act). The same number again (a redelivery) is True."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.signals_sk(trade_date, strategy_id)),
                UpdateExpression="SET ran = :n",
                ConditionExpression="attribute_not_exists(ran) OR ran <= :n",
                ExpressionAttributeValues={":n": {"N": str(number)}},
            )
            return True
        except ClientError as error:
            if not condition_lost(error):
                raise
            return False

    def get_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> ExecutionPlan | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.run_sk(trade_date, strategy_id, run_name)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ExecutionPlan.model_validate_json(deserialize(item)["plan"]) if item else None

    def put_record(self, record: ExecutionRecord, record_sk: str) -> None:
        item = record_item(record, record_sk)
        self._client.put_item(TableName=self._table, Item=item)

    def list_records(
        self,
        user_id: str,
        start: datetime,
        end: datetime,
        *,
        strategy_id: str | None = None,
        limit: int = 25,
        next_token: str | None = None,
    ) -> tuple[list[ExecutionRecord], str | None]:
        """A user's records started in [start, end], newest first; with `strategy_id` through the
        ExecutionsByStrategy index (only that strategy's records are read)."""
        low, high = utc(start), utc(end) + "~"
        if strategy_id is None:
            scope = f"executions:{user_id}"
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":low": {"S": low},
                    ":high": {"S": high},
                },
            }
        else:
            scope = f"executions:{user_id}:{strategy_id}"
            kwargs = {
                "IndexName": EXECUTIONS_BY_STRATEGY,
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
                "FilterExpression": "pk = :user",
                "ExpressionAttributeValues": {
                    ":pk": {"S": keys.strategy_gsi1pk(strategy_id)},
                    ":low": {"S": low},
                    ":high": {"S": high},
                    ":user": {"S": keys.user_pk(user_id)},
                },
            }
        kwargs.update(TableName=self._table, ScanIndexForward=False, Limit=limit)
        begin = self._cursors.decode(next_token, scope)
        if begin is not None:
            kwargs["ExclusiveStartKey"] = begin
        response = self._client.query(**kwargs)
        records = [
            ExecutionRecord.model_validate_json(deserialize(raw)["record"])
            for raw in response.get("Items", [])
        ]
        return records, self._cursors.encode(response.get("LastEvaluatedKey"), scope)

    def annotate_record(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str, note: str
    ) -> None:
        """Add `note` to the reason of the run's history record (what the executions route shows)."""
        run = self._client.get_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.run_sk(trade_date, strategy_id, run_name)),
            ConsistentRead=True,
        ).get("Item")
        if not run or "record_sk" not in run:
            return
        record_sk = run["record_sk"]["S"]
        item = self._client.get_item(
            TableName=self._table, Key=self._key(keys.user_pk(user_id), record_sk), ConsistentRead=True
        ).get("Item")
        if not item:
            return
        record = ExecutionRecord.model_validate_json(deserialize(item)["record"])
        if note in (record.reason or ""):
            return
        reason = f"{record.reason}; {note}" if record.reason else note
        self.put_record(record.model_copy(update={"reason": reason}), record_sk)
