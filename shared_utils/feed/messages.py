"""The live feed's messages (version 1): what a console receives on its WebSocket.

Every message is one JSON text frame `{"v": 1, "type": ..., "at": ..., "data": {...}}`; `at` is
when the platform sent it, the data carry the same models (and so the same number formats) as the
REST API. A message is a snapshot of the thing it names, never a delta: a message delivered twice,
or missed and followed by the next one, leaves a console right. `docs/feed.md` and
`docs/feed.schema.json` (generated from these models) describe them for clients.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from shared_utils.execution.models import (
    ExecutionStatus,
    ExitReason,
    KillSwitchView,
    LedgerEntry,
    Money,
    PositionView,
)
from shared_utils.execution.reports import ContractDifference
from shared_utils.models.broker_account import AccountState
from shared_utils.models.common import Broker

FEED_VERSION: Literal[1] = 1
SCHEMA_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "feed.schema.json"


class FeedType(StrEnum):
    ORDER = "order"
    POSITION = "position"
    MARKS = "marks"
    EXECUTION = "execution"
    RISK_EXIT = "risk_exit"
    KILL_SWITCH = "kill_switch"
    BROKER_VIEW = "broker_view"
    BROKER_ACCOUNT = "broker_account"


class ExecutionUpdate(BaseModel):
    """A strategy run's state: started, completed, failed or not entered (with its reason)."""

    model_config = ConfigDict(frozen=True)

    strategy_id: str
    action: str = Field(description="ENTRY or EXIT")
    run_name: str
    trade_date: date
    status: ExecutionStatus
    reason: str | None = None
    exit_reason: ExitReason | None = None
    realised_pnl: Money = Field(description="rupees, realised by this run")
    started_at: AwareDatetime
    updated_at: AwareDatetime


class RiskExit(BaseModel):
    """A stop-loss, target or trailing stop fired: the strategy's exit run is starting (its
    orders follow as order messages, its outcome as an execution message)."""

    model_config = ConfigDict(frozen=True)

    strategy_id: str
    run_name: str
    exit_reason: ExitReason
    trade_date: date
    started_at: AwareDatetime = Field(description="when the exit run was stored, before its first order")


class Marks(BaseModel):
    """Every open position of the user at the minute's quotes, and their totals."""

    model_config = ConfigDict(frozen=True)

    positions: list[PositionView]
    realised_pnl: Money
    unrealised_pnl: Money
    unpriced: list[str] = Field(default=[], description="position_sk of open positions with no fresh quote")


class BrokerView(BaseModel):
    """The broker's own positions of one account, where they differ from the platform's ledger
    (`differences` empty: they agree again)."""

    model_config = ConfigDict(frozen=True)

    broker_account_id: str
    trade_date: date
    differences: list[ContractDifference]


class BrokerAccountUpdate(BaseModel):
    """An account's state; NEEDS_LOGIN: no order goes to it until the user logs in."""

    model_config = ConfigDict(frozen=True)

    broker_account_id: str
    broker: Broker
    state: AccountState
    login_needed: bool


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: Literal[1] = FEED_VERSION
    at: AwareDatetime


class OrderMessage(_Message):
    type: Literal[FeedType.ORDER] = FeedType.ORDER
    data: LedgerEntry


class PositionMessage(_Message):
    type: Literal[FeedType.POSITION] = FeedType.POSITION
    data: PositionView


class MarksMessage(_Message):
    type: Literal[FeedType.MARKS] = FeedType.MARKS
    data: Marks


class ExecutionMessage(_Message):
    type: Literal[FeedType.EXECUTION] = FeedType.EXECUTION
    data: ExecutionUpdate


class RiskExitMessage(_Message):
    type: Literal[FeedType.RISK_EXIT] = FeedType.RISK_EXIT
    data: RiskExit


class KillSwitchMessage(_Message):
    type: Literal[FeedType.KILL_SWITCH] = FeedType.KILL_SWITCH
    data: KillSwitchView


class BrokerViewMessage(_Message):
    type: Literal[FeedType.BROKER_VIEW] = FeedType.BROKER_VIEW
    data: BrokerView


class BrokerAccountMessage(_Message):
    type: Literal[FeedType.BROKER_ACCOUNT] = FeedType.BROKER_ACCOUNT
    data: BrokerAccountUpdate


FeedMessage = Annotated[
    OrderMessage
    | PositionMessage
    | MarksMessage
    | ExecutionMessage
    | RiskExitMessage
    | KillSwitchMessage
    | BrokerViewMessage
    | BrokerAccountMessage,
    Field(discriminator="type"),
]
FEED_MESSAGE: TypeAdapter[FeedMessage] = TypeAdapter(FeedMessage)


def encode(message: FeedMessage) -> bytes:
    """The message as the text frame clients receive."""
    return FEED_MESSAGE.dump_json(message, exclude_none=True)


def schema_document() -> dict[str, object]:
    """The JSON Schema of every feed message (written to docs/feed.schema.json)."""
    document = FEED_MESSAGE.json_schema(mode="serialization")
    document["title"] = f"Options platform live feed, version {FEED_VERSION}"
    return document


def render_schema() -> str:
    return json.dumps(schema_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m shared_utils.feed.messages: rewrite docs/feed.schema.json
    SCHEMA_OUTPUT.write_text(render_schema())
    sys.stdout.write(f"wrote {SCHEMA_OUTPUT}\n")
