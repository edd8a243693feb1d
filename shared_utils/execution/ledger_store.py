"""The order ledger: one entry per order key, written with `attribute_not_exists` before its broker
is called; every later change is conditional on the entry's `attempt`, so two processes can never
both act on one order. A FILLED outcome first moves the order's position under a condition on the
order key (the position keeps the set of keys it counted), so a fill is never counted twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.errors import ConflictError
from shared_utils.execution.history_table import HistoryTable, utc
from shared_utils.execution.models import LedgerEntry, LedgerStatus, PlannedOrder
from shared_utils.market.options import Action
from shared_utils.models.items import deserialize, serialize
from shared_utils.repository.dynamo import condition_lost
from shared_utils.tables import EXECUTIONS_BY_STRATEGY

_LEDGER_FIELDS = set(LedgerEntry.model_fields)


def ledger_item(entry: LedgerEntry, trade_date: date) -> dict[str, Any]:
    """A new ledger entry as stored (written with `attribute_not_exists`)."""
    return serialize(
        {
            "pk": keys.user_pk(entry.user_id),
            "sk": keys.ledger_sk(entry.order_key),
            "gsi1pk": keys.ledger_gsi1pk(trade_date),
            "gsi1sk": keys.ledger_gsi1sk(utc(entry.created_at), entry.order_key),
            "entity": "LEDGER",
            **entry.model_dump(exclude_none=True),
        }
    )


def ledger_from_item(raw: dict[str, Any]) -> LedgerEntry:
    """A stored ledger item (DynamoDB attribute values: a read or a stream image) as an entry."""
    data = deserialize(raw)
    return LedgerEntry.model_validate({k: v for k, v in data.items() if k in _LEDGER_FIELDS})


@dataclass(frozen=True)
class OutcomeWrite:
    """One order's outcome, to store on its ledger entry (and on its position when it filled)."""

    entry: LedgerEntry  # as claimed or taken over: its `attempt` guards the write
    order: PlannedOrder  # as sent: a closing order may have been cut to what was still open
    status: LedgerStatus
    broker_order_id: str | None = None
    filled_quantity: int = 0
    average_price: Decimal | None = None
    reason: str | None = None

    @property
    def moves_position(self) -> bool:
        return (
            self.status is LedgerStatus.FILLED and self.filled_quantity > 0 and self.average_price is not None
        )


def stored_entry(write: OutcomeWrite, now: datetime) -> LedgerEntry:
    """The ledger entry as storing `write` leaves it."""
    ids = list(write.entry.broker_order_ids)
    if write.broker_order_id and write.broker_order_id not in ids:
        ids.append(write.broker_order_id)
    return write.entry.model_copy(
        update={
            "status": write.status,
            "quantity": write.order.quantity,
            "broker_order_ids": ids,
            "filled_quantity": write.filled_quantity,
            "average_price": (
                write.average_price if write.average_price is not None else write.entry.average_price
            ),
            "reason": write.reason if write.reason is not None else write.entry.reason,
            "updated_at": now,
        }
    )


