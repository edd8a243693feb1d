"""How much a closing order may still send (pure): what is open minus what is already on its way.

An exit run is planned from the positions it read; by the time one of its orders goes out, another
run (a leg stop-loss, the scheduled exit, a follow-up run) may have closed the same leg, or may
have an order for it in flight. Sending the planned quantity then reverses the position (a short
leg ends long). So each closing order sends at most the room left on its leg, per broker account
and contract: the open quantity, less every closing order in flight for it (PENDING, PLACED,
UNKNOWN: the broker holds or may hold them). Runs of one strategy are serialized by its lease, so
the room read when a run starts is only changed by that run's own orders.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from shared_utils.brokers.tag import run_of
from shared_utils.execution.models import LedgerEntry, PlannedOrder, PositionView
from shared_utils.execution.run_names import is_entry
from shared_utils.market.options import Action

# (broker account, leg, contract): positions of one leg entered on different days share it.
RoomKey = tuple[str, int, str]


def _closing(entry: LedgerEntry) -> bool:
    """Orders of exit runs (EXIT, EXIT-2, LEGSL{n} ...)."""
    return not is_entry(run_of(entry.order_key))


@dataclass
class _Room:
    net: int  # > 0 long, < 0 short
    buying: int = 0  # closing buys in flight
    selling: int = 0  # closing sells in flight

    def available(self, side: Action) -> int:
        if side is Action.BUY:
            return max(0, -self.net - self.buying)
        return max(0, self.net - self.selling)


class ClosingRoom:
    def __init__(self, positions: Iterable[PositionView], ledger: Iterable[LedgerEntry]) -> None:
        self._rooms: dict[RoomKey, _Room] = {}
        self._in_flight: dict[str, int] = {}  # order key -> the quantity counted as on its way
        for position in positions:
            key = (position.broker_account_id, position.leg_no, position.instrument.key)
            room = self._rooms.setdefault(key, _Room(net=0))
            room.net += position.net_quantity
        for entry in ledger:
            if not (entry.status.in_flight and _closing(entry)):
                continue
            key = (entry.broker_account_id, entry.leg_no, entry.instrument_key)
            room = self._rooms.setdefault(key, _Room(net=0))
            # Positions move only when an order is FILLED: all of an unfinished one is on its way.
            self._in_flight[entry.order_key] = entry.quantity
            if entry.side is Action.BUY:
                room.buying += entry.quantity
            else:
                room.selling += entry.quantity
        self._lock = threading.Lock()

    def take(self, order: PlannedOrder) -> int:
        """The quantity `order` may send (0: nothing left to close), counted as in flight from now.
        An order that was itself counted in flight (its lookup found it absent at the broker) is
        not in its own way."""
        key = (order.broker_account_id, order.leg_no, order.instrument.key)
        with self._lock:
            room = self._rooms.get(key)
            if room is None:
                return 0
            own = self._in_flight.pop(order.order_key, 0)
            if order.side is Action.BUY:
                room.buying -= own
            else:
                room.selling -= own
            allowed = min(order.quantity, room.available(order.side))
            if order.side is Action.BUY:
                room.buying += allowed
            else:
                room.selling += allowed
            return allowed
