"""Option type shared by chains, Greeks and payoffs."""

from __future__ import annotations

from enum import StrEnum


class OptionType(StrEnum):
    CE = "CE"  # call
    PE = "PE"  # put
