"""The words of each notification: short, plain text (no markup to escape), readable on a phone.

A run's legs are summed over broker accounts and slices (one line per leg: side, quantity,
contract, average price); money is in rupees with Indian digit grouping; times are IST.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from shared_utils.clock import to_ist
from shared_utils.execution.models import (
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    OrderOutcome,
)
from shared_utils.execution.run_names import leg_of
from shared_utils.feed.messages import BrokerAccountUpdate, RiskExit
from shared_utils.notifications.events import NotificationEvent

PLATFORM = "Options platform"

REASONS: dict[ExitReason, str] = {
    ExitReason.SCHEDULED: "scheduled exit",
    ExitReason.STOP_LOSS: "stop-loss",
    ExitReason.LEG_STOP_LOSS: "leg stop-loss",
    ExitReason.TARGET: "target",
    ExitReason.TRAILING_STOP_LOSS: "trailing stop-loss",
    ExitReason.SQUARE_OFF: "square-off before the close",
    ExitReason.KILL_SWITCH: "kill switch",
    ExitReason.MANUAL: "closed by you",
    ExitReason.PORTFOLIO_STOP_LOSS: "portfolio stop-loss",
    ExitReason.PORTFOLIO_TARGET: "portfolio target",
    ExitReason.PORTFOLIO_TRAILING_STOP_LOSS: "portfolio trailing stop-loss",
    ExitReason.SIGNAL: "signal",
}
_OUTCOMES = {
    ExecutionStatus.PARTIAL: "partly filled",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.NOT_ENTERED: "not placed",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def rupees(amount: Decimal, *, signed: bool = False) -> str:
    """`₹1,23,456.50` (Indian grouping); `signed`: `+₹...` / `-₹...`."""
    value = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, paise = f"{abs(value):.2f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    grouped = ",".join([*groups, tail]) if groups else tail
    sign = "-" if value < 0 else ("+" if signed else "")
    return f"{sign}₹{grouped}.{paise}"


def price(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def contract(instrument_key: str) -> str:
    """`NIFTY|2026-11-26|24050|CE` -> `NIFTY 26 Nov 24050 CE`."""
    try:
        underlying, expiry, strike, option_type = instrument_key.split("|")
        day = date.fromisoformat(expiry)
    except ValueError:
        return instrument_key
    return f"{underlying} {day.day} {day:%b} {strike} {option_type}"


def clock_time(instant: datetime) -> str:
    return f"{to_ist(instant):%H:%M} IST"


def _action(run: ExecutionRecord) -> str:
    if run.action.value == "ENTRY":
        return "entry" if run.run_name == "ENTRY" else f"re-entry {run.run_name}"
    reason = REASONS.get(run.exit_reason) if run.exit_reason else None
    return f"exit ({reason})" if reason else "exit"


@dataclass
class _Leg:
    leg_no: int
    side: str
    instrument: str
    ordered: int = 0
    filled: int = 0
    value: Decimal = Decimal("0")
    problems: tuple[str, ...] = ()


def _legs(orders: Iterable[OrderOutcome]) -> list[_Leg]:
    legs: dict[tuple[int, str, str], _Leg] = {}
    for order in orders:
        key = (order.leg_no, order.side.value, order.instrument)
        leg = legs.setdefault(key, _Leg(order.leg_no, order.side.value, order.instrument))
        leg.ordered += order.quantity
        leg.filled += order.filled_quantity
        if order.filled_quantity and order.average_price is not None:
            leg.value += order.average_price * order.filled_quantity
        if order.filled_quantity < order.quantity:
            status = order.status.value.lower().replace("_", " ") if order.status else "not sent"
            problem = f"{status}: {order.reason}" if order.reason else status
            if problem not in leg.problems:
                leg.problems = (*leg.problems, problem)
    return [legs[key] for key in sorted(legs)]


def _leg_line(leg: _Leg, *, partial: bool) -> str:
    quantity = f"{leg.filled}/{leg.ordered}" if partial and leg.filled != leg.ordered else str(leg.filled)
    line = f"L{leg.leg_no} {leg.side} {quantity} {contract(leg.instrument)}"
    if leg.filled:
        line += f" @ {price(leg.value / leg.filled)}"
    if partial and leg.problems:
        line += f" ({'; '.join(leg.problems)})"
    return line


def _run(run: ExecutionRecord, name: str) -> Rendered:
    action = _action(run)
    orders = [order for broker in run.brokers for order in broker.orders]
    if run.status is ExecutionStatus.COMPLETE:
        subject = f"{name}: {action} filled"
        lines = [f"{subject} at {clock_time(run.updated_at)}"]
        lines += [_leg_line(leg, partial=False) for leg in _legs(orders)]
    else:
        subject = f"{name}: {action} {_OUTCOMES.get(run.status, run.status.value.lower())}"
        lines = [f"{subject} at {clock_time(run.updated_at)}"]
        lines += [_leg_line(leg, partial=True) for leg in _legs(orders)]
        lines += [
            f"{broker.broker_account_id}: {broker.reason}"
            for broker in run.brokers
            if broker.reason and not broker.orders
        ]
        if run.reason:
            lines.append(f"Reason: {run.reason}")
    if run.action.value == "EXIT" and any(order.filled_quantity for order in orders):
        lines.append(f"Realised P&L: {rupees(run.realised_pnl, signed=True)}")
    return Rendered(subject, "\n".join(lines))


def _rejected(entry: LedgerEntry, name: str) -> Rendered:
    subject = f"{name}: order rejected"
    return Rendered(
        subject,
        "\n".join(
            [
                f"{subject} at {clock_time(entry.updated_at)}",
                f"L{entry.leg_no} {entry.side.value} {entry.quantity} {contract(entry.instrument_key)} "
                f"on {entry.broker_account_id}",
                f"Reason: {entry.reason or 'refused by the broker'}",
            ]
        ),
    )


def _risk_exit(fired: RiskExit, name: str, at: datetime) -> Rendered:
    reason = REASONS.get(fired.exit_reason, fired.exit_reason.value.lower())
    leg = leg_of(fired.run_name)
    closing = f"closing leg {leg}" if leg is not None else "closing every open leg"
    subject = f"{name}: {reason} hit"
    return Rendered(subject, f"{subject} at {clock_time(at)}, {closing}. The fills follow.")


def _kill_switch(view: KillSwitchView, at: datetime) -> Rendered:
    whose = "Platform-wide kill switch" if view.scope == "GLOBAL" else "Kill switch"
    if view.state is KillSwitchState.TRIGGERED:
        subject = f"{whose} pressed"
        text = f"{subject} at {clock_time(at)}: no new entries; every open position is being squared off."
    else:
        subject = f"{whose} re-armed"
        text = f"{subject} at {clock_time(at)}: trading allowed again (paused strategies stay paused)."
    return Rendered(subject, text)


def _login_needed(update: BrokerAccountUpdate) -> Rendered:
    subject = f"Broker login needed: {update.broker_account_id}"
    return Rendered(
        subject,
        f"{subject} ({update.broker}). No order goes to this account until you log in again.",
    )


def render(event: NotificationEvent, strategy_name: str | None) -> Rendered:
    """The subject (an e-mail's, or the first words of a chat message) and the text."""
    name = strategy_name or (f"Strategy {event.strategy_id[:8]}" if event.strategy_id else PLATFORM)
    detail = event.detail
    if isinstance(detail, ExecutionRecord):
        return _run(detail, name)
    if isinstance(detail, LedgerEntry):
        return _rejected(detail, name)
    if isinstance(detail, RiskExit):
        return _risk_exit(detail, name, event.at)
    if isinstance(detail, KillSwitchView):
        return _kill_switch(detail, event.at)
    return _login_needed(detail)


def trial_message(at: datetime) -> Rendered:
    subject = f"{PLATFORM}: test message"
    return Rendered(subject, f"{subject} sent at {clock_time(at)}. Notifications reach you here.")
