"""Instrument -> broker trading symbol, one module per broker (formats differ per broker)."""

from __future__ import annotations

from decimal import Decimal

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def strike_text(strike: Decimal) -> str:
    """24000 -> '24000', 52.50 -> '52.5' (no exponent, no trailing zeros)."""
    text = format(strike.normalize(), "f")
    return text
