"""Canonical timer events as EventBridge delivers them, and `load_event()` to read them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def _read(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return loaded


def load_event(name: str, **detail_overrides: Any) -> dict[str, Any]:
    """A fresh copy of `tests/events/timer/{name}.json`, with `detail` fields overridden."""
    event = copy.deepcopy(_read(name))
    event["detail"].update(detail_overrides)
    return event
