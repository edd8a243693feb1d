"""The caller, from the Cognito user-pool authorizer's claims (`requestContext.authorizer.claims`).

API Gateway has already verified the token; the handler only reads `sub` (the user id) and
`cognito:groups`. A request without them never reaches the domain (401).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Request
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, ConfigDict

from shared_utils.api.errors import UnauthenticatedError
from shared_utils.models.identity import ADMINS_GROUP, GROUPS_CLAIM

__all__ = ["ADMINS_GROUP", "GROUPS_CLAIM", "Caller", "Identity"]
_GROUP_SEPARATORS = re.compile(r"[\s,]+")


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMINS_GROUP in self.groups


def _groups(raw: Any) -> frozenset[str]:
    """REST API authorizers pass groups as "a,b" (or "[a b]"); tests and HTTP APIs pass lists."""
    if isinstance(raw, list | tuple):
        return frozenset(str(group) for group in raw if str(group))
    if isinstance(raw, str):
        return frozenset(part for part in _GROUP_SEPARATORS.split(raw.strip("[]")) if part)
    return frozenset()


def identity_from_claims(claims: Mapping[str, Any] | None) -> Identity:
    if not claims:
        raise UnauthenticatedError()
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise UnauthenticatedError()
    return Identity(user_id=sub, groups=_groups(claims.get(GROUPS_CLAIM)))


def identity_of(event: BaseProxyEvent) -> Identity:
    context = event.raw_event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    return identity_from_claims(claims if isinstance(claims, dict) else None)


def current_identity(request: Request) -> Identity:
    """`Depends()` provider: the caller of the request being resolved."""
    return identity_of(request.resolved_event)


# A route parameter `caller: Caller` receives the authenticated caller.
Caller = Annotated[Identity, Depends(current_identity)]
