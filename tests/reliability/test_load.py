"""Bounded load in process (bench/load.py): a session of ticks x strategies through the real
timer handlers, engine and paper brokers, then an API burst through the WSGI adapter. Only the
invariants are asserted (no handler error, no 5xx, one order per ledger key, every strategy
entered and exited once, counters and versions); the figures are the bench's business."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.load import run
from shared_utils.settings import load_settings


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """The bench sets up a local process (Powertools metrics off, fake credentials, its tables):
    the tests that run after it in this process must see the environment they had."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    load_settings.cache_clear()


def assert_invariants(figures, strategies: int, requests: int) -> None:
    assert figures.violations == [], figures.report()
    assert figures.handler_errors == []
    assert not [status for status in figures.statuses if status >= 500]
    assert figures.entries == figures.exits == strategies
    assert figures.orders == figures.ledger_entries == strategies * 4 * 2  # 4 legs, entry + exit
    assert figures.requests >= requests
    assert len(figures.invariants) > strategies * 4


# ~35 s: in `make test-all` (bench/load.py prints the same session's figures); the order-path
# invariants it checks are also checked, fault by fault, by the other reliability tests.
@pytest.mark.slow
def test_a_bounded_session_and_api_burst_keep_every_invariant() -> None:
    figures = run(ticks=16, strategies=10, requests=60)
    assert_invariants(figures, 10, 60)


@pytest.mark.slow
def test_thirty_ticks_by_a_hundred_strategies_and_a_hundred_requests() -> None:
    figures = run(ticks=30, strategies=100, requests=100)
    assert_invariants(figures, 100, 100)
