"""What a trader reads: stream records of the history table -> notification events (stable ids)
-> short plain texts with the strategy's name, legs, quantities, prices, P&L and the reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shared_utils import keys
from shared_utils.execution.ledger_store import ledger_item
from shared_utils.execution.models import (
    BrokerOutcome,
    BrokerStatus,
    ExecutionPlan,
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    LedgerEntry,
    LedgerStatus,
    OrderOutcome,
)
from shared_utils.keys import ScheduleKind
from shared_utils.market.options import Action
from shared_utils.models.items import serialize
from shared_utils.notifications.events import history_events
from shared_utils.notifications.models import EventKind
from shared_utils.notifications.texts import render, rupees

NOW = datetime(2026, 11, 25, 5, 32, tzinfo=UTC)  # 11:02 IST
DAY = date(2026, 11, 25)


def record(image: dict[str, Any], event: str = "MODIFY") -> dict[str, Any]:
    return {"eventName": event, "dynamodb": {"Keys": {}, "NewImage": image, "SequenceNumber": "100"}}


def order(
    leg: int,
    side: Action,
    strike: int,
    kind: str,
    quantity: int,
    filled: int,
    price: str | None,
    **extra: Any,
) -> OrderOutcome:
    return OrderOutcome(
        order_key=f"k{leg}{extra.get('slice_no', 1)}",
        leg_no=leg,
        slice_no=extra.pop("slice_no", 1),
        instrument=f"NIFTY|2026-12-01|{strike}|{kind}",
        side=side,
        quantity=quantity,
        status=LedgerStatus.FILLED if filled == quantity else LedgerStatus.REJECTED,
        filled_quantity=filled,
        average_price=Decimal(price) if price else None,
        **extra,
    )


def execution(run: ExecutionRecord) -> dict[str, Any]:
    sk = keys.execution_record_sk(run.started_at.isoformat(), run.strategy_id, run.action.value)
    return serialize(
        {"pk": keys.user_pk(run.user_id), "sk": sk, "entity": "EXECUTION", "record": run.model_dump_json()}
    )


def exit_run(status: ExecutionStatus, orders: list[OrderOutcome], **extra: Any) -> ExecutionRecord:
    return ExecutionRecord(
        user_id="alice",
        strategy_id="s-condor",
        action=ScheduleKind.EXIT,
        run_name="EXIT",
        trade_date=DAY,
        started_at=NOW,
        updated_at=NOW,
        status=status,
        exit_reason=ExitReason.STOP_LOSS,
        brokers=[
            BrokerOutcome(
                broker_account_id="zerodha-main",
                broker="ZERODHA",
                status=BrokerStatus.COMPLETE,
                orders=orders,
            )
        ],
        **extra,
    )


def test_a_stop_loss_exit_reads_as_its_legs_averaged_over_slices_and_its_pnl() -> None:
    run = exit_run(
        ExecutionStatus.COMPLETE,
        [
            order(1, Action.BUY, 24100, "CE", 65, 65, "142.10"),
            order(1, Action.BUY, 24100, "CE", 65, 65, "142.30", slice_no=2),
            order(2, Action.SELL, 24300, "CE", 130, 130, "61.05"),
        ],
        realised_pnl=Decimal("-123456.5"),
    )
    (event,) = history_events(record(execution(run), "INSERT"), NOW)

    rendered = render(event, "NIFTY condor")

    assert event.kind is EventKind.FILLS
    assert rendered.subject == "NIFTY condor: exit (stop-loss) filled"
    assert rendered.text == (
        "NIFTY condor: exit (stop-loss) filled at 11:02 IST\n"
        "L1 BUY 130 NIFTY 1 Dec 24100 CE @ 142.20\n"
        "L2 SELL 130 NIFTY 1 Dec 24300 CE @ 61.05\n"
        "Realised P&L: -₹1,23,456.50"
    )


def test_a_partial_entry_names_what_filled_what_did_not_and_why() -> None:
    run = exit_run(
        ExecutionStatus.PARTIAL,
        [
            order(1, Action.SELL, 24100, "CE", 65, 65, "101.25"),
            order(2, Action.BUY, 24300, "CE", 65, 0, None, reason="RMS: margin exceeds"),
        ],
        reason="1 of 2 orders not filled",
    ).model_copy(update={"action": ScheduleKind.ENTRY, "run_name": "ENTRY", "exit_reason": None})
    (event,) = history_events(record(execution(run)), NOW)

    assert event.kind is EventKind.PARTIAL_RUNS
    assert render(event, "NIFTY condor").text == (
        "NIFTY condor: entry partly filled at 11:02 IST\n"
        "L1 SELL 65 NIFTY 1 Dec 24100 CE @ 101.25\n"
        "L2 BUY 0/65 NIFTY 1 Dec 24300 CE (rejected: RMS: margin exceeds)\n"
        "Reason: 1 of 2 orders not filled"
    )


def test_a_rejected_order_and_a_fired_portfolio_rule() -> None:
    entry = LedgerEntry(
        order_key="s-condor#2026-11-25#ENTRY#zerodha-main#2#1",
        user_id="alice",
        strategy_id="s-condor",
        broker_account_id="zerodha-main",
        broker="ZERODHA",
        leg_no=2,
        slice_no=1,
        tag="t",
        side=Action.BUY,
        quantity=65,
        instrument_key="NIFTY|2026-12-01|24300|CE",
        status=LedgerStatus.REJECTED,
        attempt=1,
        reason="RMS: margin exceeds",
        created_at=NOW,
        updated_at=NOW,
    )
    (rejected,) = history_events(record(ledger_item(entry, DAY)), NOW)
    assert render(rejected, "NIFTY condor").text == (
        "NIFTY condor: order rejected at 11:02 IST\n"
        "L2 BUY 65 NIFTY 1 Dec 24300 CE on zerodha-main\n"
        "Reason: RMS: margin exceeds"
    )
    plan = ExecutionPlan(
        user_id="alice",
        strategy_id="s-condor",
        action=ScheduleKind.EXIT,
        run_name="EXIT",
        trade_date=DAY,
        reason=ExitReason.PORTFOLIO_STOP_LOSS,
    )
    run_item = serialize(
        {"pk": keys.user_pk("alice"), "sk": "RUN#x", "entity": "RUN", "plan": plan.model_dump_json()}
    )
    inserted = record(run_item, "INSERT")
    inserted["dynamodb"]["ApproximateCreationDateTime"] = NOW.timestamp()
    (fired,) = history_events(inserted, NOW)
    assert fired.kind is EventKind.EXITS
    assert render(fired, None).text == (
        "Strategy s-condor: portfolio stop-loss hit at 11:02 IST, closing every open leg. The fills follow."
    )


def test_an_events_id_is_the_same_for_the_same_state_and_new_for_a_new_one() -> None:
    filled = exit_run(ExecutionStatus.COMPLETE, [order(1, Action.BUY, 24100, "CE", 65, 65, "142.10")])
    (first,) = history_events(record(execution(filled)), NOW)
    (redelivered,) = history_events(record(execution(filled.model_copy(update={"attempts": 3}))), NOW)
    partial = filled.model_copy(update={"status": ExecutionStatus.PARTIAL})
    (other,) = history_events(record(execution(partial)), NOW)

    assert first.event_id == redelivered.event_id != other.event_id
    # An exit with nothing left to close, or a plain ledger fill, tells nobody anything.
    empty = exit_run(ExecutionStatus.COMPLETE, [])
    assert history_events(record(execution(empty)), NOW) == []


def test_rupees_use_indian_digit_grouping() -> None:
    assert rupees(Decimal("1234567.891"), signed=True) == "+₹12,34,567.89"
    assert rupees(Decimal("-999")) == "-₹999.00"
    assert rupees(Decimal("0")) == "₹0.00"
