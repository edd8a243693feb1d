"""What each source's recorded answer (fixtures/*_quote.json) says, in the platform's terms: the
three recordings quote the same contract and index at the same instants, so every adapter must
map its own dialect to these same quotes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.models import Quote

CE = OptionInstrument(
    underlying=Underlying.NIFTY, expiry=date(2026, 12, 1), strike=Decimal(26200), option_type=OptionType.CE
)
CE_QUOTE = Quote(
    instrument="NIFTY|2026-12-01|26200|CE",
    last_price=Decimal("118.40"),
    as_of=datetime(2026, 11, 24, 9, 59, 58, tzinfo=IST),
    bid=Decimal("118.35"),
    ask=Decimal("118.45"),
    volume=18573100,
    open_interest=9842170,
)
# An index is its price and time only, whatever else a source sends (often zeros).
NIFTY_QUOTE = Quote(
    instrument="NIFTY", last_price=Decimal("26143.75"), as_of=datetime(2026, 11, 24, 9, 59, 59, tzinfo=IST)
)
