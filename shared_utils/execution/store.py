"""DynamoDB adapter of the execution-history table: order ledger, runs, records, positions, kill
switches and broker-position mismatches (key layout in `shared_utils.keys`, execution section).

The ledger entry of an order is written with `attribute_not_exists` before its broker is called;
every later change is conditional on the entry's `attempt`, so two processes can never both
act on one order. A fill is added to its position under a condition on the order key (the
position keeps the set of keys it counted), so a position never counts a fill twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import ConflictError
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    LedgerStatus,
    PlannedOrder,
    PositionView,
)
from shared_utils.models.common import Action, Product
from shared_utils.models.items import deserialize, serialize
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.paging import BATCH_GET_ATTEMPTS, BATCH_GET_LIMIT, query_all
from shared_utils.repository.transactions import CONDITIONAL_CHECK_FAILED, error_code
from shared_utils.tables import EXECUTIONS_BY_STRATEGY
from shared_utils.timer.checks import ContractDifference

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_LEDGER_FIELDS = set(LedgerEntry.model_fields)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def _valuation(
    net: int, buy_q: int, buy_v: Decimal, sell_q: int, sell_v: Decimal, last: Decimal | None
) -> tuple[Decimal | None, Decimal, Decimal | None]:
    """Average price of the open side, realised and unrealised P&L (average-cost method)."""
    if net > 0:
        average = buy_v / buy_q
        return average, sell_v - sell_q * average, net * (last - average) if last is not None else None
    if net < 0:
        average = sell_v / sell_q
        return average, buy_q * average - buy_v, -net * (average - last) if last is not None else None
    return None, sell_v - buy_v, Decimal("0")


def revalue(position: PositionView, last_price: Decimal) -> PositionView:
    """The position marked at `last_price`."""
    _average, realised, unrealised = _valuation(
        position.net_quantity,
        position.buy_quantity,
        position.buy_value,
        position.sell_quantity,
        position.sell_value,
        last_price,
    )
    cents = Decimal("0.01")
    return position.model_copy(
        update={
            "last_price": last_price,
            "realised_pnl": realised.quantize(cents),
            "unrealised_pnl": unrealised.quantize(cents) if unrealised is not None else None,
        }
    )


def position_from_item(data: dict[str, Any]) -> PositionView:
    net = int(data.get("net_quantity", 0))
    buy_q, sell_q = int(data.get("buy_quantity", 0)), int(data.get("sell_quantity", 0))
    buy_v, sell_v = Decimal(data.get("buy_value", 0)), Decimal(data.get("sell_value", 0))
    last = Decimal(data["last_price"]) if data.get("last_price") is not None else None
    average, realised, unrealised = _valuation(net, buy_q, buy_v, sell_q, sell_v, last)
    cents = Decimal("0.01")
    return PositionView(
        user_id=data["user_id"],
        strategy_id=data["strategy_id"],
        entry_date=date.fromisoformat(data["entry_date"]),
        broker_account_id=data["broker_account_id"],
        broker=data["broker"],
        leg_no=int(data["leg_no"]),
        instrument=OptionInstrument.model_validate(data["instrument"]),
        product=Product(data["product"]),
        net_quantity=net,
        buy_quantity=buy_q,
        buy_value=buy_v,
        sell_quantity=sell_q,
        sell_value=sell_v,
        last_price=last,
        realised_pnl=realised.quantize(cents),
        unrealised_pnl=unrealised.quantize(cents) if unrealised is not None else None,
        average_price=average.quantize(cents) if average is not None else None,
        position_sk=data["sk"],
    )


class ExecutionStore:
    def __init__(
        self, client: DynamoDBClient, table_name: str, cursor_codec: CursorCodec = DEFAULT_CODEC
    ) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursor_codec

    # ------------------------------------------------------------------ ledger

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def claim(self, entry: LedgerEntry, trade_date: date) -> LedgerEntry | None:
        """Write a new ledger entry; None when written, else the entry already there."""
        created = _utc(entry.created_at)
        item = serialize(
            {
                "pk": keys.user_pk(entry.user_id),
                "sk": keys.ledger_sk(entry.order_key),
                "gsi1pk": keys.ledger_gsi1pk(trade_date),
                "gsi1sk": keys.ledger_gsi1sk(created, entry.order_key),
                "entity": "LEDGER",
                **entry.model_dump(exclude_none=True),
            }
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
                raise
            old: Any = error.response.get("Item")
            return self._ledger(old) if old else self.get_ledger(entry.user_id, entry.order_key)
        return None

    @staticmethod
    def _ledger(raw: dict[str, Any]) -> LedgerEntry:
        data = deserialize(raw)
        return LedgerEntry.model_validate({k: v for k, v in data.items() if k in _LEDGER_FIELDS})

    def get_ledger(self, user_id: str, order_key: str) -> LedgerEntry | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.ledger_sk(order_key)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self._ledger(item) if item else None

    def take_over(self, entry: LedgerEntry, now: datetime) -> LedgerEntry | None:
        """Move an unfinished entry to PENDING under a new attempt; None when someone else did."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(entry.user_id), keys.ledger_sk(entry.order_key)),
                UpdateExpression="SET #status = :pending, attempt = :next, updated_at = :now",
                ConditionExpression="attempt = :attempt AND #status = :seen",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":pending": LedgerStatus.PENDING.value,
                        ":next": entry.attempt + 1,
                        ":attempt": entry.attempt,
                        ":seen": entry.status.value,
                        ":now": now,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == CONDITIONAL_CHECK_FAILED:
                return None
            raise
        return self._ledger(response["Attributes"])

    def record(
        self,
        entry: LedgerEntry,
        order: PlannedOrder,
        *,
        status: LedgerStatus,
        now: datetime,
        broker_order_id: str | None = None,
        filled_quantity: int = 0,
        average_price: Decimal | None = None,
        reason: str | None = None,
        user_id: str,
        strategy_id: str,
        opening: bool,
    ) -> LedgerEntry:
        """Store the outcome of this attempt; a FILLED outcome first moves the position, once
        per order key (a fill is counted once, whatever retries follow)."""
        ids = list(entry.broker_order_ids)
        if broker_order_id and broker_order_id not in ids:
            ids.append(broker_order_id)
        sets: dict[str, Any] = {
            "#status": status.value,
            "quantity": order.quantity,  # a closing order may have been cut to what was still open
            "broker_order_ids": ids,
            "filled_quantity": filled_quantity,
            "updated_at": now,
        }
        if average_price is not None:
            sets["average_price"] = average_price
        if reason is not None:
            sets["reason"] = reason[:500]
        names = {"#status": "status"} | {f"#f{i}": name for i, name in enumerate(sets) if name != "#status"}
        alias = {name: ("#status" if name == "#status" else f"#f{i}") for i, name in enumerate(sets)}
        values = serialize({f":v{i}": value for i, value in enumerate(sets.values())})
        values[":attempt"] = {"N": str(entry.attempt)}
        values[":filled"] = {"S": LedgerStatus.FILLED.value}
        expression = "SET " + ", ".join(f"{alias[name]} = :v{i}" for i, name in enumerate(sets))
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(keys.user_pk(entry.user_id), keys.ledger_sk(entry.order_key)),
            "UpdateExpression": expression,
            "ConditionExpression": "attempt = :attempt AND #status <> :filled",
            "ExpressionAttributeNames": {k: v for k, v in names.items()},
            "ExpressionAttributeValues": values,
        }
        if status is LedgerStatus.FILLED and filled_quantity > 0 and average_price is not None:
            # The position first, guarded by the order key: applying a fill twice is impossible,
            # and a crash before the ledger update below is completed by the retry's reconcile.
            position = self._position_update(
                order, user_id, strategy_id, filled_quantity, average_price, opening, now
            )
            try:
                self._client.update_item(**position)
            except ClientError as error:
                if error_code(error) != CONDITIONAL_CHECK_FAILED:
                    raise
            if not opening:
                self._close_if_flat(user_id, order.position_sk)
        try:
            self._client.update_item(**update)
        except ClientError as error:
            if error_code(error) == CONDITIONAL_CHECK_FAILED:
                raise ConflictError(
                    f"ledger entry {entry.order_key} moved on under another attempt"
                ) from error
            raise
        return entry.model_copy(
            update={
                "status": status,
                "quantity": order.quantity,
                "broker_order_ids": ids,
                "filled_quantity": filled_quantity,
                "average_price": average_price if average_price is not None else entry.average_price,
                "reason": reason if reason is not None else entry.reason,
                "updated_at": now,
            }
        )

    def _position_update(
        self,
        order: PlannedOrder,
        user_id: str,
        strategy_id: str,
        quantity: int,
        price: Decimal,
        opening: bool,
        now: datetime,
    ) -> dict[str, Any]:
        buying = order.side is Action.BUY
        sets = {
            "user_id": user_id,
            "strategy_id": strategy_id,
            "broker_account_id": order.broker_account_id,
            "broker": order.broker,
            "leg_no": order.leg_no,
            "instrument": order.instrument,
            "product": order.product,
            "entry_date": order.position_sk.split(keys.SEPARATOR)[2],
            "entity": "POSITION",
        }
        names = {f"#s{i}": name for i, name in enumerate(sets)}
        values = serialize({f":s{i}": value for i, value in enumerate(sets.values())})
        expression = "SET " + ", ".join(f"#s{i} = if_not_exists(#s{i}, :s{i})" for i in range(len(sets)))
        expression += ", updated_at = :now"
        values[":now"] = {"S": now.isoformat()}
        if opening:
            expression += ", gsi1pk = :open, gsi1sk = :opensk"
            values[":open"] = {"S": keys.open_positions_gsi1pk(user_id)}
            values[":opensk"] = {"S": f"{user_id}{keys.SEPARATOR}{order.position_sk}"}
        signed = quantity if buying else -quantity
        value = price * quantity
        side = "buy" if buying else "sell"
        expression += f" ADD net_quantity :signed, {side}_quantity :qty, {side}_value :value, applied :key"
        values[":key"] = {"SS": [order.order_key]}
        values[":one_key"] = {"S": order.order_key}
        values[":signed"] = {"N": str(signed)}
        values[":qty"] = {"N": str(quantity)}
        values[":value"] = {"N": str(value)}
        return {
            "TableName": self._table,
            "Key": self._key(keys.user_pk(user_id), order.position_sk),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_not_exists(applied) OR NOT contains(applied, :one_key)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _close_if_flat(self, user_id: str, position_sk: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), position_sk),
                UpdateExpression="REMOVE gsi1pk, gsi1sk",
                ConditionExpression="net_quantity = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as error:
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
                raise

    def ledger_of_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> list[LedgerEntry]:
        return [
            self._ledger(raw)
            for raw in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":prefix": {"S": keys.ledger_run_prefix(trade_date, strategy_id, run_name)},
                },
            )
        ]

    def ledger_of_day(self, user_id: str, trade_date: date, strategy_id: str) -> list[LedgerEntry]:
        return [
            self._ledger(raw)
            for raw in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":prefix": {"S": keys.ledger_day_prefix(trade_date, strategy_id)},
                },
            )
        ]

    def ledger_created_between(self, trade_date: date, start: datetime, end: datetime) -> list[LedgerEntry]:
        """Every user's ledger entries of `trade_date` created in [start, end) (one GSI query)."""
        return [
            self._ledger(raw)
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.ledger_gsi1pk(trade_date)},
                    ":low": {"S": _utc(start)},
                    ":high": {"S": _utc(end)},
                },
            )
        ]

    def flag_duplicate(self, user_id: str, order_key: str, finding: str, now: datetime) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.ledger_sk(order_key)),
            UpdateExpression="SET duplicate_finding = :finding, duplicate_flagged_at = :now",
            ExpressionAttributeValues={":finding": {"S": finding}, ":now": {"S": now.isoformat()}},
        )

    def flag_overdue(self, user_id: str, order_key: str, now: datetime) -> bool:
        """Mark an order whose outcome is overdue; True the first time (False: already marked)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.ledger_sk(order_key)),
                UpdateExpression="SET overdue_flagged_at = :now",
                ConditionExpression="attribute_not_exists(overdue_flagged_at)",
                ExpressionAttributeValues={":now": {"S": now.isoformat()}},
            )
        except ClientError as error:
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
                raise
            return False
        return True

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

    def unfinished_orders(self, trade_date: date) -> list[LedgerEntry]:
        """Every user's orders of the day without an outcome yet (PENDING, PLACED, UNKNOWN)."""
        statuses = [s for s in LedgerStatus if s.in_flight]
        return [
            self._ledger(raw)
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk",
                FilterExpression="#status IN (" + ", ".join(f":s{i}" for i in range(len(statuses))) + ")",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pk": {"S": keys.ledger_gsi1pk(trade_date)},
                    **{f":s{i}": {"S": status.value} for i, status in enumerate(statuses)},
                },
            )
        ]

    # ------------------------------------------------------------------ broker positions check

    def put_mismatch(
        self,
        user_id: str,
        broker_account_id: str,
        trade_date: date,
        differences: Sequence[ContractDifference],
        now: datetime,
    ) -> datetime:
        """Store the account's latest mismatch; returns when it was first seen (this time or earlier)."""
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.mismatch_sk(trade_date, broker_account_id)),
            UpdateExpression="SET entity = :entity, differences = :diff, checked_at = :now, "
            "first_seen = if_not_exists(first_seen, :now) REMOVE resolved_at",
            ExpressionAttributeValues={
                ":entity": {"S": "POSITION_MISMATCH"},
                ":diff": {"S": json.dumps([d.model_dump() for d in differences])},
                ":now": {"S": now.isoformat()},
            },
            ReturnValues="ALL_NEW",
        )
        return datetime.fromisoformat(response["Attributes"]["first_seen"]["S"])

    def clear_mismatch(self, user_id: str, broker_account_id: str, trade_date: date, now: datetime) -> None:
        """The account matches again: the item keeps the last mismatch, marked resolved."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.mismatch_sk(trade_date, broker_account_id)),
                UpdateExpression="SET resolved_at = :now REMOVE first_seen",
                ConditionExpression="attribute_exists(first_seen)",
                ExpressionAttributeValues={":now": {"S": now.isoformat()}},
            )
        except ClientError as error:
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
                raise

    # ------------------------------------------------------------------ runs and records

    def start_run(self, plan: ExecutionPlan, started_at: datetime) -> tuple[ExecutionPlan, str, int]:
        """The run's stored plan and record key: the given plan on the first attempt, the plan
        stored by the first attempt on every retry (so a retry places the same orders)."""
        sk = keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name)
        record_sk = keys.execution_record_sk(_utc(started_at), plan.strategy_id, plan.action.value)
        item = serialize(
            {
                "pk": keys.user_pk(plan.user_id),
                "sk": sk,
                "entity": "RUN",
                "plan": plan.model_dump_json(),
                "record_sk": record_sk,
                "attempts": 1,
            }
        )
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
            return plan, record_sk, 1
        except ClientError as error:
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
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
            if error_code(error) != CONDITIONAL_CHECK_FAILED:
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
        started = record_sk.split(keys.SEPARATOR)[0]
        item = serialize(
            {
                "pk": keys.user_pk(record.user_id),
                "sk": record_sk,
                "gsi1pk": keys.strategy_gsi1pk(record.strategy_id),
                "gsi1sk": keys.execution_record_gsi1sk(started, record.run_name),
                "entity": "EXECUTION",
                "record": record.model_dump_json(),
            }
        )
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
        low, high = _utc(start), _utc(end) + "~"
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

    # ------------------------------------------------------------------ positions

    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]:
        prefix = keys.strategy_positions_prefix(strategy_id) if strategy_id else keys.POSITION_SK_PREFIX
        return [
            position_from_item(deserialize(raw))
            for raw in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": {"S": keys.user_pk(user_id)}, ":prefix": {"S": prefix}},
            )
        ]

    def open_positions(self) -> list[PositionView]:
        """Every user's open positions (the sparse, sharded part of GSI1)."""
        found = [
            position_from_item(deserialize(raw))
            for partition in keys.open_positions_partitions()
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": partition}},
            )
        ]
        return [position for position in found if position.net_quantity != 0]

    def peak_mtm(self, user_id: str, strategy_id: str, trade_date: date, mtm: Decimal) -> Decimal:
        """Raise the stored MTM peak of the day to `mtm` if higher; returns the peak."""
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.trail_sk(strategy_id, trade_date)),
            UpdateExpression="SET peak = if_not_exists(peak, :mtm)",
            ExpressionAttributeValues={":mtm": {"N": str(mtm)}},
            ReturnValues="ALL_NEW",
        )
        peak = Decimal(response["Attributes"]["peak"]["N"])
        if mtm > peak:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(keys.user_pk(user_id), keys.trail_sk(strategy_id, trade_date)),
                    UpdateExpression="SET peak = :mtm",
                    ConditionExpression="peak < :mtm",
                    ExpressionAttributeValues={":mtm": {"N": str(mtm)}},
                )
            except ClientError as error:
                if error_code(error) != CONDITIONAL_CHECK_FAILED:
                    raise
            return mtm
        return peak

    # ------------------------------------------------------------------ kill switch

    def kill_switch(self, user_id: str | None) -> KillSwitchView:
        """The user's switch (`user_id`) or the global one (None); ARMED when never pressed."""
        pk = keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK
        scope = "USER" if user_id else "GLOBAL"
        response = self._client.get_item(
            TableName=self._table, Key=self._key(pk, keys.KILL_SWITCH_SK), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return KillSwitchView(scope=scope, state=KillSwitchState.ARMED)
        data = deserialize(item)
        return KillSwitchView.model_validate(
            {k: v for k, v in data.items() if k in KillSwitchView.model_fields}
        )

    def kill_switches(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        """The user's and the global switch in one request (checked before every entry)."""
        wanted = {keys.user_pk(user_id): "USER", keys.GLOBAL_KILL_SWITCH_PK: "GLOBAL"}
        response = self._client.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [self._key(pk, keys.KILL_SWITCH_SK) for pk in wanted],
                    "ConsistentRead": True,
                }
            }
        )
        found: dict[str, KillSwitchView] = {}
        for raw in response.get("Responses", {}).get(self._table, []):
            data = deserialize(raw)
            found[data["pk"]] = KillSwitchView.model_validate(
                {k: v for k, v in data.items() if k in KillSwitchView.model_fields}
            )
        unprocessed: Any = response.get("UnprocessedKeys") or {}
        for key in unprocessed.get(self._table, {}).get("Keys", []):
            pk = key["pk"]["S"]
            found[pk] = self.kill_switch(user_id if pk != keys.GLOBAL_KILL_SWITCH_PK else None)
        user, everyone = (
            found.get(pk, KillSwitchView(scope=scope, state=KillSwitchState.ARMED))
            for pk, scope in wanted.items()
        )
        return user, everyone

    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]:
        """Is the global switch pressed, and which of these users' switches are (the minute's
        check closes what they still hold), in batched reads of up to 100 switches."""
        pks = [keys.GLOBAL_KILL_SWITCH_PK, *dict.fromkeys(keys.user_pk(user) for user in user_ids)]
        pressed: set[str] = set()
        for start in range(0, len(pks), BATCH_GET_LIMIT):
            pending = [self._key(pk, keys.KILL_SWITCH_SK) for pk in pks[start : start + BATCH_GET_LIMIT]]
            for _attempt in range(BATCH_GET_ATTEMPTS):
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in response.get("Responses", {}).get(self._table, []):
                    if raw.get("state", {}).get("S") == KillSwitchState.TRIGGERED.value:
                        pressed.add(raw["pk"]["S"])
                unprocessed: Any = response.get("UnprocessedKeys") or {}
                pending = unprocessed.get(self._table, {}).get("Keys", [])
                if not pending:
                    break
            for key in pending:  # still throttled after the retries: one at a time
                pk = key["pk"]["S"]
                switch = self.kill_switch(
                    None if pk == keys.GLOBAL_KILL_SWITCH_PK else pk.removeprefix(keys.USER_PREFIX)
                )
                if switch.state is KillSwitchState.TRIGGERED:
                    pressed.add(pk)
        everyone = keys.GLOBAL_KILL_SWITCH_PK in pressed
        return everyone, {user for user in user_ids if keys.user_pk(user) in pressed}

    def set_kill_switch(self, user_id: str | None, view: KillSwitchView) -> None:
        pk = keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK
        item = serialize({"pk": pk, "sk": keys.KILL_SWITCH_SK, "entity": "KILL_SWITCH", **view.model_dump()})
        self._client.put_item(TableName=self._table, Item=item)

    # ------------------------------------------------------------------ helpers

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return query_all(self._client, TableName=self._table, **kwargs)
