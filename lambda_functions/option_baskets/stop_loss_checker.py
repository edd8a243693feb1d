"""CheckStopLoss handler: evaluate open positions against their stop-losses once per tick."""

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.execution.reports import StopLossReport
from shared_utils.handlers.timer import build_timer_handler
from shared_utils.timer.checks import check_stop_losses
from shared_utils.timer.envelope import TimerEnvelope


def _check(envelope: TimerEnvelope) -> StopLossReport:
    return check_stop_losses(envelope, platform().stop_loss_monitor())


handler = build_timer_handler(DetailType.CHECK_STOP_LOSS, _check)
