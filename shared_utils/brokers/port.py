"""The one port the execution engine talks to, and the errors every adapter maps its SDK onto.

Error contract for `place`:
- `BrokerRejectedError`: definitive, the broker refused the order; nothing to reconcile.
- `BrokerTimeoutError`: the outcome is unknown. Never resend; look the order up with
  `find_order_by_tag(tag)` (now or on the next attempt) and only place again if it is absent.
- any other `BrokerError` with `order_may_exist=True` (a 5xx after the request went out):
  reconcile by tag exactly as for a timeout.
- `order_may_exist=False` (connection refused, 429, auth, circuit open): the order was not
  accepted; it is safe to place it again later with the same tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.errors import DomainError


@dataclass
class BrokerError(DomainError):
    code: str = "BROKER_ERROR"
    broker: str = ""
    order_may_exist: bool = False


@dataclass
class BrokerTimeoutError(BrokerError):
    """No answer in time: the order may or may not exist. Reconcile by tag, never resend blindly."""

    code: str = "BROKER_TIMEOUT"
    order_may_exist: bool = True


@dataclass
class BrokerRejectedError(BrokerError):
    """The broker answered and refused (bad symbol, margin, market closed ...): definitive."""

    code: str = "BROKER_REJECTED"
    reason: str = ""


@dataclass
class BrokerRateLimitedError(BrokerError):
    """HTTP 429 or the local rate limiter: not accepted, retry later."""

    code: str = "BROKER_RATE_LIMITED"


@dataclass
class BrokerUnavailableError(BrokerError):
    """5xx or connection failure. `order_may_exist` tells whether the request reached the broker."""

    code: str = "BROKER_UNAVAILABLE"


@dataclass
class BrokerCircuitOpenError(BrokerUnavailableError):
    """The account's circuit breaker is open: the call was not attempted."""

    code: str = "BROKER_CIRCUIT_OPEN"


@dataclass
class BrokerAuthError(BrokerError):
    """Credentials missing, unreadable or refused (expired session). No order was sent."""

    code: str = "BROKER_AUTH"


@dataclass
class BrokerLoginNeededError(BrokerAuthError):
    """The account has no session the broker accepts (NEEDS_LOGIN, LINKED, DISABLED, or its
    session ended): nothing is sent until it logs in."""

    code: str = "BROKER_LOGIN_NEEDED"


@dataclass
class BrokerOrderNotFoundError(BrokerError):
    code: str = "BROKER_ORDER_NOT_FOUND"


@dataclass
class BrokerNoProtectionPriceError(BrokerError):
    """A MARKET order could not be given its protection price (no fresh quote of the contract, or
    none to look up): it was not sent. Not accepted, safe to place again later with the same tag."""

    code: str = "NO_PROTECTION_PRICE"


@runtime_checkable
class Broker(Protocol):
    """One broker account. Implementations are not shared between accounts."""

    @property
    def name(self) -> BrokerName: ...

    def place(self, order: OrderRequest) -> OrderResult:
        """Send one order carrying `order.tag`; returns the broker's immediate view of it."""
        ...

    def cancel(self, broker_order_id: str) -> OrderResult: ...

    def order_status(self, broker_order_id: str) -> OrderResult:
        """Raises `BrokerOrderNotFoundError` when the broker does not know the id."""
        ...

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        """Today's order carrying `tag`, or None: the reconciliation step after a timeout."""
        ...

    def positions(self) -> list[Position]: ...
