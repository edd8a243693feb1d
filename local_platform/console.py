"""Human-readable lines on stdout for the CLI (structured logs go through Powertools Logger)."""

from __future__ import annotations

import sys


def say(message: str = "") -> None:
    # The process's own stdout: handler output may be redirected to a log file meanwhile.
    print(message, file=sys.__stdout__ or sys.stdout, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.__stderr__ or sys.stderr, flush=True)
