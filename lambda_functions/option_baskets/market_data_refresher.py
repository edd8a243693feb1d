"""RefreshMarketData handler: cache quotes of the instruments that matter this minute (300 s TTL)."""

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.handler import build_timer_handler
from shared_utils.timer.market_data import RefreshReport


def _refresh(envelope: TimerEnvelope) -> RefreshReport:
    return platform().refresh(envelope)


handler = build_timer_handler(DetailType.REFRESH_MARKET_DATA, _refresh)
