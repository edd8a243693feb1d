"""CheckDuplicateOrders handler, once per tick: flag duplicate orders of the lookback window,
compare the brokers' positions with the ledger and flag orders whose outcome is overdue."""

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.handlers.timer import build_timer_handler
from shared_utils.timer.checks import DuplicateReport, check_duplicate_orders
from shared_utils.timer.envelope import TimerEnvelope


def _scan(envelope: TimerEnvelope) -> DuplicateReport:
    root = platform()
    return check_duplicate_orders(envelope, root.duplicate_order_scanner(), root.broker_reconciler())


handler = build_timer_handler(
    DetailType.CHECK_DUPLICATE_ORDERS, _scan, counted=("DuplicateOrdersFound", "findings")
)
