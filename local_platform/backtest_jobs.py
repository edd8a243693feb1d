"""Backtest jobs on this machine: the API's jobs run in a thread of the platform's process (the
deployed platform invokes its job function) and their files stay in the data directory (the
deployed one writes its results bucket). The local API serves the files to their owner only:
`GET /local/backtests/{backtest_id}/{result.json|report.html}` with the owner's bearer token
(the links the job's GET answers)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from aws_lambda_powertools import Logger

from shared_utils.backtest.job_models import CONTENT_TYPES, JobRef, RunOutcome
from shared_utils.composition import platform

logger = Logger(service="local-platform", child=False)

FILES_PATH = "/local/backtests"
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _run_installed(job: JobRef) -> RunOutcome:
    return platform().backtest_jobs.run(job)


class ThreadJobStarter:
    """Runs each job in a daemon thread, on the process's composition root (the same service the
    job function runs). A job still running when the platform stops stays RUNNING until its
    deadline, then reads FAILED, as a deployed job whose function died."""

    def __init__(self, run: Callable[[JobRef], RunOutcome] = _run_installed) -> None:
        self._run = run
        self.threads: list[threading.Thread] = []

    def start(self, job: JobRef) -> None:
        thread = threading.Thread(
            target=self._work, args=(job,), name=f"backtest-{job.backtest_id}", daemon=True
        )
        self.threads = [*(t for t in self.threads if t.is_alive()), thread]
        thread.start()

    def _work(self, job: JobRef) -> None:
        try:
            self._run(job)
        except Exception:
            # The job is FAILED already (the service records it before it lets the error go).
            logger.exception("Backtest job failed", extra={"backtest_id": job.backtest_id})


class FileResultStore:
    """`{root}/{user_id}/{backtest_id}/{name}`; links are the local API's path for the file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, user_id: str, backtest_id: str, name: str, body: bytes) -> None:
        path = self._path(user_id, backtest_id, name)
        if path is None:
            raise ValueError(f"not a backtest file: {user_id}/{backtest_id}/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def url(self, user_id: str, backtest_id: str, name: str) -> str:
        return f"{FILES_PATH}/{backtest_id}/{name}"

    def file(self, user_id: str, backtest_id: str, name: str) -> Path | None:
        """The owner's file for a GET, None when it is not one of theirs (or not written yet)."""
        path = self._path(user_id, backtest_id, name)
        return path if path is not None and path.is_file() else None

    def _path(self, user_id: str, backtest_id: str, name: str) -> Path | None:
        if name not in CONTENT_TYPES or not _ID.match(user_id) or not _ID.match(backtest_id):
            return None
        if user_id in {".", ".."} or backtest_id in {".", ".."}:
            return None
        return self.root / user_id / backtest_id / name


def file_request(path: str) -> tuple[str, str] | None:
    """(backtest_id, name) of a GET of `FILES_PATH/{backtest_id}/{name}`, else None."""
    if not path.startswith(FILES_PATH + "/"):
        return None
    parts = path[len(FILES_PATH) + 1 :].split("/")
    if len(parts) != 2:
        return None
    return parts[0], parts[1]
