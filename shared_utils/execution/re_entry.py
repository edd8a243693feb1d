"""When an exit or the scheduled entry arms an entry (pure): a re-entry after a stop-loss or
target exit of a strategy (or one leg) whose rules allow one more today, and the wait-and-trade
legs the scheduled entry left out. The service stores what these return (`armed`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from shared_utils.clock import IST
from shared_utils.execution.armed import ArmedEntry, ArmedKind
from shared_utils.execution.models import ExecutionPlan, ExitReason, PositionView, WatchedContract
from shared_utils.execution.run_names import (
    cycle_name,
    cycle_numbers,
    cycle_of,
    leg_of,
    leg_re_entry_run,
    re_entry_run,
    wait_run,
)
from shared_utils.market.options import Action
from shared_utils.models.strategy import ReEntry, ReEntryAfter, ReEntryMode, Strategy


def re_entry_after(
    strategy: Strategy,
    exit_plan: ExecutionPlan,
    positions: list[PositionView],
    now: datetime,
    owner_id: str | None = None,
) -> ArmedEntry | None:
    """The re-entry an exit allows: its reason is one the rule re-enters after, what it closed is
    flat, fewer than `max_per_day` re-entries were made, the cut-off is still ahead. `positions`:
    the strategy's positions read after the exit; `owner_id`: a subscriber's copy of that owner's
    strategy (`strategy` as the subscriber sees it)."""
    reason = exit_plan.reason
    if reason is None or not reason.judges_cycle:
        return None
    trade_date = exit_plan.trade_date
    cycle = cycle_of(exit_plan.run_name) or ""
    today = [p for p in positions if p.entry_date == trade_date]
    leg_no = leg_of(exit_plan.run_name)
    strategy_cycle, _ = cycle_numbers(cycle)
    rule: ReEntry | None
    if reason is ExitReason.LEG_STOP_LOSS and leg_no is not None:
        rule = strategy.legs[leg_no - 1].re_entry if leg_no <= len(strategy.legs) else None
        closed = [p for p in today if p.leg_no == leg_no and p.cycle == cycle]
        made = {p.cycle for p in today if p.leg_no == leg_no and cycle_numbers(p.cycle)[1] > 0}
        number = len(made) + 1
        new_cycle = cycle_name(strategy_cycle, number)
        run_name, legs = leg_re_entry_run(leg_no, new_cycle), [leg_no]
    else:
        rule = strategy.re_entry
        after = ReEntryAfter.TARGET if reason is ExitReason.TARGET else ReEntryAfter.STOP_LOSS
        if rule is not None and after not in rule.after:
            return None
        closed = [p for p in today if cycle_numbers(p.cycle)[0] == strategy_cycle]
        number = strategy_cycle + 1
        new_cycle = cycle_name(number)
        run_name, legs = re_entry_run(number), list(range(1, len(strategy.legs) + 1))
    if rule is None or not closed or any(p.net_quantity for p in closed) or number > rule.max_per_day:
        return None
    cut_off = datetime.combine(trade_date, rule.until, tzinfo=IST)
    if now >= cut_off:
        return None
    return ArmedEntry(
        user_id=strategy.user_id,
        strategy_id=strategy.strategy_id,
        trade_date=trade_date,
        run_name=run_name,
        kind=ArmedKind.RE_ENTRY,
        legs=legs,
        cycle=new_cycle,
        fresh_strikes=rule.mode is ReEntryMode.RE_EXECUTE,
        when=rule.when,
        watched=_entered(strategy, closed),
        not_before=now,
        not_after=cut_off,
        armed_at=now,
        owner_id=owner_id,
        basket_id=strategy.basket_id if owner_id is not None else None,
    )


def _entered(strategy: Strategy, closed: list[PositionView]) -> list[WatchedContract]:
    """Each closed leg's contract at the price it was entered at (one per leg: every account
    traded the same contract)."""
    watched: dict[int, WatchedContract] = {}
    for position in sorted(closed, key=lambda p: (p.leg_no, p.broker_account_id)):
        if position.leg_no in watched or position.leg_no > len(strategy.legs):
            continue
        leg = strategy.legs[position.leg_no - 1]
        quantity, value = (
            (position.sell_quantity, position.sell_value)
            if leg.action is Action.SELL
            else (position.buy_quantity, position.buy_value)
        )
        if quantity <= 0:
            continue
        watched[position.leg_no] = WatchedContract(
            leg_no=position.leg_no,
            instrument=position.instrument,
            side=leg.action,
            price=(Decimal(value) / quantity).quantize(Decimal("0.01")),
            units=leg.lots,
        )
    return [watched[leg_no] for leg_no in sorted(watched)]


def waits_after(
    strategy: Strategy, entry_plan: ExecutionPlan, scheduled_at: datetime, owner_id: str | None = None
) -> list[ArmedEntry]:
    """The wait-and-trade legs the scheduled entry left out, each watching its contract from the
    price the entry's plan stored, until its time-out. `owner_id`: a subscriber's copy of the
    owner's strategy."""
    armed: list[ArmedEntry] = []
    for contract in entry_plan.waiting:
        wait = strategy.legs[contract.leg_no - 1].wait_and_trade
        if wait is None:
            continue
        armed.append(
            ArmedEntry(
                user_id=strategy.user_id,
                strategy_id=strategy.strategy_id,
                trade_date=entry_plan.trade_date,
                run_name=wait_run(contract.leg_no),
                kind=ArmedKind.WAIT_AND_TRADE,
                legs=[contract.leg_no],
                cycle="",
                wait=wait,
                watched=[contract],
                not_before=scheduled_at,
                not_after=scheduled_at + timedelta(minutes=wait.timeout_minutes),
                armed_at=scheduled_at,
                owner_id=owner_id,
                basket_id=strategy.basket_id if owner_id is not None else None,
            )
        )
    return armed


def scheduled_minute(trade_date: date, strategy: Strategy) -> datetime:
    return datetime.combine(trade_date, strategy.entry.time, tzinfo=IST)


def still_wanted(strategy: Strategy, armed: ArmedEntry) -> bool:
    """Does the strategy, as it is now, still have the rule that armed this entry (the trader may
    have edited it since)?"""
    if any(leg_no > len(strategy.legs) for leg_no in armed.legs):
        return False
    if armed.kind is ArmedKind.WAIT_AND_TRADE:
        return all(strategy.legs[leg_no - 1].wait_and_trade is not None for leg_no in armed.legs)
    if len(armed.legs) == len(strategy.legs) and cycle_numbers(armed.cycle)[1] == 0:
        return strategy.re_entry is not None
    return all(strategy.legs[leg_no - 1].re_entry is not None for leg_no in armed.legs)
