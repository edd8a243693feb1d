"""The process's one Powertools Tracer: X-Ray where tracing is on (in Lambda, unless
POWERTOOLS_TRACE_DISABLED), and where it is off (tests, the local platform) a disabled Tracer on a
provider that records nothing, so the X-Ray SDK (its recorder builds a botocore session and client
at import, the largest part of a cold import) is not even imported.

Services and adapters decorate what is worth a subsegment with `tracer.capture_method`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


def tracing_on(environ: Mapping[str, str]) -> bool:
    """Where Powertools' Tracer records: in Lambda (`LAMBDA_TASK_ROOT`), not under SAM local or
    Chalice, and not switched off with `POWERTOOLS_TRACE_DISABLED` (Powertools' own rules)."""
    if resolve_truthy_env_var_choice(env=environ.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    local = environ.get(constants.SAM_LOCAL_ENV) or environ.get(constants.CHALICE_LOCAL_ENV)
    return bool(environ.get(constants.LAMBDA_TASK_ROOT_ENV)) and not local


class _UntracedSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: list[Any], remote: bool = False) -> None:
        pass


class _Untraced(BaseProvider):
    """The tracing provider where tracing is off: records nothing, like the X-Ray SDK's dummy
    segments, without building the X-Ray recorder (a botocore session and client, the largest
    part of a cold import) for a process that never sends a trace."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _UntracedSegment()

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[BaseSegment, None]:
        yield _UntracedSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def build_tracer(environ: Mapping[str, str] = os.environ) -> Tracer:
    """Powertools' Tracer, with the X-Ray SDK only where tracing is on. Off (tests, the local
    platform, POWERTOOLS_TRACE_DISABLED) Powertools would still import the SDK and build its
    recorder; the same disabled Tracer on a provider that records nothing skips that."""
    if tracing_on(environ):
        return Tracer()
    return Tracer(disabled=True, provider=_Untraced())


tracer = build_tracer()
