"""The simulated market-data source (the local platform and dev): index levels follow the
simulated index paths. It quotes no contract: with it, premiums are modelled on the level
(`SimulatedOptionMarket`), which is why it is only ever chosen by configuration."""

from __future__ import annotations

from datetime import datetime

from shared_utils.market.simulation import IndexPaths, default_paths
from shared_utils.market_data.models import Quote, QuoteBatch, QuoteRequest


class SimulatedMarketData:
    def __init__(self, paths: IndexPaths | None = None) -> None:
        self._paths = paths or default_paths()

    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        quotes = [
            Quote(instrument=index.value, last_price=self._paths.level(index.value, at), as_of=at)
            for index in request.indices
        ]
        return QuoteBatch(quotes=quotes, requests=1 if quotes else 0)
