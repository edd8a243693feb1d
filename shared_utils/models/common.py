"""Value types shared by the basket, strategy and allocation models."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: object) -> object:
    """Accept only 'HH:MM' (24-hour) strings, or a `time` already on a whole minute."""
    if isinstance(value, time):
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError("time must be a whole minute without a time zone")
        return value
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError("time must be HH:MM (24-hour), e.g. 09:20")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def format_hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


# A clock time of day in IST, written "HH:MM".
ClockTime = Annotated[
    time,
    BeforeValidator(parse_hhmm),
    PlainSerializer(format_hhmm, return_type=str, when_used="json"),
]

# Rupee amounts are exact decimals (paise precision); JSON carries them as numbers.
Rupees = Annotated[
    Decimal,
    Field(gt=0, max_digits=14, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
Description = Annotated[str, Field(max_length=1000)]
EntityId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Broker = Annotated[
    str,
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
    Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9_]+$"),
]


class Product(StrEnum):
    MIS = "MIS"
    NRML = "NRML"


class StrategyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


class Visibility(StrEnum):
    PRIVATE = "PRIVATE"
    MARKETPLACE = "MARKETPLACE"


class StrikeMethod(StrEnum):
    """How a leg's strike is chosen on its expiry's option chain at entry (`StrikeSelection`,
    docs/strike-selection.md)."""

    ATM_OFFSET = "ATM_OFFSET"
    """`steps` strike steps from the at-the-money strike."""
    PREMIUM = "PREMIUM"
    """The strike whose premium is closest to `target_premium`, above or below it."""
    DELTA = "DELTA"
    """The strike whose absolute delta is closest to `target_delta`."""
    FIXED = "FIXED"
    """Exactly `strike`."""
    STRADDLE_WIDTH = "STRADDLE_WIDTH"
    """ATM + `straddle_multiple` x (ATM CE premium + ATM PE premium), rounded to the nearest
    strike on the index's grid (a tie to the one nearer ATM), which must be listed."""
    PREMIUM_AT_LEAST = "PREMIUM_AT_LEAST"
    """The strike whose premium is closest to `target_premium` among those at or above it."""
    PREMIUM_AT_MOST = "PREMIUM_AT_MOST"
    """The strike whose premium is closest to `target_premium` among those at or below it."""


class StopLossKind(StrEnum):
    PERCENT = "PERCENT"
    POINTS = "POINTS"


class AllocationScope(StrEnum):
    STRATEGY = "STRATEGY"
    BASKET = "BASKET"
