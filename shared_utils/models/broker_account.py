"""Broker accounts as the configuration side sees them: never with credentials."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.models.common import Broker, EntityId


class BrokerAccount(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    broker_account_id: EntityId
    broker: Broker
    label: str = Field(default="", max_length=100)
    paper: bool = False
    created_at: AwareDatetime | None = None


PAPER_BROKER = "PAPER"