class LedgerStore(HistoryTable):
    def claim(self, entry: LedgerEntry, trade_date: date) -> LedgerEntry | None:
        """Write a new ledger entry; None when written, else the entry already there."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=ledger_item(entry, trade_date),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
            old: Any = error.response.get("Item")
            return ledger_from_item(old) if old else self.get_ledger(entry.user_id, entry.order_key)
        return None

    def get_ledger(self, user_id: str, order_key: str) -> LedgerEntry | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(keys.user_pk(user_id), keys.ledger_sk(order_key)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ledger_from_item(item) if item else None

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
            if condition_lost(error):
                return None
            raise
        return ledger_from_item(response["Attributes"])

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
        write = OutcomeWrite(entry, order, status, broker_order_id, filled_quantity, average_price, reason)
        update, stored = self._outcome_update(write, now)
        if write.moves_position:
            # The position first, guarded by the order key: applying a fill twice is impossible,
            # and a crash before the ledger update below is completed by the retry's reconcile.
            position = self._position_update([write], user_id, strategy_id, opening, now)
            try:
                self._client.update_item(**position)
            except ClientError as error:
                if not condition_lost(error):
                    raise
            if not opening:
                self._close_if_flat(user_id, order.position_sk)
        try:
            self._client.update_item(**update)
        except ClientError as error:
            if condition_lost(error):
                raise ConflictError(
                    f"ledger entry {entry.order_key} moved on under another attempt"
                ) from error
            raise
        return stored

    def _outcome_update(self, write: OutcomeWrite, now: datetime) -> tuple[dict[str, Any], LedgerEntry]:
        """The ledger update storing `write` (conditional on its attempt, never over a FILLED
        entry) and the entry it leaves."""
        entry, order = write.entry, write.order
        stored = stored_entry(write, now)
        sets: dict[str, Any] = {
            "#status": write.status.value,
            "quantity": order.quantity,
            "broker_order_ids": stored.broker_order_ids,
            "filled_quantity": write.filled_quantity,
            "updated_at": now,
        }
        if write.average_price is not None:
            sets["average_price"] = write.average_price
        if write.reason is not None:
            sets["reason"] = write.reason[:500]
        names = {"#status": "status"} | {f"#f{i}": name for i, name in enumerate(sets) if name != "#status"}
        alias = {name: ("#status" if name == "#status" else f"#f{i}") for i, name in enumerate(sets)}
        values = serialize({f":v{i}": value for i, value in enumerate(sets.values())})
        values[":attempt"] = {"N": str(entry.attempt)}
        values[":filled"] = {"S": LedgerStatus.FILLED.value}
        update = {
            "TableName": self._table,
            "Key": self._key(keys.user_pk(entry.user_id), keys.ledger_sk(entry.order_key)),
            "UpdateExpression": "SET " + ", ".join(f"{alias[name]} = :v{i}" for i, name in enumerate(sets)),
            "ConditionExpression": "attempt = :attempt AND #status <> :filled",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        return update, stored

    def _position_update(
        self,
        fills: list[OutcomeWrite],
        user_id: str,
        strategy_id: str,
        opening: bool,
        now: datetime,
        *,
        flat_from: int | None = None,
    ) -> dict[str, Any]:
        """The update moving one position by `fills` (orders of that position), guarded by their
        order keys so that no fill is ever counted twice. `flat_from`: the net quantity the
        position had, when these fills close it; the update then also takes it off the open
        positions index, on that condition."""
        order = fills[0].order
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
        signed = 0
        totals: dict[str, tuple[int, Decimal]] = {}
        for fill in fills:
            assert fill.average_price is not None
            side = "buy" if fill.order.side is Action.BUY else "sell"
            quantity, value = totals.get(side, (0, Decimal("0")))
            totals[side] = (
                quantity + fill.filled_quantity,
                value + fill.average_price * fill.filled_quantity,
            )
            signed += fill.filled_quantity if side == "buy" else -fill.filled_quantity
        adds = ["net_quantity :signed", "applied :keys"]
        values[":signed"] = {"N": str(signed)}
        values[":keys"] = {"SS": [fill.order.order_key for fill in fills]}
        for side, (quantity, value) in totals.items():
            adds += [f"{side}_quantity :{side}_qty", f"{side}_value :{side}_value"]
            values[f":{side}_qty"] = {"N": str(quantity)}
            values[f":{side}_value"] = {"N": str(value)}
        expression += " ADD " + ", ".join(adds)
        unseen = []
        for number, fill in enumerate(fills):
            values[f":key{number}"] = {"S": fill.order.order_key}
            unseen.append(f"NOT contains(applied, :key{number})")
        condition = f"(attribute_not_exists(applied) OR ({' AND '.join(unseen)}))"
        if flat_from is not None and flat_from + signed == 0:
            expression += " REMOVE gsi1pk, gsi1sk"
            condition += " AND net_quantity = :before"
            values[":before"] = {"N": str(flat_from)}
        return {
            "TableName": self._table,
            "Key": self._key(keys.user_pk(user_id), order.position_sk),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def unclaim(self, entry: LedgerEntry) -> None:
        """Take back an entry claimed for an order that was never attempted (still PENDING under
        the same attempt): a later run claims it again. Gone or moved on: left as it is."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(entry.user_id), keys.ledger_sk(entry.order_key)),
                ConditionExpression="attempt = :attempt AND #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":attempt": {"N": str(entry.attempt)},
                    ":pending": {"S": LedgerStatus.PENDING.value},
                },
            )
        except ClientError as error:
            if not condition_lost(error):
                raise

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
            if not condition_lost(error):
                raise

    def ledger_of_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> list[LedgerEntry]:
        return [
            ledger_from_item(raw)
            for raw in self._query_all(
                ConsistentRead=True,  # what the previous run of the strategy just wrote
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":prefix": {"S": keys.ledger_run_prefix(trade_date, strategy_id, run_name)},
                },
            )
        ]

    def ledger_of_day(self, user_id: str, trade_date: date, strategy_id: str) -> list[LedgerEntry]:
        return [
            ledger_from_item(raw)
            for raw in self._query_all(
                ConsistentRead=True,  # what the previous run of the strategy just wrote
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
            ledger_from_item(raw)
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.ledger_gsi1pk(trade_date)},
                    ":low": {"S": utc(start)},
                    ":high": {"S": utc(end)},
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
            if not condition_lost(error):
                raise
            return False
        return True

    def unfinished_orders(self, trade_date: date) -> list[LedgerEntry]:
        """Every user's orders of the day without an outcome yet (PENDING, PLACED, UNKNOWN)."""
        statuses = [s for s in LedgerStatus if s.in_flight]
        return [
            ledger_from_item(raw)
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
