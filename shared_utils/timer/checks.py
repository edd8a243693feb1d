"""CheckStopLoss and CheckDuplicateOrders: what the timer hands over each minute.

The evaluation itself (per-leg stop-loss, strategy MTM stop-loss/target, trailing stop-loss;
the order ledger scan, the brokers' positions) belongs to the execution side, which implements
the ports of `execution.reports`.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared_utils.execution.reports import (
    BrokerReconciler,
    DuplicateFinding,
    DuplicateOrderScanner,
    PositionMismatch,
    Reconciliation,
    StopLossMonitor,
    StopLossReport,
    StuckOrder,
)
from shared_utils.timer.envelope import TimerEnvelope

logger = Logger(child=True)


class DuplicateReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    window_start: AwareDatetime
    window_end: AwareDatetime
    findings: list[DuplicateFinding] = []
    position_mismatches: list[PositionMismatch] = []
    stuck_orders: list[StuckOrder] = []
    accounts_unreachable: list[str] = []


def check_stop_losses(envelope: TimerEnvelope, monitor: StopLossMonitor) -> StopLossReport:
    report = monitor.check(envelope.tick, envelope.trade_date)
    logger.info("Stop-loss checks queued", extra=report.model_dump(mode="json"))
    return report


def check_duplicate_orders(
    envelope: TimerEnvelope, scanner: DuplicateOrderScanner, reconciler: BrokerReconciler | None = None
) -> DuplicateReport:
    findings = scanner.scan(envelope.trade_date, envelope.window_start, envelope.window_end)
    reconciled = (
        reconciler.reconcile(envelope.trade_date, envelope.window_start, envelope.window_end)
        if reconciler is not None
        else Reconciliation()
    )
    report = DuplicateReport(
        tick=envelope.tick,
        window_start=envelope.window_start,
        window_end=envelope.window_end,
        findings=findings,
        **reconciled.model_dump(),
    )
    if findings or reconciled.position_mismatches or reconciled.stuck_orders:
        logger.warning("Duplicate orders found", extra=report.model_dump(mode="json"))
    else:
        logger.info("No duplicate orders", extra=report.model_dump(mode="json"))
    return report
