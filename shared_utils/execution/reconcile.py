"""Know what the brokers hold (the timer's `BrokerReconciler`, run with each minute's duplicate check).

- Positions: every active broker account (open in the ledger, with an order in flight, or traded
  in the check's window) is asked for its positions; each contract whose net quantity at the
  broker differs from the ledger's is a difference. A mismatch is stored (the account's history
  item shows the broker's quantity beside the platform's) and, once it has lasted past one check
  (an order filling between the two reads is not a mismatch), counted in `PositionMismatches`,
  which raises an operator alarm. An account the broker does not answer for is listed and
  counted in `PositionChecksFailed`, never taken for a match. Paper accounts are checked only
  where every handler shares one process (the local platform, `simulate`): in Lambda the paper
  book lives in the container that placed the orders.
- Orders: an order whose outcome is still unknown (UNKNOWN, or PENDING / PLACED) longer than the
  bound (`UNKNOWN_ORDER_ALERT_SECONDS`) is flagged on its ledger entry, noted on its run's history
  record (the executions route shows it) and counted in `OrdersOutcomeOverdue` (an alarm): the
  broker's lookup keeps failing, or the order sits unfilled.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerError
from shared_utils.brokers.tag import run_of
from shared_utils.clock import Clock
from shared_utils.errors import DomainError
from shared_utils.execution.reports import ContractDifference, PositionMismatch, Reconciliation, StuckOrder
from shared_utils.execution.service import BrokersForUser
from shared_utils.execution.store import ExecutionStore

logger = Logger(child=True)

MISMATCH_METRIC = "PositionMismatches"
CHECK_FAILED_METRIC = "PositionChecksFailed"
OVERDUE_METRIC = "OrdersOutcomeOverdue"

Account = tuple[str, str, str]  # user, broker account, broker


class LedgerBrokerReconciler:
    def __init__(
        self,
        store: ExecutionStore,
        brokers_for_user: BrokersForUser,
        clock: Clock,
        *,
        overdue_after: timedelta,
        check_paper: bool,
        metrics: Metrics | None = None,
    ) -> None:
        self._check_paper = check_paper
        self._store = store
        self._brokers_for_user = brokers_for_user
        self._clock = clock
        self._overdue_after = overdue_after
        self._metrics = metrics

    def reconcile(self, trade_date: date, start: datetime, end: datetime) -> Reconciliation:
        now = self._clock.now()
        unfinished = self._store.unfinished_orders(trade_date)
        ledger: dict[Account, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for position in self._store.open_positions():
            account = (position.user_id, position.broker_account_id, position.broker)
            ledger[account][position.instrument.key] += position.net_quantity
        trading = {  # flat in the ledger, but an order is in flight or was just placed: check it too
            (entry.user_id, entry.broker_account_id, entry.broker)
            for entry in [*unfinished, *self._store.ledger_created_between(trade_date, start, end)]
        }
        mismatches: list[PositionMismatch] = []
        unreachable: list[str] = []
        for account in sorted(set(ledger) | trading):
            user_id, account_id, broker_name = account
            if broker_name == BrokerName.PAPER.value and not self._check_paper:
                continue  # its book lives in the process that placed the orders, not here
            try:
                held = self._brokers_for_user(user_id).broker_for(account_id, broker_name).positions()
            except (BrokerError, DomainError) as error:
                logger.warning(
                    "Positions not read", extra={"broker_account_id": account_id, "error": str(error)}
                )
                unreachable.append(account_id)
                continue
            at_broker: dict[str, int] = defaultdict(int)
            for holding in held:
                if holding.instrument is not None:
                    at_broker[holding.instrument.key] += holding.quantity
            ours = ledger[account]
            differences = [
                ContractDifference(
                    instrument=key, broker_quantity=at_broker[key], platform_quantity=ours[key]
                )
                for key in sorted(set(at_broker) | set(ours))
                if at_broker[key] != ours[key]
            ]
            if differences:
                first_seen = self._store.put_mismatch(user_id, account_id, trade_date, differences, now)
                mismatches.append(
                    PositionMismatch(
                        user_id=user_id,
                        broker_account_id=account_id,
                        broker=broker_name,
                        trade_date=trade_date,
                        differences=differences,
                        first_seen=first_seen,
                        checked_at=now,
                    )
                )
            else:
                self._store.clear_mismatch(user_id, account_id, trade_date, now)
        lasting = [m for m in mismatches if m.first_seen < now]
        if lasting:
            logger.error(
                "Broker positions differ from the ledger",
                extra={"accounts": [m.broker_account_id for m in lasting]},
            )
        overdue = [entry for entry in unfinished if now - entry.updated_at >= self._overdue_after]
        stuck = [
            StuckOrder(
                order_key=entry.order_key,
                user_id=entry.user_id,
                broker_account_id=entry.broker_account_id,
                status=entry.status.value,
                since=entry.updated_at,
            )
            for entry in overdue
        ]
        for order, entry in zip(stuck, overdue, strict=True):
            if self._store.flag_overdue(order.user_id, order.order_key, now):
                self._store.annotate_record(
                    entry.user_id,
                    trade_date,
                    entry.strategy_id,
                    run_of(entry.order_key),
                    f"leg {entry.leg_no} on {entry.broker_account_id}: outcome still {entry.status.value} "
                    f"since {entry.updated_at.isoformat()} (operators alerted)",
                )
        self._metric(MISMATCH_METRIC, len(lasting))
        self._metric(CHECK_FAILED_METRIC, len(unreachable))
        self._metric(OVERDUE_METRIC, len(stuck))
        return Reconciliation(
            position_mismatches=mismatches, stuck_orders=stuck, accounts_unreachable=unreachable
        )

    def _metric(self, name: str, value: int) -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
