"""ScheduleStrategyTrigger handler: hand every strategy due in the lookahead to execution, once."""

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.handlers.timer import build_timer_handler
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.triggers import TriggerReport


def _trigger(envelope: TimerEnvelope) -> TriggerReport:
    return platform().trigger(envelope)


handler = build_timer_handler(
    DetailType.SCHEDULE_STRATEGY_TRIGGER, _trigger, counted=("ExecutionsRequested", "requested_count")
)
