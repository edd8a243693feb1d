"""Positions (one item per leg, account and entry date; open ones on the sparse, sharded GSI1), the
day's trailing-stop peaks, and the brokers' positions where they differ from the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.execution.history_table import HistoryTable
from shared_utils.execution.models import PositionView
from shared_utils.execution.reports import ContractDifference
from shared_utils.execution.valuation import valuation
from shared_utils.models.common import Product
from shared_utils.models.items import deserialize
from shared_utils.repository.dynamo import batch_get, condition_lost
from shared_utils.tables import EXECUTIONS_BY_STRATEGY

# What `position_from_item` reads: the reads of positions project these only (the `applied` set of
# order keys, which grows with every fill, and the bookkeeping attributes stay in the table).
POSITION_ATTRIBUTES = (
    "sk",
    "user_id",
    "strategy_id",
    "entry_date",
    "broker_account_id",
    "broker",
    "leg_no",
    "instrument",
    "product",
    "net_quantity",
    "buy_quantity",
    "buy_value",
    "sell_quantity",
    "sell_value",
    "last_price",
    "stop_at_cost",
)
POSITION_PROJECTION = {
    "ProjectionExpression": ", ".join(f"#a{n}" for n in range(len(POSITION_ATTRIBUTES))),
    "ExpressionAttributeNames": {f"#a{n}": name for n, name in enumerate(POSITION_ATTRIBUTES)},
}


def position_from_item(data: dict[str, Any]) -> PositionView:
    net = int(data.get("net_quantity", 0))
    buy_q, sell_q = int(data.get("buy_quantity", 0)), int(data.get("sell_quantity", 0))
    buy_v, sell_v = Decimal(data.get("buy_value", 0)), Decimal(data.get("sell_value", 0))
    last = Decimal(data["last_price"]) if data.get("last_price") is not None else None
    average, realised, unrealised = valuation(net, buy_q, buy_v, sell_q, sell_v, last)
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
        stop_at_cost=bool(data.get("stop_at_cost", False)),
    )


class PositionStore(HistoryTable):
    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]:
        """Strongly consistent: exits are planned and capped from it right after another run's fills."""
        prefix = keys.strategy_positions_prefix(strategy_id) if strategy_id else keys.POSITION_SK_PREFIX
        return [
            position_from_item(deserialize(raw))
            for raw in self._query_all(
                ConsistentRead=True,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": {"S": keys.user_pk(user_id)}, ":prefix": {"S": prefix}},
                **POSITION_PROJECTION,
            )
        ]

    def open_positions(self, partition: str | None = None) -> list[PositionView]:
        """Every user's open positions (the sparse, sharded part of GSI1): of one partition, or
        of all of them."""
        partitions = [partition] if partition is not None else keys.open_positions_partitions()
        found = [
            position_from_item(deserialize(raw))
            for shard in partitions
            for raw in self._query_all(
                IndexName=EXECUTIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": shard}},
                **POSITION_PROJECTION,
            )
        ]
        return [position for position in found if position.net_quantity != 0]

    def open_contracts(self) -> set[OptionInstrument]:
        """Every contract held in an open position (what the minute's refresh must quote)."""
        return {position.instrument for position in self.open_positions()}

    def mtm_peaks(
        self, wanted: Iterable[tuple[str, str]], trade_date: date
    ) -> dict[tuple[str, str], Decimal]:
        """The day's stored MTM peak of each (user, strategy) that has one: BatchGetItem, 100 per
        request, so the minute's check reads the peaks of every trailing strategy in a few requests."""
        by_key = {
            (keys.user_pk(user), keys.trail_sk(strategy, trade_date)): (user, strategy)
            for user, strategy in dict.fromkeys(wanted)
        }
        found: dict[tuple[str, str], Decimal] = {}
        for raw in batch_get(self._client, self._table, [self._key(pk, sk) for pk, sk in by_key]):
            pair = by_key.get((raw["pk"]["S"], raw["sk"]["S"]))
            if pair is not None and "peak" in raw:
                found[pair] = Decimal(raw["peak"]["N"])
        return found

    def raise_peak(self, user_id: str, strategy_id: str, trade_date: date, mtm: Decimal) -> None:
        """Store a new high of the day's MTM (a lower one, written meanwhile by another check, is
        replaced; a higher one stays). Called only when `mtm` beats the peak read this minute."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.trail_sk(strategy_id, trade_date)),
                UpdateExpression="SET peak = :mtm",
                ConditionExpression="attribute_not_exists(peak) OR peak < :mtm",
                ExpressionAttributeValues={":mtm": {"N": str(mtm)}},
            )
        except ClientError as error:
            if not condition_lost(error):
                raise

    def move_stops_to_cost(self, user_id: str, position_sks: Iterable[str]) -> None:
        """Mark positions as stopped at their entry price (move to cost). Only an existing
        position is marked: a key from a stale read creates nothing."""
        for sk in dict.fromkeys(position_sks):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(keys.user_pk(user_id), sk),
                    UpdateExpression="SET stop_at_cost = :yes",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":yes": {"BOOL": True}},
                )
            except ClientError as error:
                if not condition_lost(error):
                    raise

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
            if not condition_lost(error):
                raise
