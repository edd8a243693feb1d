"""A run's name, the action part of its order keys and its run item: ENTRY; EXIT (every leg) or
LEGSL{n} (one leg's stop-loss); a follow-up run closing what filled after the first one was
planned adds -2, -3 ... Built and read only here."""

from __future__ import annotations

import re

from shared_utils.keys import ScheduleKind

ENTRY_RUN = ScheduleKind.ENTRY.value
_LEG_EXIT = "LEGSL"
_LEG_OF = re.compile(rf"^{_LEG_EXIT}(\d+)(?:-\d+)?$")


def exit_run_name(leg_no: int | None, number: int = 1) -> str:
    base = ScheduleKind.EXIT.value if leg_no is None else f"{_LEG_EXIT}{leg_no}"
    return base if number == 1 else f"{base}-{number}"


def is_entry(run_name: str) -> bool:
    return run_name == ENTRY_RUN


def leg_of(run_name: str) -> int | None:
    """The leg a leg-exit run closes (None: an entry or a whole exit)."""
    match = _LEG_OF.match(run_name)
    return int(match.group(1)) if match else None
