"""Portfolio days: one item per scope and trade date (`USER#{user}` /
`PORTFOLIO#{date}#{USER|BASKET#{id}}`) holding the scope's trailing peak and its exit marker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.execution.history_table import HistoryTable, utc
from shared_utils.execution.models import ExitReason, PositionView
from shared_utils.execution.portfolio import PortfolioExit, PortfolioScope, PortfolioState
from shared_utils.execution.position_store import position_from_item
from shared_utils.models.items import deserialize
from shared_utils.repository.dynamo import condition_lost

ENTITY = "PORTFOLIO"


def portfolio_state(data: dict[str, Any]) -> PortfolioState:
    """A portfolio day's item (plain values) as the domain reads it."""
    fired = None
    if data.get("exit_reason"):
        fired = PortfolioExit(
            reason=ExitReason(data["exit_reason"]),
            mtm=Decimal(data["exit_mtm"]),
            at=datetime.fromisoformat(data["exit_at"]),
            queued_at=datetime.fromisoformat(data["queued_at"]) if data.get("queued_at") else None,
        )
    return PortfolioState(
        user_id=data["user_id"],
        basket_id=data.get("basket_id"),
        trade_date=date.fromisoformat(data["trade_date"]),
        peak=Decimal(data["peak"]) if data.get("peak") is not None else None,
        exit=fired,
    )


def scope_attributes(scope: PortfolioScope, trade_date: date) -> dict[str, str]:
    """What every write of a portfolio day sets besides its own attributes (the item may be new)."""
    found = {"entity": ENTITY, "user_id": scope.user_id, "trade_date": trade_date.isoformat()}
    return found | ({"basket_id": scope.basket_id} if scope.basket_id else {})


class PortfolioStore(HistoryTable):
    def day_positions(self, user_id: str, trade_date: date, held: Iterable[str] = ()) -> list[PositionView]:
        """What a portfolio's MTM counts of the user's day, as stored now (strongly consistent): the
        positions the day's orders were placed for and the `held` ones (open positions the caller
        saw), each entered that day or still open. One query of the day's ledger (its position keys
        only) and batched reads of the positions: bounded by the day's trading, not by the user's
        history of positions."""
        touched = {
            raw["position_sk"]["S"]
            for raw in self._query_all(
                ConsistentRead=True,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":prefix": {"S": keys.ledger_user_day_prefix(trade_date)},
                },
                ProjectionExpression="position_sk",
            )
            if "position_sk" in raw
        }
        wanted = sorted(touched | set(held))
        if not wanted:
            return []
        stored = self._batch_get(self._key(keys.user_pk(user_id), sk) for sk in wanted)
        found = sorted((position_from_item(deserialize(raw)) for raw in stored), key=lambda p: p.position_sk)
        return [p for p in found if p.entry_date == trade_date or p.net_quantity != 0]

    def portfolio_states(
        self, scopes: Iterable[PortfolioScope], trade_date: date
    ) -> dict[PortfolioScope, PortfolioState]:
        """The stored days of these scopes (BatchGetItem, 100 per request): one read per partition
        and minute for every scope with a rule."""
        by_key = {
            (keys.user_pk(scope.user_id), keys.portfolio_sk(trade_date, scope.basket_id)): scope
            for scope in dict.fromkeys(scopes)
        }
        found: dict[PortfolioScope, PortfolioState] = {}
        for raw in self._batch_get(self._key(pk, sk) for pk, sk in by_key) if by_key else []:
            scope = by_key.get((raw["pk"]["S"], raw["sk"]["S"]))
            if scope is not None:
                found[scope] = portfolio_state(deserialize(raw))
        return found

    def portfolio_day(self, user_id: str, trade_date: date) -> list[PortfolioState]:
        """Every scope of the user's day that stored something (a peak, an exit): one query."""
        return [
            portfolio_state(deserialize(raw))
            for raw in self._query_all(
                ConsistentRead=True,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.user_pk(user_id)},
                    ":prefix": {"S": keys.portfolio_day_prefix(trade_date)},
                },
            )
        ]

    def raise_portfolio_peak(self, scope: PortfolioScope, trade_date: date, mtm: Decimal) -> None:
        """A new high of the scope's MTM (a higher one stored meanwhile stays)."""
        self._update_day(
            scope,
            trade_date,
            {"peak": {"N": str(mtm)}},
            "attribute_not_exists(peak) OR peak < :peak",
        )

    def mark_portfolio_exit(self, scope: PortfolioScope, trade_date: date, exit_: PortfolioExit) -> bool:
        """Store the scope's exit of the day if none is stored: True for the one writer that did."""
        return self._update_day(
            scope,
            trade_date,
            {
                "exit_reason": {"S": exit_.reason.value},
                "exit_mtm": {"N": str(exit_.mtm)},
                "exit_at": {"S": utc(exit_.at)},
            },
            "attribute_not_exists(exit_reason)",
        )

    def portfolio_exit_queued(self, scope: PortfolioScope, trade_date: date, at: datetime) -> None:
        """The scope's exits were handed to the executors (the first time counts)."""
        self._update_day(
            scope,
            trade_date,
            {"queued_at": {"S": utc(at)}},
            "attribute_exists(exit_reason) AND attribute_not_exists(queued_at)",
        )

    def _update_day(
        self, scope: PortfolioScope, trade_date: date, sets: dict[str, Any], condition: str
    ) -> bool:
        """SET `sets` (and the scope's attributes: the item may be new) if `condition` holds;
        False when it did not."""
        values = {f":{name}": {"S": value} for name, value in scope_attributes(scope, trade_date).items()}
        values |= {f":{name}": value for name, value in sets.items()}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(scope.user_id), keys.portfolio_sk(trade_date, scope.basket_id)),
                UpdateExpression="SET " + ", ".join(f"{name[1:]} = {name}" for name in values),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_lost(error):
                return False
            raise
        return True
