"""Human-readable lines on stdout for the CLI (structured logs go through Powertools Logger)."""

from __future__ import annotations

import sys


def say(message: str = "") -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
