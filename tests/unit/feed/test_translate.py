"""Stream records of the history and broker-accounts tables -> the feed's messages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shared_utils import keys
from shared_utils.execution.ledger_store import ledger_item
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    KillSwitchState,
    LedgerEntry,
    LedgerStatus,
)
from shared_utils.feed.messages import FEED_MESSAGE, SCHEMA_OUTPUT, FeedType, encode, render_schema
from shared_utils.feed.translate import account_deliveries, history_deliveries
from shared_utils.keys import ScheduleKind
from shared_utils.market.options import Action
from shared_utils.models.items import serialize

NOW = datetime(2030, 1, 15, 4, 0, tzinfo=UTC)
DAY = date(2030, 1, 15)


def record(
    image: dict[str, Any] | None, event: str = "MODIFY", old: dict[str, Any] | None = None
) -> dict[str, Any]:
    stream: dict[str, Any] = {"Keys": {}}
    if image is not None:
        stream["NewImage"] = image
    if old is not None:
        stream["OldImage"] = old
    return {"eventName": event, "dynamodb": stream}


def entry(**changes: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "order_key": "s-1#2030-01-15#ENTRY#paper-a#1#1",
        "user_id": "alice",
        "strategy_id": "s-1",
        "broker_account_id": "paper-a",
        "broker": "PAPER",
        "leg_no": 1,
        "slice_no": 1,
        "tag": "t",
        "side": Action.SELL,
        "quantity": 75,
        "instrument_key": "NIFTY|2030-01-16|26050|CE",
        "status": LedgerStatus.FILLED,
        "attempt": 1,
        "filled_quantity": 75,
        "average_price": Decimal("101.25"),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return LedgerEntry.model_validate(fields | changes)


def execution(exit_reason: ExitReason | None) -> dict[str, Any]:
    run = ExecutionRecord(
        user_id="alice",
        strategy_id="s-1",
        action=ScheduleKind.EXIT if exit_reason else ScheduleKind.ENTRY,
        run_name="EXIT" if exit_reason else "ENTRY",
        trade_date=DAY,
        started_at=NOW,
        updated_at=NOW,
        status=ExecutionStatus.COMPLETE,
        exit_reason=exit_reason,
    )
    return serialize(
        {"pk": keys.user_pk("alice"), "sk": "x", "entity": "EXECUTION", "record": run.model_dump_json()}
    )


def run(reason: ExitReason | None) -> dict[str, Any]:
    plan = ExecutionPlan(
        user_id="alice",
        strategy_id="s-1",
        action=ScheduleKind.EXIT,
        run_name="EXIT",
        trade_date=DAY,
        reason=reason,
    )
    return serialize(
        {"pk": keys.user_pk("alice"), "sk": "RUN#x", "entity": "RUN", "plan": plan.model_dump_json()}
    )


def test_an_order_reaches_its_owner_with_the_apis_number_format() -> None:
    (delivery,) = history_deliveries(record(ledger_item(entry(), DAY)), NOW)
    assert delivery.user_id == "alice" and delivery.message.type is FeedType.ORDER
    frame = json.loads(encode(delivery.message))
    assert (
        frame["v"] == 1 and frame["data"]["average_price"] == 101.25 and frame["data"]["status"] == "FILLED"
    )
    assert FEED_MESSAGE.validate_json(encode(delivery.message)) == delivery.message


def test_a_risk_exit_is_announced_once_as_its_run_starts_and_its_outcome_when_it_ends() -> None:
    (fired,) = history_deliveries(record(run(ExitReason.STOP_LOSS), event="INSERT"), NOW)
    assert fired.message.type is FeedType.RISK_EXIT and fired.message.data.exit_reason is ExitReason.STOP_LOSS  # type: ignore[union-attr]
    assert history_deliveries(record(run(ExitReason.STOP_LOSS)), NOW) == []  # a retry's update
    assert history_deliveries(record(run(ExitReason.SCHEDULED), event="INSERT"), NOW) == []
    (ended,) = history_deliveries(record(execution(ExitReason.TARGET), event="INSERT"), NOW)
    assert ended.message.type is FeedType.EXECUTION and ended.message.data.status is ExecutionStatus.COMPLETE  # type: ignore[union-attr]


def test_a_global_kill_switch_is_for_everyone_and_a_users_for_that_user() -> None:
    view = {"scope": "GLOBAL", "state": KillSwitchState.TRIGGERED.value, "triggered_at": NOW.isoformat()}
    image = serialize(
        {"pk": keys.GLOBAL_KILL_SWITCH_PK, "sk": keys.KILL_SWITCH_SK, "entity": "KILL_SWITCH", **view}
    )
    (everyone,) = history_deliveries(record(image), NOW)
    assert everyone.user_id is None and everyone.message.type is FeedType.KILL_SWITCH
    mine = serialize({"pk": keys.user_pk("bob"), "sk": keys.KILL_SWITCH_SK, "entity": "KILL_SWITCH", **view})
    assert history_deliveries(record(mine), NOW)[0].user_id == "bob"


def test_the_brokers_view_differs_then_agrees_again() -> None:
    differences = [
        {"instrument": "NIFTY|2030-01-16|26050|CE", "broker_quantity": -75, "platform_quantity": 0}
    ]
    base = {
        "pk": keys.user_pk("alice"),
        "sk": keys.mismatch_sk(DAY, "paper-a"),
        "entity": "POSITION_MISMATCH",
    }
    (differs,) = history_deliveries(record(serialize(base | {"differences": json.dumps(differences)})), NOW)
    assert differs.message.data.broker_account_id == "paper-a"  # type: ignore[union-attr]
    assert differs.message.data.differences[0].broker_quantity == -75  # type: ignore[union-attr]
    resolved = base | {"differences": json.dumps(differences), "resolved_at": NOW.isoformat()}
    (agrees,) = history_deliveries(record(serialize(resolved)), NOW)
    assert agrees.message.data.differences == []  # type: ignore[union-attr]


def test_bookkeeping_removals_and_unreadable_items_say_nothing() -> None:
    lease = serialize({"pk": keys.user_pk("alice"), "sk": keys.lease_sk("s-1"), "entity": "LEASE"})
    assert history_deliveries(record(lease), NOW) == []
    assert history_deliveries(record(None, event="REMOVE"), NOW) == []
    broken = serialize({"pk": keys.user_pk("alice"), "sk": "ORDER#x", "entity": "LEDGER", "status": "??"})
    assert history_deliveries(record(broken), NOW) == []


def account(state: str) -> dict[str, Any]:
    return serialize({"user_id": "alice", "broker_account_id": "z-1", "broker": "ZERODHA", "state": state})


def test_an_account_that_needs_a_login_is_announced_and_a_refresh_is_not() -> None:
    (needs,) = account_deliveries(record(account("NEEDS_LOGIN"), old=account("ACTIVE")), NOW)
    assert needs.user_id == "alice" and needs.message.data.login_needed  # type: ignore[union-attr]
    assert account_deliveries(record(account("ACTIVE"), old=account("ACTIVE")), NOW) == []
    (linked,) = account_deliveries(record(account("ACTIVE"), event="INSERT"), NOW)
    assert not linked.message.data.login_needed  # type: ignore[union-attr]


def test_the_documented_schema_is_the_messages_own() -> None:
    assert SCHEMA_OUTPUT.read_text() == render_schema(), (
        "docs/feed.schema.json is stale: python -m shared_utils.feed.messages"
    )
