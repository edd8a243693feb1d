"""Path and query parameters shared by the routers (ids have the domain's `EntityId` shape)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
ID_MAX_LENGTH = 64

BasketId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
StrategyId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
AllocationId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
BrokerAccountId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
BacktestId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
WebhookId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
ClosePositions = Annotated[
    bool,
    Query(
        description="Close the open positions first (an exit at market, recorded as MANUAL), then "
        "delete; 409 OPEN_POSITIONS if any is still open after it (a broker failure: the exit is "
        "retried each minute, delete again once flat)"
    ),
]
ExpectedVersion = Annotated[
    int | None,
    Query(ge=1, description="Delete only if the item is still at this version (409 otherwise)"),
]
