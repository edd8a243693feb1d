"""The data directory: the token secret (one per directory) and the running platform's state file,
which tells `token` (and anyone else) where the API and the DynamoDB endpoint are."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict

from local_platform.identity import new_secret

STATE_FILE = "state.json"
SECRET_FILE = "token-secret"


class PlatformState(BaseModel):
    model_config = ConfigDict(frozen=True)

    pid: int
    started_at: AwareDatetime
    api_url: str
    api_port: int
    docs_url: str
    openapi_url: str
    dynamodb_endpoint: str
    region: str
    token_secret: str
    clock: str
    data_dir: str


def token_secret(data_dir: Path) -> str:
    """The directory's signing secret, created (owner-only) on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            return secret
    secret = new_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret


def write_state(data_dir: Path, state: PlatformState) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(state.model_dump_json(indent=2) + "\n")
    temporary.replace(path)
    return path


def read_state(data_dir: Path) -> PlatformState | None:
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    return PlatformState.model_validate_json(path.read_text())


def clear_state(data_dir: Path, pid: int) -> None:
    """Remove the state file if it is still this process's (a newer run may own it)."""
    current = read_state(data_dir)
    if current is not None and current.pid == pid:
        (data_dir / STATE_FILE).unlink(missing_ok=True)
