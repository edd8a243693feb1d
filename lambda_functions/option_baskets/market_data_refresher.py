"""RefreshMarketData handler: cache the quotes the minute needs (index levels, the chains of due
strategies and every open contract; 300 s TTL), then announce them (QuotesRefreshed)."""

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.handlers.timer import build_timer_handler
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.market_data import QUOTES_DROPPED_METRIC, RefreshReport


def _refresh(envelope: TimerEnvelope) -> RefreshReport:
    root = platform()
    report = root.refresh(envelope)
    root.announce_quotes_refreshed(envelope)  # the live feed re-marks open positions
    return report


# Quotes the source answered but the platform does not trust (a price at or below zero, a
# timestamp in the future) are counted; the alarm is on the first one.
handler = build_timer_handler(DetailType.REFRESH_MARKET_DATA, _refresh, (QUOTES_DROPPED_METRIC, "dropped"))
