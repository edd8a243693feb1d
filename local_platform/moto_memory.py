"""moto keeps every model object it ever creates (`BaseModel.instances_tracked`, for its server's
dashboard): every item copy a query or scan returns, every stream record, every shard iterator.
The embedded server has no dashboard to feed, and that list is what held 2.2 GB after a simulated
day of 100 strategies. `install()` stops the tracking (and drops what was tracked) in this
process; the models themselves behave as before."""

from __future__ import annotations

from typing import Any

from moto.core import common_models
from moto.core.model_instances import reset_model_data

_installed = False


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def install() -> None:
    global _installed
    if _installed:
        return
    common_models.BaseModel.__new__ = staticmethod(_untracked_new)  # type: ignore[method-assign]
    reset_model_data()
    _installed = True
