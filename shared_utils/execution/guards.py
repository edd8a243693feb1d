"""Rules that protect open positions from configuration changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from shared_utils.errors import ConflictError, FieldIssue
from shared_utils.execution.models import PositionView

OPEN_POSITIONS = "OPEN_POSITIONS"


class PositionReader(Protocol):
    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]: ...


def ensure_flat(positions: PositionReader, user_id: str, strategy_ids: Iterable[str]) -> None:
    """Refuse (409 OPEN_POSITIONS, one detail per open leg) to delete a strategy that still holds
    positions: with it would go its stop-loss and its scheduled exit, leaving them unmanaged."""
    open_legs = [
        position
        for strategy_id in strategy_ids
        for position in positions.positions(user_id, strategy_id)
        if position.net_quantity
    ]
    if open_legs:
        raise ConflictError(
            "the strategy holds open positions: exit them first (its exit, a leg exit or the kill "
            "switch), then delete it",
            details=[
                FieldIssue(
                    f"positions.{p.strategy_id}.{p.broker_account_id}.leg{p.leg_no}",
                    f"net {p.net_quantity} of {p.instrument.key}",
                )
                for p in open_legs
            ],
            code=OPEN_POSITIONS,
        )
