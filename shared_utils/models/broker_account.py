"""Broker accounts as the configuration side sees them: never with credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.models.common import Broker, EntityId


class AccountState(StrEnum):
    """LINKED: credentials stored, never logged in yet. ACTIVE: a session the broker accepts
    until `session_expires_at`. NEEDS_LOGIN: the session ended or the broker refused it; no order
    is sent until the user (or the morning's self-login) logs in again. DISABLED: switched off."""

    LINKED = "LINKED"
    ACTIVE = "ACTIVE"
    NEEDS_LOGIN = "NEEDS_LOGIN"
    DISABLED = "DISABLED"


class BrokerAccount(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    broker_account_id: EntityId
    broker: Broker
    label: str = Field(default="", max_length=100)
    paper: bool = False
    created_at: AwareDatetime | None = None
    # An account stored before states existed (or a paper one) reads as ACTIVE: it traded then.
    state: AccountState = AccountState.ACTIVE
    session_expires_at: AwareDatetime | None = None
    client_id: str | None = Field(default=None, max_length=64, description="the client code at the broker")

    def can_trade(self, now: datetime) -> bool:
        """Paper accounts always; a real one while ACTIVE and its session has not ended."""
        if self.paper:
            return True
        if self.state is not AccountState.ACTIVE:
            return False
        return self.session_expires_at is None or now < self.session_expires_at


class BrokerAccountView(BrokerAccount):
    """An account as its owner sees it, with the address its orders leave from."""

    static_ip: str | None = Field(
        default=None,
        description="the static IP to register with the broker (its orders leave from it, one client per "
        "address); null where this environment sends from no per-client address (paper, dev, local)",
    )


PAPER_BROKER = "PAPER"
# Why an account's orders were not sent: the user (or the morning's self-login) must log in.
LOGIN_NEEDED_REASON = "broker login needed"
