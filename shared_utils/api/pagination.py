"""Query parameters of every list route: `limit` (1-100, default 25) and an opaque `next_token`.

Token encoding and tamper detection belong to the data layer (`shared_utils.pagination`); a
token it cannot verify surfaces as a `BadRequestError` (HTTP 400).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_TOKEN_LENGTH = 2048

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})"),
]
NextToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_TOKEN_LENGTH,
        description="Opaque token from the previous page's `next_token`; omit for the first page",
    ),
]
