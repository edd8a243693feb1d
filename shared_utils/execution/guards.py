"""Rules that protect open positions from configuration changes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Protocol

from shared_utils.errors import ConflictError, FieldIssue
from shared_utils.execution.leases import BRIEF_WAIT_S, StrategyLeases
from shared_utils.execution.models import ExitReason, PositionView
from shared_utils.execution.service import ExecutionService

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


@contextmanager
def flat_while_held(
    service: ExecutionService,
    leases: StrategyLeases,
    user_id: str,
    strategy_ids: Sequence[str],
    *,
    close: bool,
) -> Iterator[None]:
    """Hold the strategies' leases (no run of theirs can start meanwhile), close what they hold
    first when `close` (an exit at market; what a broker failure leaves open stays on the retry
    list), then refuse with 409 OPEN_POSITIONS if anything is still open. The caller deletes
    inside the block. A strategy busy with a run is a 409 STRATEGY_BUSY: nothing is deleted."""
    with ExitStack() as held:
        for strategy_id in strategy_ids:
            held.enter_context(leases.hold(user_id, strategy_id, wait_s=BRIEF_WAIT_S))
        if close:
            today = service.today()
            for strategy_id in strategy_ids:
                if any(p.net_quantity for p in service.store.positions(user_id, strategy_id)):
                    service.exit(user_id, strategy_id, today, ExitReason.MANUAL)
        ensure_flat(service.store, user_id, strategy_ids)
        yield
