"""What a simulated session did, collected from the timer's deliveries: the simulation fills it,
the report draws it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_platform import console
from local_platform.timer import Delivery
from shared_utils.clock import to_ist


@dataclass
class SessionLog:
    """What the session did, collected from the deliveries and the execution store."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    ticks: int = 0
    pnl: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    # The level of each underlying the day's strategies trade, sampled with the P&L.
    index: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))

    def delivery(self, delivery: Delivery) -> None:
        self.events[(delivery.detail_type, delivery.phase)] += 1
        if delivery.error is not None:
            self.errors.append({"handler": delivery.module, "event": delivery.event, "error": delivery.error})
            console.warn(f"[timer] {delivery.module} FAILED on {delivery.detail_type}: {delivery.error}")
            return
        result = (delivery.result or {}).get("result") or {}
        for requested in result.get("requested", []) or []:
            self.requested.append(requested)
            self.users.add(str(requested).split("/", 1)[0])
            console.say(
                f"[trigger] {to_ist(datetime.fromisoformat(delivery.event['time'])):%H:%M} {requested}"
            )
