"""The duplicate-order scanner (the timer's `DuplicateOrderScanner`).

Within the lookback window it reads every ledger entry of the trade date (one index query) and
flags: an order key that ended up with more than one broker order id (a reconciliation found a
different order than the one recorded), and an order whose key is not in its run's stored plan
(placed outside the plan for the same strategy/leg/action/account). Findings are written on the
ledger entries and counted in the `DuplicateOrders` metric.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared_utils.brokers.tag import run_of
from shared_utils.clock import Clock
from shared_utils.execution.models import LedgerEntry
from shared_utils.execution.reports import DuplicateFinding
from shared_utils.execution.store import ExecutionStore

logger = Logger(child=True)

DUPLICATE_METRIC = "DuplicateOrders"


class LedgerDuplicateScanner:
    def __init__(self, store: ExecutionStore, clock: Clock, metrics: Metrics | None = None) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics

    def scan(self, trade_date: date, start: datetime, end: datetime) -> list[DuplicateFinding]:
        entries = self._store.ledger_created_between(trade_date, start, end)
        findings: list[tuple[LedgerEntry, DuplicateFinding, str]] = []
        for entry in entries:
            if len(entry.broker_order_ids) > 1:
                findings.append(
                    (
                        entry,
                        DuplicateFinding(
                            idempotency_key=entry.order_key, order_ids=list(entry.broker_order_ids)
                        ),
                        "more than one broker order for one ledger key",
                    )
                )
        runs: dict[tuple[str, str, str], list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            runs[(entry.user_id, entry.strategy_id, run_of(entry.order_key))].append(entry)
        for (user_id, strategy_id, run_name), members in runs.items():
            plan = self._store.get_run(user_id, trade_date, strategy_id, run_name)
            if plan is None:
                continue
            planned = {order.order_key for order in plan.orders}
            for entry in members:
                if entry.order_key not in planned:
                    findings.append(
                        (
                            entry,
                            DuplicateFinding(
                                idempotency_key=entry.order_key, order_ids=list(entry.broker_order_ids)
                            ),
                            "order outside the run's plan for the same strategy, leg and account",
                        )
                    )
        now = self._clock.now()
        for entry, _finding, reason in findings:
            self._store.flag_duplicate(entry.user_id, entry.order_key, reason, now)
        if self._metrics is not None:
            self._metrics.add_metric(name=DUPLICATE_METRIC, unit=MetricUnit.Count, value=len(findings))
        if findings:
            logger.warning("Duplicate orders flagged", extra={"count": len(findings)})
        return [finding for _entry, finding, _reason in findings]
