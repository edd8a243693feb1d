"""Path and query parameters shared by the routers (ids have the domain's `EntityId` shape)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
ID_MAX_LENGTH = 64

BasketId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
StrategyId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
AllocationId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
ExpectedVersion = Annotated[
    int | None,
    Query(ge=1, description="Delete only if the item is still at this version (409 otherwise)"),
]
