"""Stored changes -> feed messages: what a DynamoDB stream record of the history or broker-accounts
table means to the user who owns it.

The broadcaster reads the tables' streams instead of being called from the order path: an order,
a fill or a kill switch reaches the console because it was stored, never delays or fails the
write that stored it, and the deployed and local feeds read the same records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from shared_utils import keys
from shared_utils.execution.ledger_store import ledger_from_item
from shared_utils.execution.models import ExecutionPlan, ExecutionRecord, ExitReason, KillSwitchView
from shared_utils.execution.position_store import position_from_item
from shared_utils.execution.reports import ContractDifference
from shared_utils.feed.messages import (
    BrokerAccountMessage,
    BrokerAccountUpdate,
    BrokerView,
    BrokerViewMessage,
    ExecutionMessage,
    ExecutionUpdate,
    FeedMessage,
    KillSwitchMessage,
    OrderMessage,
    PositionMessage,
    RiskExit,
    RiskExitMessage,
)
from shared_utils.models.broker_account import AccountState, BrokerAccount
from shared_utils.models.items import deserialize

logger = Logger(child=True)

# Exits a risk rule started (the scheduled, manual and kill-switch ones are announced as executions).
RISK_EXITS = frozenset(
    {
        ExitReason.STOP_LOSS,
        ExitReason.LEG_STOP_LOSS,
        ExitReason.TARGET,
        ExitReason.TRAILING_STOP_LOSS,
        ExitReason.PORTFOLIO_STOP_LOSS,
        ExitReason.PORTFOLIO_TARGET,
        ExitReason.PORTFOLIO_TRAILING_STOP_LOSS,
    }
)


@dataclass(frozen=True)
class Delivery:
    """A message for one user's connections; `user_id` None: for every connected user."""

    user_id: str | None
    message: FeedMessage


def _user(pk: str) -> str | None:
    return pk[len(keys.USER_PREFIX) :] if pk.startswith(keys.USER_PREFIX) else None


def history_deliveries(record: dict[str, Any], now: datetime) -> list[Delivery]:
    """The messages one stream record of the execution-history table carries (none for the
    table's bookkeeping: runs' plans, leases, trails, rate windows, claims)."""
    image = record.get("dynamodb", {}).get("NewImage")
    if not image:  # a removal (TTL): nothing a console shows
        return []
    data = deserialize(image)
    entity, pk = data.get("entity"), str(data.get("pk", ""))
    user_id = _user(pk)
    try:
        if entity == "LEDGER" and user_id:
            entry = ledger_from_item(image)
            return [Delivery(user_id, OrderMessage(at=now, data=entry))]
        if entity == "POSITION" and user_id:
            return [Delivery(user_id, PositionMessage(at=now, data=position_from_item(data)))]
        if entity == "EXECUTION" and user_id:
            return [Delivery(user_id, _execution(ExecutionRecord.model_validate_json(data["record"]), now))]
        if entity == "RUN" and user_id and record.get("eventName") == "INSERT":
            return _risk_exit(user_id, ExecutionPlan.model_validate_json(data["plan"]), now)
        if entity == "KILL_SWITCH":
            view = KillSwitchView.model_validate(
                {k: v for k, v in data.items() if k in KillSwitchView.model_fields}
            )
            return [Delivery(user_id, KillSwitchMessage(at=now, data=view))]
        if entity == "POSITION_MISMATCH" and user_id:
            return [Delivery(user_id, _broker_view(data, now))]
    except (KeyError, ValueError, ValidationError) as error:
        # A record this build cannot read must not stop the batch behind it.
        logger.warning("Unreadable history record skipped", extra={"entity": entity, "error": str(error)})
    return []


def _execution(run: ExecutionRecord, now: datetime) -> ExecutionMessage:
    # The record's own fields, without its per-broker detail (orders come as order messages).
    return ExecutionMessage(at=now, data=ExecutionUpdate.model_validate(run, from_attributes=True))


def _risk_exit(user_id: str, plan: ExecutionPlan, now: datetime) -> list[Delivery]:
    """A run's first attempt is stored before its first order: a risk rule's exit is announced
    as it starts (its execution message follows when it ends)."""
    if plan.reason not in RISK_EXITS:
        return []
    fired = RiskExit(
        strategy_id=plan.strategy_id,
        run_name=plan.run_name,
        exit_reason=plan.reason,
        trade_date=plan.trade_date,
        started_at=now,
    )
    return [Delivery(user_id, RiskExitMessage(at=now, data=fired))]


def _broker_view(data: dict[str, Any], now: datetime) -> BrokerViewMessage:
    day, _, account = str(data["sk"])[len(keys.MISMATCH_SK_PREFIX) :].partition(keys.SEPARATOR)
    resolved = data.get("resolved_at") is not None
    differences = (
        [] if resolved else [ContractDifference.model_validate(d) for d in json.loads(data["differences"])]
    )
    view = BrokerView(broker_account_id=account, trade_date=date.fromisoformat(day), differences=differences)
    return BrokerViewMessage(at=now, data=view)


def account_deliveries(record: dict[str, Any], now: datetime) -> list[Delivery]:
    """A broker account's state, when it changed (a session refresh that keeps it ACTIVE says
    nothing new)."""
    stream = record.get("dynamodb", {})
    image, old = stream.get("NewImage"), stream.get("OldImage")
    if not image:
        return []
    try:
        account = BrokerAccount.model_validate(deserialize(image))
    except ValidationError as error:
        logger.warning("Unreadable broker account record skipped", extra={"error": str(error)})
        return []
    if old and old.get("state", {}).get("S", AccountState.ACTIVE.value) == account.state.value:
        return []
    update = BrokerAccountUpdate(
        broker_account_id=account.broker_account_id,
        broker=account.broker,
        state=account.state,
        login_needed=account.state is AccountState.NEEDS_LOGIN,
    )
    return [Delivery(account.user_id, BrokerAccountMessage(at=now, data=update))]
