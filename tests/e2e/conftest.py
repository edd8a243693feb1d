"""The local platform as a user starts it: `python -m local_platform run` in a subprocess on a
free loopback port, driven only over HTTP (and the `token` command)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PORT", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Platform:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: Path

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "local_platform", "--data-dir", str(self.data_dir), *args],
            cwd=REPO,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def token(self, user: str, admin: bool = False) -> str:
        done = self.cli("token", "--user", user, *(["--admin"] if admin else []))
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())


def start_platform(tmp: Path, *extra: str) -> Platform:
    port = free_port()
    data_dir = tmp / "local"
    output = tmp / "platform.log"
    handle = output.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_platform",
            "--data-dir",
            str(data_dir),
            "run",
            "--port",
            str(port),
            *extra,
        ],
        cwd=REPO,
        env=_clean_env(),
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    platform = Platform(f"http://127.0.0.1:{port}", data_dir, process, output)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"platform exited early:\n{output.read_text()}")
        if (data_dir / "state.json").exists():
            try:
                if platform.request("GET", "/openapi.json").status == 200:
                    return platform
            except OSError:
                pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"platform did not start in {STARTUP_TIMEOUT}s:\n{output.read_text()}")


def stop_platform(platform: Platform) -> int:
    if platform.process.poll() is None:
        platform.process.send_signal(signal.SIGINT)
        try:
            platform.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            platform.process.kill()
            platform.process.wait()
    return int(platform.process.returncode)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(tmp_path_factory.mktemp("platform"), "--no-timer")
    yield running
    stop_platform(running)


# The console pages' modules: each starts its own `session` platform; these sign alice in on it.
@pytest.fixture(scope="module")
def token(session: Platform) -> str:
    return session.token("alice")


@pytest.fixture(scope="module")
def signed_in(session: Platform, token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium page on the console, signed in as alice, and its `PageWatch`."""
    from tests.e2e.browser import signed_in_console

    with signed_in_console(
        session.base_url, token, "alice", tmp_path_factory.mktemp("chromium-profile")
    ) as signed:
        yield signed
