"""A run's name, the action part of its order keys and its run item. Built and read only here.

- ENTRY: the scheduled entry. EXIT (every leg) or LEGSL{n} (one leg's stop-loss); a follow-up run
  closing what filled after the first one was planned adds -2, -3 ...
- Re-entries and wait-and-trade legs ("armed entries"): RE{k} enters every leg again (the
  strategy's k-th re-entry of the day); LEG{n}.{cycle} enters leg n again; WAIT{n} enters leg n
  once its premium has moved. Their positions carry the cycle ("R{k}", "L{j}", "R{k}L{j}") so each
  entry has its own position and average price.
- An exit of one cycle (a stop-loss, target or trailing exit, after which a re-entry may follow)
  names it: EXIT.R1, LEGSL2.L1; an exit that ends the day (scheduled, square-off, kill switch,
  portfolio) closes every cycle and is named as before.
- DAYEND: an empty run stored before an exit that ends the strategy's day: no armed entry
  places anything after it.
- SIG{n}: the strategy's n-th signal of the day (a chart alert on a webhook), an entry in a
  strategy cycle of its own or an exit of everything open; numbered when the signal is received.
"""

from __future__ import annotations

import re

from shared_utils.keys import ScheduleKind

ENTRY_RUN = ScheduleKind.ENTRY.value
DAY_END_RUN = "DAYEND"
_LEG_EXIT = "LEGSL"
_LEG_OF = re.compile(rf"^{_LEG_EXIT}(\d+)(?:\.[A-Z0-9]+)?(?:-\d+)?$")
_ARMED = re.compile(r"^(?:RE\d+|LEG\d+\.[A-Z0-9]+|WAIT\d+)$")
_CYCLE = re.compile(r"^(?:R(\d+))?(?:L(\d+))?$")
_SIGNAL = re.compile(r"^SIG(\d+)$")


def exit_run_name(leg_no: int | None, number: int = 1, cycle: str | None = None) -> str:
    base = ScheduleKind.EXIT.value if leg_no is None else f"{_LEG_EXIT}{leg_no}"
    if cycle:
        base = f"{base}.{cycle}"
    return base if number == 1 else f"{base}-{number}"


def is_entry(run_name: str) -> bool:
    return run_name == ENTRY_RUN


def is_armed_entry(run_name: str) -> bool:
    """A re-entry or a wait-and-trade leg (entered when its condition is met, not on schedule)."""
    return bool(_ARMED.match(run_name))


def refused_after(run_name: str) -> str:
    """The run whose existence refuses this entry: the scheduled entry never places anything once
    the day's first exit ran (whatever its reason); an armed entry, once the day has ended."""
    return ScheduleKind.EXIT.value if is_entry(run_name) else DAY_END_RUN


def leg_of(run_name: str) -> int | None:
    """The leg a leg-exit run closes (None: an entry or a whole exit)."""
    match = _LEG_OF.match(run_name)
    return int(match.group(1)) if match else None


def cycle_of(run_name: str) -> str | None:
    """The cycle an exit run closes (None: every cycle: an exit that ends the day, or one of the
    day's first entry named as before)."""
    base = run_name.split("-")[0]
    return base.split(".", 1)[1] if "." in base else None


def re_entry_run(number: int) -> str:
    return f"RE{number}"


def leg_re_entry_run(leg_no: int, cycle: str) -> str:
    return f"LEG{leg_no}.{cycle}"


def wait_run(leg_no: int) -> str:
    return f"WAIT{leg_no}"


def cycle_numbers(cycle: str) -> tuple[int, int]:
    """(strategy re-entry k, leg re-entry j) of a position's cycle; ("" -> (0, 0))."""
    match = _CYCLE.match(cycle)
    if match is None:
        raise ValueError(f"not a cycle: {cycle!r}")
    return int(match.group(1) or 0), int(match.group(2) or 0)


def cycle_name(strategy_cycle: int, leg_cycle: int = 0) -> str:
    return (f"R{strategy_cycle}" if strategy_cycle else "") + (f"L{leg_cycle}" if leg_cycle else "")


def signal_run(number: int) -> str:
    return f"SIG{number}"


def signal_number(run_name: str) -> int | None:
    """The signal's number of a signal run (None: not one)."""
    match = _SIGNAL.match(run_name)
    return int(match.group(1)) if match else None
