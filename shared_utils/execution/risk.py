"""Per-allocation risk limits of an entry (pure): which broker accounts it must not place on, and why.

`max_lots_per_order` is a fat-finger guard (the freeze quantity does the slicing),
`max_orders_per_day` counts the day's earlier orders of the strategy on the account plus this
run's, `max_loss_per_day` the realised and marked P&L of what the strategy opened there today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from shared_utils.execution.models import ExecutionPlan, LedgerEntry, PositionView
from shared_utils.models.allocation import AllocationLimits


def has_limits(limits: Mapping[str, AllocationLimits]) -> bool:
    return any(
        limit.max_lots_per_order or limit.max_orders_per_day or limit.max_loss_per_day
        for limit in limits.values()
    )


def risk_blocks(
    plan: ExecutionPlan,
    limits: Mapping[str, AllocationLimits],
    day_ledger: Sequence[LedgerEntry],
    positions: Sequence[PositionView],
) -> dict[str, str]:
    """Blocked broker accounts with the reason; `day_ledger` and `positions` are the strategy's."""
    blocked: dict[str, str] = {}
    planned_keys = {order.order_key for order in plan.orders}
    earlier = [entry for entry in day_ledger if entry.order_key not in planned_keys]
    today = [p for p in positions if p.entry_date == plan.trade_date]
    for account in plan.accounts():
        limit = limits.get(account)
        if limit is None:
            continue
        orders = plan.orders_of(account)
        biggest = max(order.lots for order in orders)
        if limit.max_lots_per_order is not None and biggest > limit.max_lots_per_order:
            blocked[account] = (
                f"risk limit: an order of {biggest} lots exceeds "
                f"max_lots_per_order {limit.max_lots_per_order}"
            )
            continue
        count = sum(1 for entry in earlier if entry.broker_account_id == account) + len(orders)
        if limit.max_orders_per_day is not None and count > limit.max_orders_per_day:
            blocked[account] = (
                f"risk limit: {count} orders today would exceed max_orders_per_day {limit.max_orders_per_day}"
            )
            continue
        pnl = sum(
            (
                p.realised_pnl + (p.unrealised_pnl or Decimal("0"))
                for p in today
                if p.broker_account_id == account
            ),
            Decimal("0"),
        )
        if limit.max_loss_per_day is not None and -pnl >= limit.max_loss_per_day:
            blocked[account] = (
                f"risk limit: today's loss {-pnl} reached max_loss_per_day {limit.max_loss_per_day}"
            )
    return blocked
